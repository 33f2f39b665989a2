"""The OA's templates, FormExport reading (as A8 imports it) and flowExport writing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from bridge.sim.seed import MATTERS
from bridge.xmlutil import parse_xml, to_text

if TYPE_CHECKING:
    from bridge.sim.oa_profile import VendorProfile

FORM_TABLE = "formmain_0101"
SUB_TABLE = "材料清单"

#: master columns of the bureau form: (display name, type code); 0 text, 4 number
MASTER_COLUMNS: list[tuple[str, str]] = [
    ("申办流水号", "0"),
    ("网上申报号", "0"),
    ("事项编码", "0"),
    ("事项名称", "0"),
    ("项目名称", "0"),
    ("申请人类型", "0"),
    ("申请单位或个人", "0"),
    ("证件类型", "0"),
    ("证件号码", "0"),
    ("联系人", "0"),
    ("联系电话", "0"),
    ("申请日期", "0"),
    ("受理日期", "0"),
    ("承诺时限", "4"),
    ("受理渠道", "0"),
    ("审批结果", "0"),
    ("批准文号", "0"),
    ("办结日期", "0"),
]
SUB_COLUMNS: list[tuple[str, str]] = [
    ("材料名称", "0"),
    ("文件名称", "0"),
    ("附件编号", "0"),
]
CASE_COLUMN = "申办流水号"
NUMBER_COLUMNS = frozenset(name for name, kind in MASTER_COLUMNS if kind == "4")


@dataclass(frozen=True)
class Template:
    """A flow template: its code, subject, form and who may launch it."""

    code: str
    subject: str
    matter_code: str
    has_form: bool = True
    senders: frozenset[str] | None = None  # None: every known member


def default_templates() -> dict[str, Template]:
    """One template per seeded matter, plus one the interface account may not use."""
    templates = {
        matter["template"]: Template(
            code=matter["template"], subject=matter["name"], matter_code=matter["code"]
        )
        for matter in MATTERS
    }
    templates["HBJ_NOAUTH"] = Template(
        code="HBJ_NOAUTH",
        subject="内部人事审批",
        matter_code="",
        senders=frozenset({"wangfh"}),
    )
    return templates


class FormDataError(ValueError):
    """Form data the server cannot import."""


@dataclass
class FormRecord:
    """A form as the server stored it: known master values and sub-table rows."""

    master: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"master": self.master, "rows": self.rows, "ignored": self.ignored}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FormRecord:
        return cls(dict(data["master"]), list(data["rows"]), list(data["ignored"]))


def _column_values(values: etree._Element | None) -> list[tuple[str, str]]:
    if values is None:
        return []
    found = []
    for column in values.findall("column"):
        value = column.find("value")
        text = "" if value is None or value.text is None else value.text.strip()
        found.append((column.get("name", "").strip(), text))
    return found


def _columns(
    profile: VendorProfile | None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    if profile is None:
        return MASTER_COLUMNS, SUB_COLUMNS
    return list(profile.master_columns), list(profile.sub_columns)


def parse_form(data: str, profile: VendorProfile | None = None) -> FormRecord:
    """Read FormExport as A8 imports it: by display name, blanks and unknowns out."""
    master_columns, sub_columns = _columns(profile)
    try:
        root = parse_xml(data.strip(), system="oa")
    except Exception as exc:
        raise FormDataError(f"表单数据无法解析: {exc}") from exc
    if root.tag != "formExport":
        raise FormDataError(f"表单数据根元素应为 formExport: {root.tag}")

    record = FormRecord()
    known = {name for name, _ in master_columns}
    for name, value in _column_values(root.find("values")):
        if name not in known:
            record.ignored.append(name)
        elif value:
            record.master[name] = value

    sub_known = {name for name, _ in sub_columns}
    for row in root.iterfind("subForms/subForm/values/row"):
        cells = {n: v for n, v in _column_values(row) if n in sub_known and v}
        if cells:
            record.rows.append(cells)

    _validate(record, master_columns)
    return record


def _validate(record: FormRecord, columns: list[tuple[str, str]]) -> None:
    numbers = {name for name, kind in columns if kind == "4"}
    for name in numbers & record.master.keys():
        try:
            float(record.master[name])
        except ValueError as exc:
            raise FormDataError(f"字段[{name}]应为数字: {record.master[name]}") from exc


def _definitions(parent: etree._Element, columns: list[tuple[str, str]]) -> None:
    definitions = etree.SubElement(parent, "definitions")
    for index, (name, kind) in enumerate(columns, start=1):
        etree.SubElement(
            definitions,
            "column",
            id=f"field{index:04d}",
            type=kind,
            name=name,
            length="255",
        )


def _value_column(parent: etree._Element, name: str, value: str) -> None:
    column = etree.SubElement(parent, "column", name=name)
    etree.SubElement(column, "value").text = value or None


def form_element(
    record: FormRecord | None,
    summary_id: str = "",
    profile: VendorProfile | None = None,
) -> etree._Element:
    """The FormExport of a stored record (blank when None), every column present."""
    record = record or FormRecord()
    master_columns, sub_columns = _columns(profile)
    table = profile.form_table if profile is not None else FORM_TABLE
    root = etree.Element("formExport", version="2.0")
    etree.SubElement(root, "summary", id=summary_id, name=table)
    _definitions(root, master_columns)
    values = etree.SubElement(root, "values")
    for name, _ in master_columns:
        _value_column(values, name, record.master.get(name, ""))
    sub_form = etree.SubElement(etree.SubElement(root, "subForms"), "subForm")
    _definitions(sub_form, sub_columns)
    sub_values = etree.SubElement(sub_form, "values")
    for row in record.rows:
        row_el = etree.SubElement(sub_values, "row")
        for name, _ in sub_columns:
            _value_column(row_el, name, row.get(name, ""))
    return root


def template_definition(
    template: Template, profile: VendorProfile | None = None
) -> list[str | None]:
    """getTemplateDefinition's two strings: FlowExport and a blank FormExport."""
    flow = etree.Element("flowExport", version="1.0")
    for tag, value in (
        ("title", template.subject),
        ("importance", "1"),
        ("folder", ""),
        ("project", ""),
    ):
        etree.SubElement(flow, tag).text = value or None
    etree.SubElement(flow, "attachments")
    table = profile.form_table if profile is not None else FORM_TABLE
    etree.SubElement(flow, "content").text = table if template.has_form else None
    blank = form_element(None, profile=profile)
    form = to_text(blank, declaration=True) if template.has_form else None
    return [to_text(flow, declaration=True), form]


