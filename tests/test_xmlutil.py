"""The path helpers find what lxml's own find and findall find."""

from __future__ import annotations

from lxml import etree

from bridge.xmlutil import find_all, find_first, text

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
