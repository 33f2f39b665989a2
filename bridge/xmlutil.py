"""Safe XML parsing and small lxml helpers shared by adapters and simulators."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from bridge.errors import ProtocolError, SecurityError

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

#: each thread's parser: an lxml parser serves one thread at a time
_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_blank_text=True,
        )
    return parser


def parse_xml(data: bytes | str, *, system: str | None = None) -> etree._Element:
    """Parse a document, refusing DTDs and entity declarations outright.

    A text document's own encoding declaration is dropped: the text is parsed
    as the UTF-8 it is encoded to.
    """
    if isinstance(data, str):
        data = _DECLARATION.sub("", data, count=1)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if b"<!" in raw and _DOCTYPE.search(raw):
        raise SecurityError("document declares a DTD or entities", system=system)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"malformed XML: {exc}", system=system) from exc
    if root.getroottree().docinfo.doctype:
        raise SecurityError("document declares a DTD or entities", system=system)
    return root


try:  # lxml's ElementPath compiler, behind findall(); absent, findall() is used
    from lxml._elementpath import _build_path_iterator
except ImportError:  # pragma: no cover - every lxml release so far has it
    _build_path_iterator = None

#: compiled ElementPath selectors by path. lxml keeps its own cache of them but
#: empties it whenever it holds more than 100 paths, and the mappings alone
#: read more than that, so every path was compiled again and again
_SELECTORS: dict[str, list[Callable[[Iterator[Any]], Iterator[Any]]]] = {}
#: paths kept at most (the mapping files' paths are a few hundred)
_MAX_SELECTORS = 4096


def _select(element: etree._Element, path: str) -> Iterator[Any] | None:
    """The elements at ``path`` below ``element`` through a selector compiled
    once; None when no selector can be kept (the caller asks lxml itself)."""
    selector = _SELECTORS.get(path)
    if selector is None:
        if _build_path_iterator is None or len(_SELECTORS) >= _MAX_SELECTORS:
            return None
        selector = _SELECTORS[path] = _build_path_iterator(path, None)
    found: Iterator[Any] = iter((element,))
    for select in selector:
        found = select(found)
    return found


#: one step of a plain child path: an element name, in Clark notation or none
_STEP = r"(?:\{[^{}]*\})?[^/{}\[\]()*@:.\s]+"
_CHILD_PATH = re.compile(rf"{_STEP}(?:/{_STEP})*")
_CHILD_STEP = re.compile(_STEP)


@functools.lru_cache(maxsize=4096)
def _child_steps(path: str) -> tuple[str, ...] | None:
    """The names of a path made of child steps only (``a/b``, ``{ns}a``);
    None for any other path (attributes, predicates, wildcards, ``.``)."""
    if not _CHILD_PATH.fullmatch(path):
        return None
    return tuple(_CHILD_STEP.findall(path))


def find_all(element: etree._Element, path: str) -> list[etree._Element]:
    """``element.findall(path)`` (ElementPath, no namespace map): a path of
    child steps walks the children directly, any other is compiled once."""
    steps = _child_steps(path)
    if steps is not None:
        found = list(element.iterchildren(steps[0]))
        for name in steps[1:]:
            found = [child for parent in found for child in parent.iterchildren(name)]
        return found
    selected = _select(element, path)
    return element.findall(path) if selected is None else list(selected)


def find_first(element: etree._Element, path: str) -> etree._Element | None:
    """``element.find(path)``, the same way as ``find_all``."""
    steps = _child_steps(path)
    if steps is not None and len(steps) == 1:
        return next(element.iterchildren(steps[0]), None)
    selected = _select(element, path)
    return element.find(path) if selected is None else next(selected, None)


def text(element: etree._Element | None, path: str, default: str = "") -> str:
    """The stripped text at ``path`` below ``element``, or ``default``."""
    if element is None:
        return default
    found = find_first(element, path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def local(tag: str) -> str:
    """The local part of a Clark-notation tag."""
    return tag.rsplit("}", 1)[-1]


def sub(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
    """Append a child ``tag`` with ``value`` as its text."""
    child = etree.SubElement(parent, tag)
    if value is not None:
        child.text = value
    return child


def to_text(element: etree._Element, declaration: bool = False) -> str:
    """Serialise ``element`` as a str, with an XML declaration if asked."""
    body = etree.tostring(element, encoding="unicode")
    if declaration:
        return '<?xml version="1.0" encoding="UTF-8"?>' + body
    return body
