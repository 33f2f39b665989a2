"""The offline check of a bureau's mapping folder: findings with file and line.

It runs nothing: it tries the mapping's native paths on the native forms kept
in the folder, the interchange paths on the interchange schemas, the code
tables on the schemas' code lists, and each converter on the type it meets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import ConfigError
from bridge.mapping._native import FORM_ROOT, forms_for
from bridge.mapping._probe import Coverage, Probe
from bridge.mapping._schema import Slot, document_slots, documents
from bridge.mapping._spec import (
    DocumentSpec,
    FieldSpec,
    OutboundSpec,
    SystemMapping,
    read_mapping_file,
)
from bridge.paths import mappings_dir as default_mappings_dir

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem of a mapping, where it is written and how bad it is."""

    where: str
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass
class CheckReport:
    """The findings of a check and the native fields each form has mapped."""

    bureau: str
    findings: list[Finding] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [found for found in self.findings if found.severity == ERROR]


def check_bureau(bureau: str, mappings_dir: Path | None = None) -> list[Finding]:
    """Every finding of the offline check of ``bureau``'s mapping folder."""
    return check_report(bureau, mappings_dir).findings


def check_report(
    bureau: str, mappings_dir: Path | None = None, schemas_dir: Path | None = None
) -> CheckReport:
    """The check of ``bureau``'s folder: findings and coverage."""
    folder = (mappings_dir or default_mappings_dir()) / bureau
    report = CheckReport(bureau)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        report.findings.append(
            Finding(str(folder), ERROR, f"no mapping files for bureau {bureau!r}")
        )
        return report

    systems: dict[str, SystemMapping] = {}
    for path in files:
        try:
            mapping = read_mapping_file(path)
        except ConfigError as exc:
            where, _, message = str(exc).partition(": ")
            report.findings.append(Finding(where, ERROR, message))
            continue
        systems[mapping.system] = mapping
    return check_systems(bureau, folder, systems, schemas_dir, report)


def check_systems(
    bureau: str,
    folder: Path,
    systems: dict[str, SystemMapping],
    schemas_dir: Path | None = None,
    report: CheckReport | None = None,
) -> CheckReport:
    """Check loaded mapping files of one bureau against its folder's native forms."""
    report = report or CheckReport(bureau)
    slots = {name: document_slots(name, schemas_dir) for name in documents(schemas_dir)}
    for mapping in systems.values():
        _native_paths(report, folder, mapping)
        for spec in mapping.inbound.values():
            for document in spec.documents:
                _inbound_document(report, mapping, document, slots)
        for outbound in mapping.outbound.values():
            _outbound_fields(report, mapping, outbound, slots)
    return report


def _native_paths(report: CheckReport, folder: Path, mapping: SystemMapping) -> None:
    system = mapping.system
    probes: dict[str, Probe] = {}
    for kind, spec in mapping.inbound.items():
        forms = forms_for(folder, system, kind)
        if not forms:
            _no_form(report, spec.where, f"native/{system}.{kind}.xml")
            continue
        probe = probes.setdefault(f"in:{kind}", Probe(system, forms))
        probe.inbound(spec)

    for root_name, specs in _by_root(mapping).items():
        forms = forms_for(folder, system, root_name)
        if not forms:
            expected = f"native/{system}.{root_name}.xml"
            if root_name == FORM_ROOT:
                expected = f"native/{system}.templates/<template>.xml"
            _no_form(report, specs[0].where, expected)
            continue
        probe = Probe(system, forms)
        for spec in specs:
            probe.outbound(spec)
        probes[f"out:{root_name}"] = probe

    for probe in probes.values():
        for where, message in probe.missing():
            report.findings.append(Finding(where, ERROR, message))
        report.coverage.extend(probe.coverage())


def _by_root(mapping: SystemMapping) -> dict[str, list[OutboundSpec]]:
    roots: dict[str, list[OutboundSpec]] = {}
    for spec in mapping.outbound.values():
        if spec.root:
            roots.setdefault(spec.root, []).append(spec)
    return roots


def _no_form(report: CheckReport, where: str, expected: str) -> None:
    report.findings.append(
        Finding(where, ERROR, f"no native form to check against: add {expected}")
    )


# -- inbound: targets, required fields, codes, converters ---------------------------


