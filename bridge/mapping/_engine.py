"""The mapping engine: native records to interchange documents and back."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from lxml import etree

from bridge.errors import ConfigError, MappingError
from bridge.interchange import NS, Interchange, ns_path, qname
from bridge.mapping._mask import mask
from bridge.mapping._spec import (
    Condition,
    FieldSpec,
    InboundSpec,
    ListSpec,
    OutboundSpec,
    SystemMapping,
    read_mapping_file,
)
from bridge.mapping.converters import from_zoned, halfwidth, join, split, to_zoned
from bridge.paths import mappings_dir as default_mappings_dir
from bridge.xmlutil import find_all

log = structlog.get_logger()

Reader = Callable[[str], list[str]]


@dataclass
class NativeMessage:
    """What a target system is sent: a native XML document and call parameters."""

    root: etree._Element | None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class _Run:
    """Where a conversion is, for error messages."""

    mapping: SystemMapping
    kind: str
    record: str
    inbound: bool


def load_bureau(
    bureau: str, mappings_dir: Path | None = None, schemas_dir: Path | None = None
) -> BureauMapping:
    """Read every ``*.yaml`` mapping file of ``bureau`` (one per system)."""
    folder = (mappings_dir or default_mappings_dir()) / bureau
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{folder}: no mapping files for bureau {bureau!r}")

    systems: dict[str, SystemMapping] = {}
    for path in files:
        mapping = read_mapping_file(path)
        if mapping.bureau != bureau:
            raise ConfigError(
                f"{path}:1: bureau is {mapping.bureau!r}, expected {bureau!r}"
            )
        if mapping.system in systems:
            raise ConfigError(f"{path}:1: system {mapping.system!r} is mapped twice")
        systems[mapping.system] = mapping

    _refuse_failed_check(bureau, folder, systems, schemas_dir)
    log.info("mapping.loaded", bureau=bureau, systems=",".join(sorted(systems)))
    return BureauMapping(bureau, systems, Interchange(schemas_dir))


def _refuse_failed_check(
    bureau: str,
    folder: Path,
    systems: dict[str, SystemMapping],
    schemas_dir: Path | None,
) -> None:
    from bridge.mapping._check import check_systems

    errors = check_systems(bureau, folder, systems, schemas_dir).errors
    if errors:
        lines = "\n".join(str(finding) for finding in errors)
        raise ConfigError(f"mapping of bureau {bureau!r} fails the check:\n{lines}")


class BureauMapping:
    """One bureau's mappings for every system it connects."""

    def __init__(
        self, bureau: str, systems: dict[str, SystemMapping], interchange: Interchange
    ) -> None:
        self.bureau = bureau
        self.systems = systems
        self.interchange = interchange

    def inbound(
        self, system: str, kind: str, native: etree._Element
    ) -> dict[str, list[etree._Element]]:
        """The interchange documents a native record yields, validated.

        A record that the mapping's ``skip`` condition matches (a withdrawn
        filing, for now) yields an empty dict.
        """
        mapping = self._system(system)
        spec = mapping.inbound.get(kind)
        if spec is None:
            raise MappingError(
                f"{mapping.path}: no inbound kind {kind!r}", system=system
            )

        native = _without_namespaces(native)
        shared = _RecordReads(native)
        read = _native_reader(native, shared)
        keys = read(spec.record) if spec.record else []
        run = _Run(mapping, kind, next((k for k in keys if k), ""), inbound=True)
        if spec.skip is not None and _holds(spec.skip, read):
            log.info("mapping.skipped", system=system, kind=kind, record=run.record)
            return {}
        return self._documents(run, spec, native, shared)

    def outbound(
        self, system: str, kind: str, docs: dict[str, etree._Element]
    ) -> NativeMessage:
        """The native message that carries ``docs`` to ``system``."""
        mapping = self._system(system)
        spec = mapping.outbound.get(kind)
        if spec is None:
            raise MappingError(
                f"{mapping.path}: no outbound kind {kind!r}", system=system
            )

        read = _interchange_reader(docs, None)
        record = next(
            (value for path in spec.record for value in read(path) if value), ""
        )
        run = _Run(mapping, kind, record, inbound=False)
        return _native_message(run, spec, docs)

    def personal_fields(self, system: str) -> dict[str, str]:
        """Every path classified as personal in ``system``'s file, with its kind."""
        found: dict[str, str] = {}
        mapping = self._system(system)
        for spec in _all_fields(mapping):
            if spec.personal:
                found[spec.target] = spec.personal
                found.update({source: spec.personal for source in spec.sources})
        return found

    def _system(self, system: str) -> SystemMapping:
        if system not in self.systems:
            raise MappingError(
                f"bureau {self.bureau!r} has no mapping for system {system!r}",
                system=system,
            )
        return self.systems[system]

    def _documents(
        self,
        run: _Run,
        spec: InboundSpec,
        native: etree._Element,
        shared: _RecordReads,
    ) -> dict[str, list[etree._Element]]:
        produced: dict[str, list[etree._Element]] = {}
        at_root = _native_reader(native, shared)
        for doc_spec in spec.documents:
            each = doc_spec.each
            contexts = find_all(native, each.lstrip("/")) if each else [native]
            wanted = doc_spec.when is None or _holds(doc_spec.when, at_root)
            documents = []
            for context in contexts if wanted else []:
                document = etree.Element(qname(doc_spec.name), nsmap={None: NS})
                read = _native_reader(context, shared)
                _fill(run, document, doc_spec.fields, read, interchange_target=True)
                _fill_lists(run, document, doc_spec.lists, context, shared)
                self.interchange.settle(
                    document, system=run.mapping.system, record=run.record
                )
                documents.append(document)
            produced[doc_spec.name] = documents
        return produced


