"""Mutation test: every leaf of every message of a demo run, made invalid, is
refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import xmlschema
from lxml import etree

from bridge.errors import ValidationError
from bridge.interchange import Interchange
from bridge.interchange._rules import xpath_of

FREE_TEXT = {"nameText", "longText"}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Mutant:
    """One changed copy of a captured document and where it must be refused."""

    how: str
    document: etree._Element
    xpath: str | None


@pytest.fixture(scope="module")
def captured(demo_run) -> list[etree._Element]:  # type: ignore[no-untyped-def]
    """Every interchange document the demo's bridge stored: cases and payloads."""
    assert demo_run.returncode == 0, demo_run.stdout
    db = sqlite3.connect(demo_run.state_dir / "govbridge.sqlite")
    cases = [row[0] for row in db.execute("SELECT case_xml FROM cases")]
    payloads = [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT payload_xml FROM deliveries WHERE payload_xml IS NOT NULL"
        )
    ]
    db.close()
    return [etree.fromstring(text.encode("utf-8")) for text in cases + payloads]


@pytest.fixture(scope="module")
def interchange() -> Interchange:
    return Interchange()


def _declarations(
    schema: xmlschema.XMLSchema, root: etree._Element
) -> Iterator[tuple[etree._Element, xmlschema.XsdElement]]:
    """Each element of ``root`` with its XSD declaration, document order."""
    stack = [(root, schema.elements[etree.QName(root).localname])]
    while stack:
        element, declaration = stack.pop()
        yield element, declaration
        content = getattr(declaration.type, "content", None)
        children = {c.name: c for c in content.iter_elements()} if content else {}
        stack.extend(
            (child, children[child.tag])
            for child in reversed(element)
            if isinstance(child.tag, str)
        )


def _bad_value(element: etree._Element, declaration: xmlschema.XsdElement) -> str:
    """A value of the leaf's own shape that its type must refuse."""
    simple = declaration.type
    text = element.text or ""
    if getattr(simple, "enumeration", None):
        return "notACode"
    if simple.local_name in FREE_TEXT:
        return "\u3000\u3000"
    if any(char.isascii() and char.isdigit() for char in text):
        return text.translate(FULL_WIDTH)
    return text + "\u3000"


def _mutants(
    schema: xmlschema.XMLSchema, documents: list[etree._Element]
) -> Iterator[Mutant]:
    for document in documents:
        for element, declaration in _declarations(schema, document):
            parent = element.getparent()
            if len(element) == 0:
                copy = _copy_with(document, element, lambda e: None)
                changed = copy.xpath(_lxml_path(document, element))[0]
                changed.text = _bad_value(element, declaration)
                yield Mutant("value", copy, xpath_of(changed))
            if parent is not None and declaration.min_occurs >= 1:
                copy = _copy_with(document, element, lambda e: None)
                gone = copy.xpath(_lxml_path(document, element))[0]
                gone.getparent().remove(gone)
                yield Mutant("missing", copy, None)


def _copy_with(document, element, change):  # type: ignore[no-untyped-def]
    return etree.fromstring(etree.tostring(document))


def _lxml_path(document: etree._Element, element: etree._Element) -> str:
    return document.getroottree().getpath(element)


def test_every_mutant_of_captured_messages_is_rejected(
    captured: list[etree._Element], interchange: Interchange
) -> None:
    """Bad patterns, unknown codes and missing required elements are all refused."""
    schema = interchange._xmlschema()
    kinds = {etree.QName(doc).localname for doc in captured}

    mutants = list(_mutants(schema, captured))
    accepted, misplaced = [], []
    for mutant in mutants:
        try:
            interchange.validate(mutant.document, system="test", record="mutant")
        except ValidationError as exc:
            if mutant.xpath is not None and exc.field != mutant.xpath:
                misplaced.append((mutant.xpath, exc.field))
        else:
            accepted.append(etree.tostring(mutant.document, encoding="unicode"))

    assert {"case", "stepEvent", "result"} <= kinds
    assert len(mutants) > 500
    assert {m.how for m in mutants} == {"value", "missing"}
    assert accepted == []
    assert misplaced == []


def test_captured_messages_are_valid(
    captured: list[etree._Element], interchange: Interchange
) -> None:
    """The unmutated messages pass, so each rejection above is the mutation's doing."""
    problems = [interchange.problems(document) for document in captured]

    assert len(captured) >= 20
    assert problems == [[]] * len(captured)
