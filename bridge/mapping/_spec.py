"""The mapping-file format, read into checked values; errors name file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.mapping._mask import PERSONAL_KINDS
from bridge.mapping._yaml import YList, YMap, YStr, load_yaml
from bridge.mapping.converters import DATE_FORMATS, CodeTable

FIELD_KEYS = frozenset(
    {"from", "constant", "default", "trim", "halfwidth", "split", "join", "code"}
    | {"date", "required", "personal"}
)
FILE_KEYS = frozenset(
    {"system", "bureau", "zone", "description", "empty", "codes", "inbound", "outbound"}
)
_NATIVE_STEP = re.compile(r"[^\s/\[\]@]+(\[@[\w.-]+='[^']*'\])*")
_SIMPLE_STEP = re.compile(r"[A-Za-z_][\w.-]*")
_ATTRIBUTE_STEP = re.compile(r"@[A-Za-z_][\w.-]*")
_BOOLEANS = {"true": True, "yes": True, "false": False, "no": False}


@dataclass
class Condition:
    """True when the text at ``path`` is one of ``values``."""

    path: str
    values: list[str]
    where: str


@dataclass
class FieldSpec:
    """How one target value is made from the source."""

    target: str
    where: str
    sources: list[str] = field(default_factory=list)
    constant: str | None = None
    default: str = ""
    trim: bool = True
    halfwidth: bool = False
    split: str | None = None
    join: str | None = None
    join_trailing: bool = False
    code: str | None = None
    dates: list[str] = field(default_factory=list)
    required: bool = False
    personal: str | None = None


@dataclass
class ListSpec:
    """A repeated target element, one per source item."""

    target: str
    over: str
    fields: list[FieldSpec]
    where: str


@dataclass
class DocumentSpec:
    """How one kind of interchange document is made from a native record."""

    name: str
    fields: list[FieldSpec]
    lists: list[ListSpec]
    where: str
    each: str | None = None
    when: Condition | None = None


@dataclass
class InboundSpec:
    """A native record kind, read into interchange documents."""

    kind: str
    record: str
    documents: list[DocumentSpec]
    where: str
    skip: Condition | None = None


@dataclass
class OutboundSpec:
    """Interchange documents, written as one native message."""

    kind: str
    record: list[str]
    where: str
    root: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    lists: list[ListSpec] = field(default_factory=list)
    params: list[FieldSpec] = field(default_factory=list)


@dataclass
class SystemMapping:
    """One mapping file: a bureau's mapping for one system."""

    system: str
    bureau: str
    path: Path
    zone: str
    empties: frozenset[str]
    codes: dict[str, CodeTable]
    inbound: dict[str, InboundSpec]
    outbound: dict[str, OutboundSpec]


def read_mapping_file(path: Path) -> SystemMapping:
    """Load and check one mapping file; ConfigError with file:line when broken."""
    data = load_yaml(path)
    _only(data, FILE_KEYS)
    codes = _code_tables(_optional_map(data, "codes"))
    empties = data.get("empty", YList())
    if not isinstance(empties, list):
        raise ConfigError(f"{data.at('empty')}: 'empty' must be a list of texts")

    mapping = SystemMapping(
        system=_text(data, "system"),
        bureau=_text(data, "bureau"),
        path=path,
        zone=_text(data, "zone", "Asia/Shanghai"),
        empties=frozenset(str(value) for value in empties),
        codes=codes,
        inbound={},
        outbound={},
    )
    inbound = _optional_map(data, "inbound")
    for kind, body in inbound.items():
        mapping.inbound[kind] = _inbound(kind, _as_map(body, inbound.at(kind)), codes)
    outbound = _optional_map(data, "outbound")
    for kind, body in outbound.items():
        mapping.outbound[kind] = _outbound(
            kind, _as_map(body, outbound.at(kind)), codes
        )
    return mapping


