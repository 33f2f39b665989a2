"""Vendor profiles of the OA simulator: one SeeYon platform, each bureau's own form.

Many bureaus bought the same platform: the contract stays, while the form's
table and column names, the templates, the state codes, the time format of
exported documents and the response encoding are the bureau's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.sim.oa_flow import DEFAULT_STATE_CODES

STORED_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class TemplateSpec:
    """A template of a profile: code, subject and the matter it serves."""

    code: str
    subject: str
    matter_code: str


@dataclass(frozen=True)
class VendorProfile:
    """How one bureau's OA differs from another's on the same platform."""

    name: str
    form_table: str
    master_columns: tuple[tuple[str, str], ...]
    sub_columns: tuple[tuple[str, str], ...]
    case_column: str
    result_column: str
    certificate_column: str
    finished_column: str
    certificate_prefix: str
    templates: tuple[TemplateSpec, ...] = ()
    state_codes: tuple[tuple[str, int], ...] = tuple(DEFAULT_STATE_CODES.items())
    time_format: str = STORED_TIME
    encoding: str = "UTF-8"

    def states(self) -> dict[str, int]:
        """The state codes by meaning."""
        return dict(self.state_codes)

    def time_text(self, stored: str) -> str:
        """A stored local time written in this OA's export format."""
        try:
            moment = datetime.strptime(stored, STORED_TIME)
        except ValueError:
            return stored
        return moment.strftime(self.time_format)


def hbj_profile() -> VendorProfile:
    """The environmental protection bureau's OA: the simulator's default."""
    from bridge.sim import oa_form

    return VendorProfile(
        name="hbj",
        form_table=oa_form.FORM_TABLE,
        master_columns=tuple(oa_form.MASTER_COLUMNS),
        sub_columns=tuple(oa_form.SUB_COLUMNS),
        case_column=oa_form.CASE_COLUMN,
        result_column="审批结果",
        certificate_column="批准文号",
        finished_column="办结日期",
        certificate_prefix="环审",
    )


LYJ_TEMPLATES = (
    TemplateSpec("LYJ_SX01", "林木采伐许可证核发", "370999101"),
    TemplateSpec("LYJ_SX02", "使用林地审核同意书核发", "370999102"),
    TemplateSpec("LYJ_SX03", "林草种子生产经营许可证核发", "370999103"),
)

LYJ_STATES = {
    "draft": 10,
    "sent": 11,
    "partly_done": 12,
    "revoked": 13,
    "stepped_back": 14,
    "taken_back": 15,
    "terminated": 19,
    "finished": 20,
}


def lyj_profile() -> VendorProfile:
    """The forestry bureau's OA: its own form and codes, slashed times, GBK."""
    master = (
        ("业务编号", "0"),
        ("网办编号", "0"),
        ("事项代码", "0"),
        ("事项名称", "0"),
        ("申请项目", "0"),
        ("申请人性质", "0"),
        ("申请人名称", "0"),
        ("证照类型", "0"),
        ("证照号码", "0"),
        ("经办人", "0"),
        ("经办人电话", "0"),
        ("申请时间", "0"),
        ("受理时间", "0"),
        ("承诺期限", "4"),
        ("来源渠道", "0"),
        ("办理结果", "0"),
        ("许可证号", "0"),
        ("办结时间", "0"),
    )
    return VendorProfile(
        name="lyj",
        form_table="formmain_0235",
        master_columns=master,
        sub_columns=(("材料名", "0"), ("附件名", "0"), ("附件ID", "0")),
        case_column="业务编号",
        result_column="办理结果",
        certificate_column="许可证号",
        finished_column="办结时间",
        certificate_prefix="林许",
        templates=LYJ_TEMPLATES,
        state_codes=tuple(LYJ_STATES.items()),
        time_format="%Y/%m/%d %H:%M:%S",
        encoding="GBK",
    )


PROFILES = {"hbj": hbj_profile, "lyj": lyj_profile}


def profile_named(name: str) -> VendorProfile:
    """The built-in profile ``name``; KeyError for an unknown one."""
    return PROFILES[name]()