def flow_element(
    flow: dict[str, Any], profile: VendorProfile | None = None
) -> etree._Element:
    """The flowExport document of one stored flow (shape in docs/simulators.md)."""
    when = profile.time_text if profile is not None else str
    root = etree.Element("flowExport", version="1.0")
    summary = etree.SubElement(root, "summary")
    for tag, key in (
        ("flowId", "flow_id"),
        ("templateCode", "template_code"),
        ("subject", "subject"),
        ("sender", "sender"),
        ("state", "state"),
        ("createTime", "create_time"),
        ("updateTime", "update_time"),
    ):
        value = str(flow[key])
        etree.SubElement(summary, tag).text = when(value) if "Time" in tag else value
    record = FormRecord.from_json(flow["form"])
    if profile is not None:
        record.master[profile.finished_column] = when(
            record.master.get(profile.finished_column, "")
        )
    root.append(form_element(record, str(flow["flow_id"]), profile))
    process = etree.SubElement(root, "processRecord")
    for node in flow["record"]:
        node_el = etree.SubElement(process, "node")
        for tag in NODE_FIELDS:
            value = str(node.get(tag, ""))
            value = when(value) if tag.endswith("Time") else value
            etree.SubElement(node_el, tag).text = value or None
    return root


NODE_FIELDS = (
    "seq",
    "nodeCode",
    "nodeName",
    "department",
    "handler",
    "handlerLogin",
    "post",
    "action",
    "opinion",
    "startTime",
    "endTime",
)


def parse_window_time(text: str | None, end: bool) -> datetime:
    """A listing bound in one of the accepted forms; a bare end date ends the day."""
    value = (text or "").strip()
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, pattern)
        except ValueError:
            continue
        if pattern == "%Y-%m-%d" and end:
            moment = moment.replace(hour=23, minute=59, second=59)
        return moment
    raise ValueError(f"时间格式错误: {value!r}")