def _native_message(
    run: _Run, spec: OutboundSpec, docs: dict[str, etree._Element]
) -> NativeMessage:
    read = _interchange_reader(docs, None)
    root = etree.Element(spec.root) if spec.root else None
    if root is not None:
        _fill(run, root, spec.fields, read, interchange_target=False)
        for list_spec in spec.lists:
            for item in _interchange_items(docs, list_spec.over):
                element = _ensure(
                    root, list_spec.target, interchange=False, new_last=True
                )
                item_read = _interchange_reader(docs, item)
                _fill(
                    run, element, list_spec.fields, item_read, interchange_target=False
                )

    params = {}
    for param in spec.params:
        values = _convert(run, param, read)
        if values:
            params[param.target] = values[0]
    return NativeMessage(root, params)


def _fill(
    run: _Run,
    element: etree._Element,
    fields: list[FieldSpec],
    read: Reader,
    *,
    interchange_target: bool,
) -> None:
    made = _Written(element)
    for spec in fields:
        if spec.constant is not None:
            values = [spec.constant]
        elif spec.join is None and not spec.split:
            values = _convert_first(run, spec, read)
            if not values:
                continue
        else:
            values = _convert(run, spec, read)
            if not values:
                continue
        _write(element, spec.target, values, interchange=interchange_target, made=made)


def _fill_lists(
    run: _Run,
    document: etree._Element,
    lists: list[ListSpec],
    context: etree._Element,
    shared: _RecordReads,
) -> None:
    for list_spec in lists:
        base = shared.root if list_spec.over.startswith("/") else context
        for item in find_all(base, list_spec.over.lstrip("/")):
            element = _ensure(
                document, list_spec.target, interchange=True, new_last=True
            )
            _fill(
                run,
                element,
                list_spec.fields,
                _native_reader(item, shared),
                interchange_target=True,
            )


def _convert(run: _Run, spec: FieldSpec, read: Reader) -> list[str]:
    """The target values of one field: read, clean, pick, convert, default."""
    if spec.constant is not None:
        return [spec.constant]
    if spec.join is None and not spec.split:
        return _convert_first(run, spec, read)

    raw = [value for source in spec.sources for value in read(source)]
    cleaned = [_clean(run, spec, value) for value in raw]
    if spec.join is not None:
        picked = [join(cleaned, spec.join, spec.join_trailing)]
    else:
        picked = [value for value in cleaned if value][:1]
    parts = [
        p
        for value in picked
        for p in (split(value, spec.split) if spec.split else [value])
    ]

    converted = [_code_and_date(run, spec, value) for value in parts if value]
    if not converted and spec.default:
        converted = [spec.default]
    if not converted and spec.required:
        raise _error(run, spec, "required value is missing")
    return converted


