"""Every XSD of the standard, the 1.1 ones included, follows the conventions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from bridge.interchange import KINDS, NS
from bridge.paths import schemas_dir
from tests.test_interchange import JAVA_CSHARP_RESERVED

XSD_DIR = schemas_dir() / "interchange" / "1"
XSDS = sorted(XSD_DIR.glob("*.xsd"))
XS = "{http://www.w3.org/2001/XMLSchema}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DECLARATIONS = (f"{XS}element", f"{XS}simpleType", f"{XS}complexType")


def _langs(node: etree._Element) -> list[str | None]:
    return sorted(
        (d.get(LANG) for d in node.iterfind(f"{XS}annotation/{XS}documentation")),
        key=str,
    )


@pytest.mark.parametrize("path", XSDS, ids=[p.stem for p in XSDS])
def test_names_docs_patterns_and_times(path: Path) -> None:
    """Names avoid keywords, all is glossed in zh and en, digits are [0-9],
    times zoned."""
    tree = etree.parse(str(path))
    named = [n for n in tree.iter(*DECLARATIONS) if n.get("name")]

    names = {n.get("name") for n in named}
    unglossed = [
        n.get("name") or n.get("value")
        for n in [*named, *tree.iter(f"{XS}enumeration")]
        if _langs(n) != ["en", "zh"]
    ]
    patterns = [p.get("value", "") for p in tree.iter(f"{XS}pattern")]
    plain_times = [
        n.get("name")
        for n in tree.iter(f"{XS}element")
        if n.get("type") in ("xs:dateTime", "xs:time")
    ]

    assert tree.getroot().get("targetNamespace") == NS
    assert tree.getroot().get("version") == "1.1"
    assert names & JAVA_CSHARP_RESERVED <= {"case"}
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", str(n)) for n in names)
    assert unglossed == []
    assert [p for p in patterns if "\\d" in p] == []
    assert plain_times == []


def test_wsdl_has_one_operation_per_message_type() -> None:
    """The exchange WSDL offers one operation per document root, each answered."""
    wsdl = etree.parse(str(XSD_DIR / "exchange.wsdl"))
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/"}

    parts = {
        p.get("element").split(":")[1]
        for p in wsdl.xpath("//w:message/w:part", namespaces=ns)
    }
    operations = wsdl.xpath("//w:portType/w:operation/@name", namespaces=ns)

    assert parts == set(KINDS)
    assert len(operations) == len(parts) - 1
    assert all(str(op).startswith("submit") for op in operations)
