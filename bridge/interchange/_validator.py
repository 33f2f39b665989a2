"""Loading the interchange XSDs and validating documents against them."""

from __future__ import annotations

import itertools
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from lxml import etree

from bridge.errors import ValidationError
from bridge.interchange._model import ContentModel, Declared, content_model
from bridge.interchange._paths import KINDS, NS
from bridge.interchange._rules import Problem, line_of, problems, xpath_of
from bridge.interchange.calendar import WorkCalendar
from bridge.paths import schemas_dir as default_schemas_dir

if TYPE_CHECKING:
    import xmlschema

log = structlog.get_logger()

VERSION_DIR = Path("interchange") / "1"
ROOT_SCHEMA = "envelope.xsd"
PERSONAL_LEAVES = frozenset(
    {"idNumber", "mobile", "contactName", "handler", "approver", "name"}
)
_PREFIXED_STEP = re.compile(r"\{[^}]*\}|[A-Za-z_][\w.-]*:")


class Interchange:
    """The interchange schemas of version 1, ready to validate documents.

    lxml validates on the fast path; when a document fails, xmlschema reads it
    again to name the first bad node and what it expected there. xmlschema is
    loaded on the first such failure: it holds about 20 MB that a bridge whose
    documents are valid has no use for. A document the XSDs accept then goes
    through the rules XSD cannot state (check characters, due dates, digests).
    One lock guards the schema objects, so an instance can be shared by
    threads.
    """

    def __init__(
        self, schemas_dir: Path | None = None, calendar: WorkCalendar | None = None
    ) -> None:
        base = (schemas_dir or default_schemas_dir()) / VERSION_DIR
        self.directory = base
        self._calendar = calendar
        self._lxml = etree.XMLSchema(etree.parse(str(base / ROOT_SCHEMA)))
        self._detailed: xmlschema.XMLSchema | None = None
        self._model: ContentModel | None = None
        self._lock = threading.Lock()

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar of the due-date rule, made on first use."""
        if self._calendar is None:
            self._calendar = WorkCalendar()
        return self._calendar

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
        self._validate(element, system=system, record=record, reorder=False)

    def settle(self, element: etree._Element, *, system: str, record: str) -> None:
        """``validate`` a document whose children may be out of the order its
        schema declares: when the XSDs refuse it as it stands, its children
        are put in that order first. A mapping whose fields follow the schema
        writes its documents in order, and the walk over every child costs
        more than the validation, so a document accepted as it is is not
        walked."""
        self._validate(element, system=system, record=record, reorder=True)

    def _validate(
        self, element: etree._Element, *, system: str, record: str, reorder: bool
    ) -> None:
        try:
            kind = self.kind_of(element)
        except ValidationError as exc:
            exc.system, exc.record = system, record
            raise

        with self._lock:
            valid = self._lxml.validate(element)
            if not valid and reorder:
                model = self._content_model()
                _reorder(element, model.element(kind), model)
                valid = self._lxml.validate(element)
            if not valid:
                field, message = self._first_error(element)
        if valid:
            broken = next(problems(element, self.calendar), None)
            if broken is None:
                return
            field, message = broken.path, broken.message

        log.debug("interchange.invalid", system=system, kind=kind, field=field)
        raise ValidationError(
            f"{kind} is not valid: {message}", system=system, record=record, field=field
        )

    def is_valid(self, element: etree._Element) -> bool:
        """True when the XSDs accept ``element`` (the fast path; no code rules)."""
        with self._lock:
            return bool(self._lxml.validate(element))

    def problems(self, element: etree._Element) -> list[Problem]:
        """Every XSD error of ``element``, or when there is none, every rule broken."""
        self.kind_of(element)
        with self._lock:
            if self._lxml.validate(element):
                valid = True
            else:
                valid = False
                found = [
                    Problem(_node_path(error), _line(error), _describe(error))
                    for error in self._xmlschema().iter_errors(element)
                ] or self._lxml_problems(element)
        if valid:
            return list(problems(element, self.calendar))
        return found

    def _xmlschema(self) -> xmlschema.XMLSchema:
        if self._detailed is None:
            import xmlschema

            self._detailed = xmlschema.XMLSchema(str(self.directory / ROOT_SCHEMA))
        return self._detailed

    def _content_model(self) -> ContentModel:
        if self._model is None:
            self._model = content_model(self.directory)
        return self._model

    def _first_error(self, element: etree._Element) -> tuple[str, str]:
        for error in self._xmlschema().iter_errors(element):
            return _node_path(error), _describe(error)

        first = self._lxml_problems(element)[0]
        return first.path, first.message

    def _lxml_problems(self, element: etree._Element) -> list[Problem]:
        """lxml's own errors, for what xmlschema lets through.

        xmlschema reads full-width digits in an integer as a number and then
        checks the pattern against the number; libxml2 checks the characters.
        """
        found = []
        entries: Any = self._lxml.error_log
        for entry in entries:
            node = _lxml_node(element, entry.path)
            path = xpath_of(node) if node is not None else _plain_path(entry.path)
            message = entry.message.replace(f"{{{NS}}}", "")
            if node is not None and path.rsplit("/", 1)[-1] in PERSONAL_LEAVES:
                size = len(node.text or "")
                message = (
                    "value breaks its type "
                    f"(found a personal value of {size} characters)"
                )
            found.append(Problem(path, entry.line, message))
        return found


def _lxml_node(element: etree._Element, path: str | None) -> etree._Element | None:
    """The node an lxml error path (like /*/*[9]/*[1]) points at, if any."""
    nodes = element.getroottree().xpath(path) if path else []
    if isinstance(nodes, list) and nodes and isinstance(nodes[0], etree._Element):
        return nodes[0]
    return None


def _line(error: xmlschema.XMLSchemaValidationError) -> int | None:
    """The source line of the bad node: the child that broke a content model."""
    parent, index = error.obj, getattr(error, "index", None)
    if isinstance(parent, etree._Element) and isinstance(index, int):
        if index < len(parent):
            return line_of(parent[index])
        return line_of(parent)
    line = error.sourceline
    return line if isinstance(line, int) else None


def _node_path(error: xmlschema.XMLSchemaValidationError) -> str:
    """The XPath of the bad node: for a content error, the child that broke it."""
    elem = getattr(error, "elem", None)
    if isinstance(elem, etree._Element):
        path = xpath_of(elem)
    else:
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


def _reorder(
    element: etree._Element, declared: Declared, model: ContentModel
) -> None:
    order = model.order(declared)
    if not order:
        return
    last = len(order)
    children = list(element)
    ranks = [order.get(child.tag, (last, None))[0] for child in children]
    if any(later < earlier for earlier, later in itertools.pairwise(ranks)):
        ranked = sorted(zip(ranks, range(len(children))))  # stable: ties by place
        for _rank, index in ranked:
            element.append(children[index])
    for child in children:
        # a leaf has nothing to put in order
        found = order.get(child.tag) if len(child) else None
        if found is not None:
            _reorder(child, found[1], model)