def _inbound(kind: str, body: YMap, codes: dict[str, CodeTable]) -> InboundSpec:
    _only(body, {"record", "skip", "documents"})
    documents = _optional_map(body, "documents")
    if not documents:
        raise ConfigError(f"{body.where}: inbound {kind!r} produces no documents")

    specs = []
    for name, doc in documents.items():
        doc = _as_map(doc, documents.at(name))
        _only(doc, {"each", "when", "fields", "lists"})
        specs.append(
            DocumentSpec(
                name=name,
                fields=_fields(doc, codes, native_target=False),
                lists=_lists(doc, codes, native_target=False),
                where=documents.at(name),
                each=_native_path(doc["each"]) if "each" in doc else None,
                when=_condition(doc, "when"),
            )
        )
    record = _native_path(body["record"]) if "record" in body else ""
    return InboundSpec(kind, record, specs, body.where, _condition(body, "skip"))


def _outbound(kind: str, body: YMap, codes: dict[str, CodeTable]) -> OutboundSpec:
    _only(body, {"record", "root", "fields", "lists", "params"})
    record = body.get("record", YList())
    records = record if isinstance(record, list) else [record]
    root = _text(body, "root", "") or None
    if root is None and ("fields" in body or "lists" in body):
        raise ConfigError(f"{body.where}: fields and lists need a root element")

    return OutboundSpec(
        kind=kind,
        record=[str(path) for path in records],
        where=body.where,
        root=root,
        fields=_fields(body, codes, native_target=True),
        lists=_lists(body, codes, native_target=True),
        params=_fields(body, codes, native_target=False, key="params"),
    )


def _fields(
    body: YMap, codes: dict[str, CodeTable], *, native_target: bool, key: str = "fields"
) -> list[FieldSpec]:
    section = _optional_map(body, key)
    specs = []
    for target, raw in section.items():
        where = section.at(target)
        _check_target(target, where, native_target)
        specs.append(_field(target, raw, where, codes))
    return specs


def _lists(
    body: YMap, codes: dict[str, CodeTable], *, native_target: bool
) -> list[ListSpec]:
    section = _optional_map(body, "lists")
    specs = []
    for target, raw in section.items():
        where = section.at(target)
        _check_target(target, where, native_target)
        item = _as_map(raw, where)
        _only(item, {"over", "fields"})
        over = _native_path(_text(item, "over"))
        fields = _fields(item, codes, native_target=native_target)
        specs.append(ListSpec(target, over, fields, where))
    return specs


def _field(target: str, raw: Any, where: str, codes: dict[str, CodeTable]) -> FieldSpec:
    if isinstance(raw, YStr):
        return FieldSpec(target, where, sources=[_native_path(raw)])
    body = _as_map(raw, where)
    _only(body, FIELD_KEYS)
    if ("from" in body) == ("constant" in body):
        raise ConfigError(
            f"{where}: field {target!r} needs exactly one of from, constant"
        )

    spec = FieldSpec(target, where)
    if "from" in body:
        sources = body["from"]
        items = sources if isinstance(sources, list) else [sources]
        spec.sources = [_native_path(item) for item in items]
    if "constant" in body:
        spec.constant = str(body["constant"])
    spec.default = _text(body, "default", "")
    spec.trim = _flag(body, "trim", True)
    spec.halfwidth = _flag(body, "halfwidth", False)
    spec.required = _flag(body, "required", False)
    spec.split = _text(body, "split", "") or None
    _read_join(body, spec)
    _read_code(body, spec, codes)
    _read_dates(body, spec)
    _read_personal(body, spec)
    return spec


def _read_join(body: YMap, spec: FieldSpec) -> None:
    if "join" not in body:
        return
    raw = body["join"]
    if isinstance(raw, YMap):
        _only(raw, {"separator", "trailing"})
        spec.join = _text(raw, "separator")
        spec.join_trailing = _flag(raw, "trailing", False)
    else:
        spec.join = str(raw)


def _read_code(body: YMap, spec: FieldSpec, codes: dict[str, CodeTable]) -> None:
    if "code" not in body:
        return
    name = _text(body, "code")
    if name not in codes:
        raise ConfigError(f"{body.at('code')}: unknown code table {name!r}")
    spec.code = name