def _convert_first(run: _Run, spec: FieldSpec, read: Reader) -> list[str]:
    """``_convert`` of a field that neither joins nor splits: the first value
    that is not empty once cleaned, converted (most fields are so). The loop
    is ``_clean`` written out: it runs for nearly every field of every record."""
    empties = run.mapping.empties if run.inbound else ()
    for source in spec.sources:
        for value in read(source):
            if spec.halfwidth:
                value = halfwidth(value)
            if spec.trim:
                value = value.strip()
            if value and (not empties or value.strip() not in empties):
                if spec.code is None and not spec.dates:
                    return [value]
                return [_code_and_date(run, spec, value)]
    if spec.default:
        return [spec.default]
    if spec.required:
        raise _error(run, spec, "required value is missing")
    return []


def _clean(run: _Run, spec: FieldSpec, value: str) -> str:
    if spec.halfwidth:
        value = halfwidth(value)
    value = value.strip() if spec.trim else value
    return "" if run.inbound and value.strip() in run.mapping.empties else value


def _code_and_date(run: _Run, spec: FieldSpec, value: str) -> str:
    if spec.code is not None:
        table = run.mapping.codes[spec.code]
        try:
            value = (
                table.to_interchange(value) if run.inbound else table.to_native(value)
            )
        except KeyError:
            raise _error(
                run, spec, f"code {_shown(spec, value)} is not in table {spec.code!r}"
            ) from None

    if spec.dates:
        zone = run.mapping.zone
        try:
            if run.inbound:
                value = to_zoned(value, spec.dates, zone)
            else:
                value = from_zoned(value, spec.dates[0], zone)
        except ValueError:
            expected = (
                ", ".join(spec.dates) if run.inbound else "xs:dateTime with an offset"
            )
            raise _error(
                run, spec, f"time {_shown(spec, value)} is not {expected}"
            ) from None
    return value


def _shown(spec: FieldSpec, value: str) -> str:
    return repr(mask(value, spec.personal) if spec.personal else value)


def _error(run: _Run, spec: FieldSpec, problem: str) -> MappingError:
    source = spec.sources[0] if spec.sources else spec.target
    return MappingError(
        f"{run.kind}: {problem} for {spec.target!r} (mapping {spec.where})",
        system=run.mapping.system,
        record=run.record,
        field=source,
    )


def _holds(condition: Condition, read: Reader) -> bool:
    return any(value.strip() in condition.values for value in read(condition.path))


#: one element name, a path step that needs no ElementPath
_NAME = re.compile(r"[A-Za-z_][\w.-]*")


@functools.lru_cache(maxsize=4096)
def _native_path(path: str) -> tuple[bool, str, str | None, str | None]:
    """A native source path taken apart once: from the root?, the elements'
    path, the attribute read (if any), and the child's name when the path is
    nothing but one child's text (most relative paths are)."""
    elements_path, attribute = _split_attribute(path.lstrip("/"))
    plain = attribute is None and _NAME.fullmatch(elements_path) is not None
    child = elements_path if plain else None
    return path.startswith("/"), elements_path, attribute, child


#: a path that picks elements by one attribute's value, like the OA form's
#: ``formExport/values/column[@name='事项编码']/value``
_KEYED_PATH = re.compile(
    r"(?P<base>[^\[\]@]+)\[@(?P<attribute>[\w.-]+)='(?P<value>[^']*)'\]"
    r"(?:/(?P<rest>[^\[\]@]+))?"
)


@functools.lru_cache(maxsize=4096)
def _keyed_path(elements_path: str) -> tuple[str, str, str, str] | None:
    """(base, attribute, value, rest) of a keyed path; None for any other."""
    match = _KEYED_PATH.fullmatch(elements_path)
    if match is None:
        return None
    return match["base"], match["attribute"], match["value"], match["rest"] or ""


#: elements below a record's root grouped by an attribute's value, by the
#: (path, attribute) they were grouped over
_Groups = dict[tuple[str, str], dict[str | None, list[etree._Element]]]


