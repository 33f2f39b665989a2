"""Loading the interchange XSDs and validating documents against them."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import structlog
import xmlschema
from lxml import etree

from bridge.errors import ValidationError
from bridge.interchange._paths import KINDS, NS
from bridge.paths import schemas_dir as default_schemas_dir

log = structlog.get_logger()

VERSION_DIR = Path("interchange") / "1"
PERSONAL_LEAVES = frozenset(
    {"idNumber", "mobile", "contactName", "handler", "approver", "name"}
)
_PREFIXED_STEP = re.compile(r"\{[^}]*\}|[A-Za-z_][\w.-]*:")


class Interchange:
    """The interchange schemas of version 1, ready to validate documents.

    lxml validates on the fast path; when a document fails, xmlschema reads it
    again to name the first bad node and what it expected there. One lock
    guards the schema objects, so an instance can be shared by threads.
    """

    def __init__(self, schemas_dir: Path | None = None) -> None:
        base = (schemas_dir or default_schemas_dir()) / VERSION_DIR
        self.directory = base
        self._lxml: dict[str, etree.XMLSchema] = {}
        self._detailed: dict[str, xmlschema.XMLSchema] = {}
        self._lock = threading.Lock()
        for kind in KINDS:
            self._lxml[kind] = etree.XMLSchema(etree.parse(str(base / f"{kind}.xsd")))

    def kind_of(self, element: etree._Element) -> str:
        """Which interchange document ``element`` is: case, stepEvent or result."""
        qname = etree.QName(element)
        if qname.namespace != NS or qname.localname not in KINDS:
            raise ValidationError(
                f"not an interchange document: found {element.tag}, expected one of "
                f"{', '.join(KINDS)} in {NS}",
                field="/",
            )
        return str(qname.localname)

    def validate(self, element: etree._Element, *, system: str, record: str) -> None:
        """Raise ValidationError naming the first bad node of an invalid ``element``."""
        try:
            kind = self.kind_of(element)
        except ValidationError as exc:
            exc.system, exc.record = system, record
            raise

        with self._lock:
            if self._lxml[kind].validate(element):
                return
            field, message = self._first_error(kind, element)

        log.debug("interchange.invalid", system=system, kind=kind, field=field)
        raise ValidationError(
            f"{kind} is not valid: {message}", system=system, record=record, field=field
        )

    def normalise(self, element: etree._Element) -> None:
        """Put the children of ``element`` in the order its schema declares."""
        kind = self.kind_of(element)
        with self._lock:
            declaration = self._xmlschema(kind).elements[kind]
            _reorder(element, declaration)

    def _xmlschema(self, kind: str) -> xmlschema.XMLSchema:
        if kind not in self._detailed:
            source = str(self.directory / f"{kind}.xsd")
            self._detailed[kind] = xmlschema.XMLSchema(source)
        return self._detailed[kind]

    def _first_error(self, kind: str, element: etree._Element) -> tuple[str, str]:
        detailed = self._xmlschema(kind)
        for error in detailed.iter_errors(element):
            return _node_path(error), _describe(error)

        last = self._lxml[kind].error_log.last_error
        return _plain_path(last.path or "/"), last.message


def _node_path(error: xmlschema.XMLSchemaValidationError) -> str:
    """The XPath of the bad node: for a content error, the child that broke it."""
    path = _plain_path(error.path or "/")
    parent, index = error.obj, getattr(error, "index", None)
    if not isinstance(parent, etree._Element) or not isinstance(index, int):
        return path
    if index >= len(parent):
        return path

    child = parent[index]
    same = [c for c in parent if c.tag == child.tag]
    step = etree.QName(child).localname
    if len(same) > 1:
        step += f"[{same.index(child) + 1}]"
    return f"{path}/{step}"


def _describe(error: xmlschema.XMLSchemaValidationError) -> str:
    reason = (error.reason or error.message).replace(f"{{{NS}}}", "")
    reason = reason.replace("'gb:", "'")
    found = error.obj
    index = getattr(error, "index", None)
    if isinstance(found, etree._Element) and isinstance(index, int):
        if index >= len(found):
            return f"{reason} (found the end of {etree.QName(found).localname})"
        return f"{reason} (found element {etree.QName(found[index]).localname})"
    if isinstance(found, etree._Element):
        return f"{reason} (found element {etree.QName(found).localname})"
    leaf = (error.path or "").rsplit("/", 1)[-1]
    if leaf in PERSONAL_LEAVES:
        return f"{reason} (found a personal value of {len(str(found))} characters)"
    return f"{reason} (found {found!r})"


def _plain_path(path: str) -> str:
    """An XPath with namespace prefixes or Clark braces removed."""
    return _PREFIXED_STEP.sub("", path)


def _reorder(element: etree._Element, declaration: xmlschema.XsdElement) -> None:
    content = getattr(declaration.type, "content", None)
    if content is None or not hasattr(content, "iter_elements"):
        return

    order = {
        child.name: (index, child)
        for index, child in enumerate(content.iter_elements())
    }
    children = list(element)
    children.sort(key=lambda child: order.get(child.tag, (len(order), None))[0])
    for child in children:
        element.append(child)
        found = order.get(child.tag)
        if found is not None:
            _reorder(child, found[1])