def _read_dates(body: YMap, spec: FieldSpec) -> None:
    if "date" not in body:
        return
    raw = body["date"]
    formats = [str(item) for item in (raw if isinstance(raw, list) else [raw])]
    for name in formats:
        if name not in DATE_FORMATS:
            known = ", ".join(DATE_FORMATS)
            raise ConfigError(
                f"{body.at('date')}: unknown date format {name!r}; known: {known}"
            )
    spec.dates = formats


def _read_personal(body: YMap, spec: FieldSpec) -> None:
    if "personal" not in body:
        return
    kind = _text(body, "personal")
    if kind not in PERSONAL_KINDS:
        raise ConfigError(
            f"{body.at('personal')}: personal must be one of {'|'.join(PERSONAL_KINDS)}"
        )
    spec.personal = kind


def _code_tables(section: YMap) -> dict[str, CodeTable]:
    tables = {}
    for name, raw in section.items():
        body = _as_map(raw, section.at(name))
        otherwise = None
        if "map" in body:
            _only(body, {"map", "out", "otherwise"})
            inbound = _string_pairs(_as_map(body["map"], body.at("map")))
            outbound = _string_pairs(_optional_map(body, "out"))
            otherwise = _text(body, "otherwise", "") if "otherwise" in body else None
        else:
            inbound, outbound = _string_pairs(body), {}
        tables[name] = CodeTable(name, inbound, outbound, otherwise)
    return tables


def _string_pairs(body: YMap) -> dict[str, str]:
    pairs = {}
    for key, value in body.items():
        if not isinstance(value, YStr):
            raise ConfigError(f"{body.at(key)}: a code maps to one text value")
        pairs[str(key)] = str(value)
    return pairs


def _condition(body: YMap, key: str) -> Condition | None:
    if key not in body:
        return None
    raw = _as_map(body[key], body.at(key))
    _only(raw, {"path", "in"})
    values = raw.get("in")
    if not isinstance(values, list):
        raise ConfigError(f"{raw.where}: {key} needs a list under 'in'")
    return Condition(
        _native_path(_text(raw, "path")), [str(v) for v in values], raw.where
    )


def _check_target(target: str, where: str, native: bool) -> None:
    steps = target.split("/")
    if native:
        last = steps[-1]
        ok = all(_NATIVE_STEP.fullmatch(step) for step in steps[:-1]) and bool(
            _NATIVE_STEP.fullmatch(last) or _ATTRIBUTE_STEP.fullmatch(last)
        )
    else:
        ok = all(_SIMPLE_STEP.fullmatch(step) for step in steps)
    if not ok:
        raise ConfigError(f"{where}: {target!r} is not a path this format can write")


def _native_path(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        where = getattr(raw, "where", "?")
        raise ConfigError(f"{where}: expected a path as text")
    return str(raw).strip()


def _only(body: YMap, allowed: set[str] | frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"{body.at(key)}: unknown key {key!r} (allowed: {names})")


def _as_map(raw: Any, where: str) -> YMap:
    if not isinstance(raw, YMap):
        raise ConfigError(f"{getattr(raw, 'where', where)}: expected a mapping here")
    return raw


def _optional_map(body: YMap, key: str) -> YMap:
    if key not in body:
        empty = YMap()
        empty.where, empty.key_where = body.where, {}
        return empty
    return _as_map(body[key], body.at(key))


def _text(body: YMap, key: str, default: str | None = None) -> str:
    if key not in body:
        if default is None:
            raise ConfigError(f"{body.where}: missing key {key!r}")
        return default
    value = body[key]
    if not isinstance(value, YStr):
        raise ConfigError(f"{body.at(key)}: {key!r} must be text")
    return str(value)


def _flag(body: YMap, key: str, default: bool) -> bool:
    if key not in body:
        return default
    value = _text(body, key).lower()
    if value not in _BOOLEANS:
        raise ConfigError(f"{body.at(key)}: {key!r} must be true or false")
    return _BOOLEANS[value]