def _inbound_document(
    report: CheckReport,
    mapping: SystemMapping,
    document: DocumentSpec,
    slots: dict[str, dict[str, Slot]],
) -> None:
    schema = slots.get(document.name)
    if schema is None:
        message = f"{document.name!r} is not an interchange document"
        report.findings.append(Finding(document.where, ERROR, message))
        return

    targets = [(spec.target, spec) for spec in document.fields]
    for list_spec in document.lists:
        targets.append((list_spec.target, None))
        targets += [(f"{list_spec.target}/{f.target}", f) for f in list_spec.fields]
    for target, spec in targets:
        slot = schema.get(target)
        if slot is None:
            message = f"{document.name} has no element {target!r}"
            where = spec.where if spec else document.where
            report.findings.append(Finding(where, ERROR, message))
        elif spec is not None:
            _inbound_field(report, mapping, spec, slot)
    _required(report, document, schema, {target for target, _ in targets})


def _required(
    report: CheckReport,
    document: DocumentSpec,
    schema: dict[str, Slot],
    mapped: set[str],
) -> None:
    present = {target.rsplit("/", 1)[0] for target in mapped if "/" in target}
    present |= {
        "/".join(target.split("/")[:depth])
        for target in mapped
        for depth in range(1, target.count("/") + 1)
    }
    for path, slot in schema.items():
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if not slot.required or (parent and parent not in present):
            continue
        if path not in mapped and path not in present:
            message = f"required interchange field {document.name}/{path} is not mapped"
            report.findings.append(Finding(document.where, ERROR, message))


def _inbound_field(
    report: CheckReport, mapping: SystemMapping, spec: FieldSpec, slot: Slot
) -> None:
    def error(message: str) -> None:
        report.findings.append(Finding(spec.where, ERROR, message))

    is_time = slot.kind == "dateTime"
    if spec.dates and not is_time:
        error(f"date converter on {spec.target!r}, which is not an xs:dateTime")
    if is_time and not spec.dates and spec.constant is None:
        error(f"{spec.target!r} is an xs:dateTime: it needs a date converter")
    if spec.split and not slot.repeated:
        error(f"split on {spec.target!r}, which holds one value")
    if not slot.codes:
        return

    allowed = set(slot.codes)
    fixed = [v for v in (spec.constant, spec.default) if v]
    for value in fixed:
        if value not in allowed:
            error(f"{value!r} is not a code of {spec.target!r}: {sorted(allowed)}")
    if spec.code is None and spec.constant is None:
        error(f"{spec.target!r} takes codes {sorted(allowed)}: it needs a code table")
    if spec.code is not None:
        table = mapping.codes[spec.code]
        produced = set(table.inbound.values()) | {table.otherwise or ""}
        for value in sorted(produced - allowed - {""}):
            error(f"code table {spec.code!r} gives {value!r}, not a code of the field")


# -- outbound: interchange sources, codes covered, converters ------------------------


def _outbound_fields(
    report: CheckReport,
    mapping: SystemMapping,
    spec: OutboundSpec,
    slots: dict[str, dict[str, Slot]],
) -> None:
    fields = [(field_spec, "") for field_spec in spec.fields + spec.params]
    for list_spec in spec.lists:
        over = _slot(slots, list_spec.over)
        if over is None:
            _unknown_source(report, list_spec.where, list_spec.over)
        fields += [(item, list_spec.over + "/") for item in list_spec.fields]

    for field_spec, prefix in fields:
        for source in field_spec.sources:
            slot = _slot(slots, prefix + source)
            if slot is None:
                _unknown_source(report, field_spec.where, prefix + source)
            else:
                _outbound_field(report, mapping, field_spec, slot)


def _slot(slots: dict[str, dict[str, Slot]], path: str) -> Slot | None:
    name, _, rest = path.lstrip("/").partition("/")
    schema = slots.get(name)
    if schema is None:
        return None
    if not rest:
        return Slot(name, True, False, False)
    return schema.get(rest)


def _unknown_source(report: CheckReport, where: str, path: str) -> None:
    message = f"interchange path {path!r} is in no interchange document"
    report.findings.append(Finding(where, ERROR, message))


def _outbound_field(
    report: CheckReport, mapping: SystemMapping, spec: FieldSpec, slot: Slot
) -> None:
    is_time = slot.kind == "dateTime"
    if spec.dates and not is_time:
        message = f"date converter on {slot.path!r}, which is not an xs:dateTime"
        report.findings.append(Finding(spec.where, ERROR, message))
    if is_time and not spec.dates:
        message = f"{slot.path!r} is an xs:dateTime: write it with a date converter"
        report.findings.append(Finding(spec.where, ERROR, message))
    if spec.code is None or not slot.codes:
        return

    table = mapping.codes[spec.code]
    if table.otherwise is not None:
        return
    uncovered = [value for value in slot.codes if value not in table.outbound]
    if uncovered:
        message = (
            f"codes {', '.join(uncovered)} of {slot.path!r} have no native code"
            f" in table {spec.code!r}"
        )
        report.findings.append(Finding(spec.where, WARNING, message))