class _RecordReads:
    """What the readers of one native record share: the values read below its
    root, and its elements grouped by an attribute's value, each worked out
    once. A form of many columns is then scanned once, not once per column
    that a mapping reads."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.values: dict[tuple[str, str | None], list[str]] = {}
        self.groups: _Groups = {}

    def read(self, elements_path: str, attribute: str | None) -> list[str]:
        """The values at a path below the root (kept; callers do not change
        them)."""
        key = (elements_path, attribute)
        values = self.values.get(key)
        if values is None:
            values = _values(self._elements(elements_path), attribute)
            self.values[key] = values
        return values

    def _elements(self, elements_path: str) -> list[etree._Element]:
        keyed = _keyed_path(elements_path)
        if keyed is None:
            return find_all(self.root, elements_path) if elements_path else [self.root]
        base, attribute, value, rest = keyed
        groups = self.groups.get((base, attribute))
        if groups is None:
            groups = self.groups[(base, attribute)] = {}
            for element in find_all(self.root, base):
                groups.setdefault(element.get(attribute), []).append(element)
        found = groups.get(value, [])
        if rest:
            found = [child for element in found for child in find_all(element, rest)]
        return found


def _values(elements: list[etree._Element], attribute: str | None) -> list[str]:
    if attribute:
        return [element.get(attribute, "") for element in elements]
    return [element.text or "" for element in elements]


def _native_reader(context: etree._Element, shared: _RecordReads) -> Reader:
    """Reads paths below ``context`` (or, starting with ``/``, below the
    record's root, through ``shared``)."""

    def read(path: str) -> list[str]:
        from_root, elements_path, attribute, child = _native_path(path)
        if from_root or context is shared.root:
            return shared.read(elements_path, attribute)
        if child is not None:
            return [found.text or "" for found in context.iterchildren(child)]
        elements = find_all(context, elements_path) if elements_path else [context]
        return _values(elements, attribute)

    return read


def _interchange_reader(
    docs: dict[str, etree._Element], item: etree._Element | None
) -> Reader:
    def read(path: str) -> list[str]:
        if item is not None and not path.startswith("/"):
            return [(found.text or "") for found in find_all(item, ns_path(path))]
        return [(found.text or "") for found in _interchange_items(docs, path)]

    return read


def _interchange_items(
    docs: dict[str, etree._Element], path: str
) -> list[etree._Element]:
    name, _, rest = path.lstrip("/").partition("/")
    document = docs.get(name)
    if document is None:
        return []
    return find_all(document, ns_path(rest)) if rest else [document]


def _split_attribute(path: str) -> tuple[str, str | None]:
    head, _, last = path.rpartition("/")
    if last.startswith("@"):
        return head, last[1:]
    return path, None


class _Written:
    """What one fill has written below its element: the element at each path
    resolved (so sibling paths, like many columns of one form, do not search
    the same children again), and whether those are all the elements below it.

    A fill starts complete on an element without children. It stays complete
    while it writes plain paths one value each, whose every step it records;
    then a path not recorded has no element yet, and none is searched for.
    """

    __slots__ = ("at", "complete")

    def __init__(self, element: etree._Element) -> None:
        self.at: dict[str, etree._Element] = {}
        self.complete = len(element) == 0


def _write(
    element: etree._Element,
    path: str,
    values: list[str],
    *,
    interchange: bool,
    made: _Written | None = None,
) -> None:
    """Write ``values`` at ``path`` below ``element``: one value in the element
    there (found or made), several in as many new last elements. Without
    ``made`` every step is searched."""
    elements_path, attribute, child = _target_plan(path, interchange)
    if child is not None and len(values) == 1 and made is not None:
        # ``_ensure`` of a path of one plain step, written out: most targets
        found = made.at.get(path)
        if found is None:
            if not made.complete:
                found = next(element.iterchildren(child), None)
            if found is None:
                found = etree.SubElement(element, child)
            made.at[path] = found
        found.text = values[0]
        return

    if attribute:
        target = (
            _ensure(element, elements_path, interchange=interchange, made=made)
            if elements_path
            else element
        )
        target.set(attribute, values[0])
        if made is not None:
            # a predicate may no longer match what it found
            made.at.clear()
            made.complete = False
        return

    if len(values) == 1:
        _ensure(element, path, interchange=interchange, made=made).text = values[0]
    else:
        for value in values:
            _ensure(
                element, path, interchange=interchange, new_last=True, made=made
            ).text = value
    if made is not None and (len(values) > 1 or "[" in path):
        made.complete = False  # elements no plain path records


@functools.lru_cache(maxsize=4096)
def _target_plan(path: str, interchange: bool) -> tuple[str, str | None, str | None]:
    """A target path taken apart once: the elements' path, the attribute
    written (if any), and the tag when the path is one plain step."""
    elements_path, attribute = _split_attribute(path)
    if attribute is not None or _NAME.fullmatch(path) is None:
        return elements_path, attribute, None
    return elements_path, attribute, qname(path) if interchange else path


def _ensure(
    element: etree._Element,
    path: str,
    *,
    interchange: bool,
    new_last: bool = False,
    made: _Written | None = None,
) -> etree._Element:
    """The element at ``path`` below ``element``, creating the missing steps.

    ``made`` holds the paths already resolved below ``element``, so sibling
    paths do not search the same children again. Each path keeps the element
    first found or made there: a new element goes last, behind the one first
    found.
    """
    steps = _target_steps(path, interchange)
    current = element
    start = 0
    resolved = len(steps) - 1 if new_last else len(steps)
    # whether ``current`` has no children but those ``made`` records (or
    # was made here): then a missing step is made without a search
    fresh = False
    if made is not None:
        for index in range(resolved - 1, -1, -1):
            known = made.at.get(steps[index][2])
            if known is not None:
                current, start = known, index + 1
                break
        fresh = made.complete
    for index in range(start, len(steps)):
        tag, attributes, prefix = steps[index]
        found = None
        if index < resolved and not fresh:
            found = _matching_child(current, tag, attributes)
        if found is None:
            found = etree.SubElement(current, tag, attributes)
            fresh = True
        current = found
        if made is not None and index < resolved:
            made.at[prefix] = current
    return current


@functools.lru_cache(maxsize=4096)
def _target_steps(
    path: str, interchange: bool
) -> tuple[tuple[str, dict[str, str], str], ...]:
    """A target path's steps (tag, attribute predicates, the path up to and
    with the step), taken apart once. The dictionaries are shared: they are
    only read."""
    steps = []
    parts = path.split("/")
    for index, step in enumerate(parts):
        tag, attributes = _parse_step(step)
        prefix = "/".join(parts[: index + 1])
        steps.append((qname(tag) if interchange else tag, attributes, prefix))
    return tuple(steps)


def _parse_step(step: str) -> tuple[str, dict[str, str]]:
    tag, _, rest = step.partition("[")
    attributes = {}
    for predicate in filter(None, ("[" + rest).split("[")) if rest else []:
        name, _, value = predicate.rstrip("]").lstrip("@").partition("=")
        attributes[name] = value.strip("'")
    return tag, attributes


def _matching_child(
    parent: etree._Element, tag: str, attributes: dict[str, str]
) -> etree._Element | None:
    if not attributes:
        return next(parent.iterchildren(tag), None)
    if len(attributes) == 1:  # a form's column by its name, most often
        ((key, value),) = attributes.items()
        for child in parent.iterchildren(tag):
            if child.get(key) == value:
                return child
        return None
    for child in parent.iterchildren(tag):
        if all(child.get(key) == value for key, value in attributes.items()):
            return child
    return None


def _without_namespaces(native: etree._Element) -> etree._Element:
    """``native`` with every tag reduced to its local name: a copy, unless no
    tag has a namespace (then ``native`` itself, which is only read)."""
    if not any(element.tag[0] == "{" for element in native.iter(etree.Element)):
        return native
    plain = copy.deepcopy(native)
    for element in plain.iter():
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    etree.cleanup_namespaces(plain)
    return plain


def _all_fields(mapping: SystemMapping) -> list[FieldSpec]:
    fields: list[FieldSpec] = []
    for inbound in mapping.inbound.values():
        for document in inbound.documents:
            fields += document.fields + [
                f for lst in document.lists for f in lst.fields
            ]
    for outbound in mapping.outbound.values():
        fields += outbound.fields + outbound.params
        fields += [f for lst in outbound.lists for f in lst.fields]
    return fields
