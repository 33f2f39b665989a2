"""Namespace and path helpers for interchange documents."""

from __future__ import annotations

import functools

from lxml import etree

from bridge.xmlutil import find_all, find_first

NS = "urn:govbridge:interchange:1"
KINDS = (
    "case",
    "stepEvent",
    "result",
    "suspension",
    "resumption",
    "withdrawal",
    "attachment",
    "message",
    "receipt",
)
SCHEMA_VERSION = "1.1"


def qname(local_name: str) -> str:
    """The Clark-notation tag of an interchange element."""
    return f"{{{NS}}}{local_name}"


@functools.lru_cache(maxsize=2048)
def ns_path(path: str) -> str:
    """An ElementPath with every step put in the interchange namespace."""
    steps = [step for step in path.strip("/").split("/") if step]
    return "/".join(step if step in (".", "..") else qname(step) for step in steps)


def get(element: etree._Element, path: str) -> str:
    """The stripped text at ``path`` (like "matter/code") below ``element``.

    The namespace is implied; a missing element or an empty one gives "".
    """
    found = find_first(element, ns_path(path))
    if found is None or found.text is None:
        return ""
    return str(found.text).strip()


def get_all(element: etree._Element, path: str) -> list[str]:
    """The stripped texts of every element at ``path`` below ``element``."""
    return [(found.text or "").strip() for found in find_all(element, ns_path(path))]


def set_case_number(case_el: etree._Element, number: str) -> None:
    """Insert or replace ``caseNumber``, which the schema puts first in a case."""
    existing = case_el.find(qname("caseNumber"))
    if existing is not None:
        existing.text = number
        return

    child = etree.Element(qname("caseNumber"))
    child.text = number
    case_el.insert(0, child)
