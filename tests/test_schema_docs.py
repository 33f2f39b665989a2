"""Tests of ``govbridge schema docs``: the HTML reference against the XSDs
themselves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree, html

from bridge.paths import schemas_dir

XSD_DIR = schemas_dir() / "interchange" / "1"
XS = "{http://www.w3.org/2001/XMLSchema}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _docs(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "schema", "docs", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> html.HtmlElement:
    out = tmp_path_factory.mktemp("docs")
    finished = _docs(out)
    assert finished.returncode == 0, finished.stderr
    return html.parse(str(out / "index.html")).getroot()


def _zh(node: etree._Element) -> str:
    for doc in node.iterfind(f"{XS}annotation/{XS}documentation"):
        if doc.get(LANG) == "zh":
            return " ".join((doc.text or "").split())
    return ""


def _declarations() -> list[tuple[str, str, str, str, str]]:
    """(owner, name, type, cardinality, zh) of every element, read from the XSDs."""
    trees = [etree.parse(str(p)) for p in sorted(XSD_DIR.glob("*.xsd"))]
    roots = {
        n.get("name"): n for t in trees for n in t.getroot().iterfind(f"{XS}element")
    }
    found = [
        ("(document)", n.get("name"), n.get("type").removeprefix("gb:"), "1..1", _zh(n))
        for n in roots.values()
    ]
    for tree in trees:
        for owner in tree.getroot().iterfind(f"{XS}complexType"):
            for node in owner.iter(f"{XS}element"):
                target = (
                    roots[node.get("ref").split(":")[-1]] if node.get("ref") else node
                )
                low, high = node.get("minOccurs", "1"), node.get("maxOccurs", "1")
                found.append(
                    (
                        owner.get("name"),
                        target.get("name"),
                        target.get("type").removeprefix("gb:"),
                        f"{low}..{high.replace('unbounded', '*')}",
                        _zh(target),
                    )
                )
    return found


def _codes() -> list[tuple[str, str, str]]:
    """(type, value, zh label) of every enumeration value in the XSDs."""
    return [
        (simple.get("name"), value.get("value"), _zh(value))
        for path in sorted(XSD_DIR.glob("*.xsd"))
        for simple in etree.parse(str(path)).getroot().iterfind(f"{XS}simpleType")
        for value in simple.iter(f"{XS}enumeration")
    ]


def _cell(row: html.HtmlElement, name: str) -> str:
    return row.find_class(name)[0].text_content().strip()


def test_one_entry_per_element_with_type_cardinality_and_chinese_name(
    page: html.HtmlElement,
) -> None:
    """Every element declaration has one row with its type, cardinality and zh name."""
    expected = _declarations()
    rows = page.find_class("element")

    shown = [
        (
            row.get("data-owner"),
            _cell(row, "name"),
            _cell(row, "type"),
            _cell(row, "cardinality").split(" ")[0],
            _cell(row, "zh"),
        )
        for row in rows
    ]

    assert len(expected) > 120
    assert sorted(shown) == sorted(expected)
    assert all(zh for *_, zh in shown)


def test_one_row_per_code_value_with_its_label(page: html.HtmlElement) -> None:
    """Every enumeration value of every code table has one row with its zh label."""
    expected = _codes()

    shown = [
        (table.get("data-type"), _cell(row, "value"), _cell(row, "zh"))
        for table in page.find_class("codes")
        for row in table.find_class("code")
    ]

    assert len(expected) > 40
    assert sorted(shown) == sorted(expected)
    assert ("channelCode", "online", "网上") in shown


def test_type_links_resolve(page: html.HtmlElement) -> None:
    """Every named type an element refers to has its own section on the page."""
    targets = {
        a.get("href")[1:] for a in page.iter("a") if a.get("href", "")[:1] == "#"
    }
    sections = {s.get("id") for s in page.iter("section")}

    assert len(targets) > 40
    assert targets <= sections


def test_docs_file_is_written_where_asked(tmp_path: Path) -> None:
    """The command writes index.html into the --out folder and prints its path."""
    out = tmp_path / "ref"

    finished = _docs(out)

    assert finished.returncode == 0
    assert finished.stdout.strip() == str(out / "index.html")
    assert "<h1>" in (out / "index.html").read_text("utf-8")
