"""The path helpers find what lxml's own find and findall find."""

from __future__ import annotations

import threading

import pytest
from lxml import etree

from bridge.errors import ProtocolError, SecurityError
from bridge.xmlutil import find_all, find_first, parse_xml, text

NS = "urn:example"
SLASHED = "http://example.org/ns/1"
ITEMS = "".join(
    f'<a{i} k="{i % 3}"><b>{i}</b><b>x{i}</b><e:c>n{i}</e:c></a{i}>'
    for i in range(150)
)
DOC = etree.fromstring(
    f'<r xmlns:e="{NS}" xmlns:s="{SLASHED}">{ITEMS}<s:d><s:f>1</s:f></s:d>'
    f"<申请><名称>甲</名称><名称>乙</名称></申请></r>"
)
PATHS = [
    *(f"a{i}/b" for i in range(150)),
    *(f"a{i}[@k='1']/b" for i in range(0, 150, 7)),
    *(f"a{i}/{{{NS}}}c" for i in range(0, 150, 11)),
    "a7",
    f"{{{SLASHED}}}d/{{{SLASHED}}}f",
    "申请/名称",
    ".//b",
    "a3/b[2]",
    "missing/b",
]


def test_find_all_and_find_first_agree_with_lxml_past_its_cache() -> None:
    """More distinct paths than lxml's path cache holds, each read twice: the
    same elements as ``findall`` and ``find``, in the same order."""
    for _ in range(2):
        for path in PATHS:
            assert find_all(DOC, path) == DOC.findall(path), path
            assert find_first(DOC, path) is DOC.find(path), path


def test_text_strips_and_defaults() -> None:
    assert text(DOC, "a5/b") == "5"
    assert text(DOC, "missing", default="-") == "-"
    assert text(None, "a5/b") == ""


@pytest.mark.parametrize(
    "document",
    [
        '<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>',
        "<?xml version='1.0'?>\n<!doctype r><r/>",
        '<r><!-- a comment --></r><!ENTITY e "x">',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16"),
    ],
)
def test_a_dtd_or_entity_is_refused_in_any_form(document: str | bytes) -> None:
    """Declarations are refused whether found in the bytes or, for an encoding
    that hides them from a byte search, by the parsed document's own doctype."""
    with pytest.raises(SecurityError):
        parse_xml(document)


def test_a_thread_parses_again_after_a_malformed_document() -> None:
    """Each thread keeps one parser; a syntax error does not spoil it, and
    threads parsing at once each get their own documents back."""
    with pytest.raises(ProtocolError):
        parse_xml("<r><unclosed></r>")
    assert parse_xml("<?xml version='1.0' encoding='GBK'?><r>甲</r>").text == "甲"

    found: list[str] = []

    def parse_many(name: str) -> None:
        for index in range(200):
            found.append(parse_xml(f"<{name}>{index}</{name}>").tag)

    threads = [threading.Thread(target=parse_many, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(found)) == ["t0", "t1", "t2", "t3"]
    assert len(found) == 800
