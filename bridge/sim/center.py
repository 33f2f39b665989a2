"""Stand-in for the city center's case register (接办件系统), speaking the provincial
GDBS tag family over SOAP 1.1 as described in center-formats §1, §5 and §7.

Every operation but ``getXmlToken`` takes ``accessToken`` and ``xmlStr`` (an
APPROVEDATAINFO document) and answers ``return``: a RESULT document as a string.
Business errors are STATUS 300 with a Chinese DESC, never SOAP faults.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from lxml import etree

from bridge.errors import BridgeError
from bridge.paths import WSDL_DIR
from bridge.sim.base import (
    AdminError,
    AdminHandler,
    Response,
    Simulator,
    SoapRequest,
    soap_fault,
    soap_response,
)
from bridge.sim.seed import BUREAU, FORESTRY, MATTERS_BY_CODE, Seed
from bridge.xmlutil import local, parse_xml

CENTER_NS = "urn:zwfw:center:approve:1"
ENDPOINT = "/center/services/ApproveService"
WSDL_FILE = WSDL_DIR / "center" / "ApproveService.wsdl"
PROLOG = '<?xml version="1.0" encoding="utf-8"?>'
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_FORMAT = "%Y%m%d%H%M%S"

OK_DESC = "请求成功"
BAD_TOKEN = "接口令牌不存在"
NO_CASE = "获取办件信息失败"
SXBM_MISMATCH = "该事项编码与根据申报流水号查询到的事项编码不一致！"
NO_OPEN_SUSPENSION = "该业务未处于特别程序申请状态"
CLOSED_CASE = "该办件已办结，不再接收业务数据"
NOT_ACCEPTED = "该办件尚未受理，不能接收审批过程信息"

EMPTY_MARKERS = frozenset({"", "null", "NULL", "Null", "无"})
TIME_TAGS = frozenset(
    {
        "SBSJ", "SLSJ", "YWSLSJ", "YSLSJ", "SPSJ", "JSSJ", "BJSJ", "TBCXKSRQ",
        "JGCSRQ", "TBCXJSRQ", "KSSJ", "AFTER_GXSJ", "GXSJ", "UPLOAD_TIME",
    }
)  # fmt: skip
RECORD_TAGS = (
    "SBLSH_SHORT", "SXBM", "SXMC", "SBXMMC", "SQRLX", "SQRMC", "SQRZJLX", "SQRZJHM",
    "LXRXM", "LXRSJ", "SBSJ", "TJFS", "WSSBLSH", "XZQHDM", "PROMISE_DAYS", "SLZTDM",
    "SLSJ", "SLBMMC", "SLBMZZJGDM", "BLRXM", "BJJGDM", "GXSJ",
)  # fmt: skip
_JAVA_DATE = re.compile(
    r"[A-Za-z]{3} ([A-Za-z]{3}) (\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) \S+ (\d{4})"
)
_MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"
_KEY_TAGS = {"registerOnlineCase": "WSSBLSH"}

DEFAULT_CONFIG: dict[str, Any] = {
    "already_done_status": 200,
    "token_ttl_seconds": 1800,
    "key": "bridge",
    "secret": "bridge-secret",
}

DDL = """
CREATE TABLE IF NOT EXISTS center_case (
    sblsh_short TEXT PRIMARY KEY,
    sxbm TEXT NOT NULL,
    wssblsh TEXT UNIQUE,
    tjfs TEXT NOT NULL,
    department TEXT NOT NULL,
    region TEXT NOT NULL,
    gxsj TEXT NOT NULL,
    application TEXT NOT NULL,
    blocks TEXT NOT NULL DEFAULT '[]',
    acceptance TEXT,
    completion TEXT
);
CREATE INDEX IF NOT EXISTS center_case_listing
    ON center_case(department, gxsj, sblsh_short);
CREATE TABLE IF NOT EXISTS center_step (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    sblsh_short TEXT NOT NULL,
    sphjxh TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (sblsh_short, sphjxh)
);
CREATE TABLE IF NOT EXISTS center_suspension (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    sblsh_short TEXT NOT NULL,
    xh TEXT NOT NULL,
    start TEXT NOT NULL,
    finish TEXT,
    UNIQUE (sblsh_short, xh)
);
CREATE TABLE IF NOT EXISTS center_token (token TEXT PRIMARY KEY, expires REAL);
CREATE TABLE IF NOT EXISTS center_serial (year TEXT PRIMARY KEY, value INTEGER);
"""

log = structlog.get_logger()


# -- lenient reading of what senders send ------------------------------------------


def clean(raw: str | None) -> str:
    """A value with blanks stripped and the empty markers (null, 无) made empty."""
    value = (raw or "").strip(" \t\r\n\u3000")
    return "" if value in EMPTY_MARKERS else value


def code(raw: str | None) -> str:
    """A code or number: cleaned, with full-width digits and letters made ASCII."""
    return clean(unicodedata.normalize("NFKC", raw or ""))


def parse_time(raw: str | None) -> datetime | None:
    """Read the date forms senders use; None when empty or unreadable."""
    value = code(raw)
    if not value:
        return None
    java = _JAVA_DATE.search(value)
    if java:
        month = _MONTHS.find(java.group(1)) // 3 + 1
        day, hour, minute, second, year = (int(java.group(i)) for i in range(2, 7))
        return _datetime(year, month, day, hour, minute, second)
    groups = re.findall(r"\d+", value)
    if len(groups) == 1:
        return _compact_time(groups[0])
    numbers = [int(group) for group in groups[:6]]
    return _datetime(*(numbers + [0] * (6 - len(numbers))))


def _compact_time(digits: str) -> datetime | None:
    if len(digits) not in (8, 12, 14):
        return None
    parts = [int(digits[i : i + w]) for i, w in ((0, 4), (4, 2), (6, 2), (8, 2))
             if len(digits) >= i + w]  # fmt: skip
    parts += [int(digits[i : i + 2]) for i in (10, 12) if len(digits) >= i + 2]
    return _datetime(*(parts + [0] * (6 - len(parts))))


def _datetime(*parts: int) -> datetime | None:
    try:
        return datetime(*parts)  # type: ignore[misc]
    except (TypeError, ValueError):
        return None


def normalise_time(raw: str | None) -> str:
    """A time in the standard ``yyyy-MM-dd HH:mm:ss``, or the cleaned raw text."""
    parsed = parse_time(raw)
    return parsed.strftime(LOCAL_FORMAT) if parsed else clean(raw)


def find(root: etree._Element, name: str) -> etree._Element | None:
    """The first element named ``name``: a child of ``root`` first, then deeper."""
    for child in root:
        if isinstance(child.tag, str) and local(child.tag) == name:
            return child
    for element in root.iter():
        if isinstance(element.tag, str) and local(element.tag) == name:
            return element
    return None


def value(root: etree._Element | None, name: str) -> str:
    """The cleaned text of the element ``name`` found below ``root``."""
    found = find(root, name) if root is not None else None
    if found is None:
        return ""
    return normalise_time(found.text) if name in TIME_TAGS else clean(found.text)


def fields_of(block: etree._Element | None) -> dict[str, str]:
    """A flat block's leaf children as tag → cleaned text; the first of a tag wins."""
    found: dict[str, str] = {}
    if block is None:
        return found
    for child in block:
        if not isinstance(child.tag, str) or len(child):
            continue
        tag = local(child.tag)
        if tag not in found:
            found[tag] = normalise_time(child.text) if tag in TIME_TAGS else clean(
                child.text
            )
    return found


def append_fields(parent: etree._Element, tag: str, data: dict[str, str]) -> None:
    """Append ``<tag>`` holding one child per key of ``data``."""
    block = etree.SubElement(parent, tag)
    for key, text in data.items():
        etree.SubElement(block, key).text = text


# -- answers -----------------------------------------------------------------------


class Refusal(Exception):
    """A business error: answered STATUS 300 with ``desc``."""

    def __init__(self, desc: str) -> None:
        super().__init__(desc)
        self.desc = desc


@dataclass
class Answer:
    """What one operation answers, and how the request log records it."""

    status: int
    desc: str
    outcome: str
    data: etree._Element | None = None
    token: str | None = None

    def document(self, now: datetime) -> str:
        """The RESULT document, with the exact prolog real receivers expect."""
        result = etree.Element("RESULT")
        etree.SubElement(result, "STATUS").text = str(self.status)
        etree.SubElement(result, "DESC").text = self.desc
        etree.SubElement(result, "TIME").text = now.strftime(TIME_FORMAT)
        if self.data is not None:
            result.append(self.data)
        else:
            etree.SubElement(result, "DATA")
        if self.token is not None:
            etree.SubElement(result, "TOKEN").text = self.token
        return PROLOG + etree.tostring(result, encoding="unicode")


def done(data: etree._Element | None = None) -> Answer:
    """A successful answer."""
    return Answer(200, OK_DESC, "done", data)


def data_element(**children: str) -> etree._Element:
    """A DATA element with one text child per keyword."""
    data = etree.Element("DATA")
    for key, text in children.items():
        etree.SubElement(data, key).text = text
    return data


@dataclass
class Case:
    """One row of the register, its JSON columns decoded."""

    number: str
    sxbm: str
    wssblsh: str
    tjfs: str
    department: str
    region: str
    gxsj: str
    application: dict[str, str]
    blocks: list[str]
    acceptance: dict[str, str] | None
    completion: dict[str, str] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Case:
        return cls(
            number=row["sblsh_short"],
            sxbm=row["sxbm"],
            wssblsh=row["wssblsh"] or "",
            tjfs=row["tjfs"],
            department=row["department"],
            region=row["region"],
            gxsj=row["gxsj"],
            application=json.loads(row["application"]),
            blocks=json.loads(row["blocks"]),
            acceptance=_loads(row["acceptance"]),
            completion=_loads(row["completion"]),
        )


Operation = Callable[[etree._Element], Answer]


class CenterSimulator(Simulator):
    """The center's register: numbers cases, records their life, lists changes."""

    name = "center"
    write_operations = frozenset(
        {
            "registerOnlineCase",
            "receiveBusinessAccept",
            "receiveCourseInfo",
            "getSuspendInfo",
            "receiveBusinessFinish",
        }
    )

    def __init__(
        self,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        zone: str = "Asia/Shanghai",
        clock_offset: float = 0.0,
        seed: int = 20041018,
    ) -> None:
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        super().__init__(
            db_path,
            host=host,
            port=port,
            zone=zone,
            clock_offset=clock_offset,
            seed=seed,
        )
        self._seed = Seed(seed)

    def create_tables(self) -> None:
        self.state.script(DDL)

    # -- SOAP side ---------------------------------------------------------------

    def handle_get(self, path: str, query: dict[str, list[str]]) -> Response | None:
        if path.rstrip("/") != ENDPOINT or not {"wsdl", "WSDL"} & set(query):
            return None
        text = WSDL_FILE.read_text(encoding="utf-8")
        text = re.sub(
            r'(<soap:address location=")[^"]*(")', rf"\g<1>{self.url}{ENDPOINT}\2", text
        )
        return Response(body=text.encode("utf-8"))

    def handle_soap(self, request: SoapRequest) -> Response:
        if request.path.rstrip("/") != ENDPOINT:
            text = f"no service at {request.path}"
            return soap_fault(request.version, text, code="Sender")
        arguments = {
            local(child.tag): child.text or ""
            for child in request.body
            if isinstance(child.tag, str)
        }
        if request.operation == "getXmlToken":
            answer = self._get_token(arguments)
        elif request.operation in self._operations():
            answer = self._run(request.operation, arguments)
        else:
            return soap_fault(
                request.version, f"unknown operation {request.operation}", code="Sender"
            )
        return self._wrap(request, answer)

    def _wrap(self, request: SoapRequest, answer: Answer) -> Response:
        wrapper = etree.Element(
            f"{{{CENTER_NS}}}{request.operation}Response", nsmap={"ns": CENTER_NS}
        )
        returned = etree.SubElement(wrapper, f"{{{CENTER_NS}}}return")
        returned.text = answer.document(self.clock.local_naive())
        return soap_response(wrapper, request.version)

    def _operations(self) -> dict[str, Operation]:
        return {
            "registerOnlineCase": self._register,
            "queryWindowCases": self._query,
            "getApplyInfo": self._apply_info,
            "receiveBusinessAccept": self._accept,
            "receiveCourseInfo": self._course,
            "getSuspendInfo": self._suspend,
            "receiveBusinessFinish": self._finish,
        }

    def _run(self, operation: str, arguments: dict[str, str]) -> Answer:
        xml_str = arguments.get("xmlStr", "")
        key: str | None = None
        try:
            doc = self._parse_document(xml_str)
            key = code(value(doc, _KEY_TAGS.get(operation, "SBLSH_SHORT")))
            self._check_token(arguments.get("accessToken", ""))
            with self.state.tx():
                answer = self._operations()[operation](doc)
        except Refusal as refusal:
            answer = Answer(300, refusal.desc, f"error:{refusal.desc}")
        if operation in self.write_operations:
            status = str(answer.status)
            outcome = answer.outcome
            self.log_request(operation, key or None, outcome, status, xml_str)
            log.info("center.write", operation=operation, key=key, outcome=outcome)
        return answer

    def _parse_document(self, xml_str: str) -> etree._Element:
        if not clean(xml_str):
            raise Refusal("xmlStr参数不能为空")
        try:
            return parse_xml(xml_str.strip(), system=self.name)
        except BridgeError as exc:
            raise Refusal(f"xmlStr格式不正确：{exc.message}") from exc

    # -- token -------------------------------------------------------------------

    def _get_token(self, arguments: dict[str, str]) -> Answer:
        key, secret = clean(arguments.get("key")), clean(arguments.get("secret"))
        if (key, secret) != (self.config["key"], self.config["secret"]):
            return Answer(300, "key或secret不正确", "error:key或secret不正确")
        token = secrets.token_hex(16)
        expires = self.clock.now().timestamp() + float(self.config["token_ttl_seconds"])
        with self.state.tx() as conn:
            conn.execute("INSERT INTO center_token VALUES (?, ?)", (token, expires))
        data = etree.Element("DATA")
        data.text = token
        return Answer(200, OK_DESC, "done", data, token=token)

    def _check_token(self, token: str) -> None:
        token = clean(token)
        if not token:
            raise Refusal("accessToken参数不正确")
        sql = "SELECT expires FROM center_token WHERE token = ?"
        row = self.state.one(sql, (token,))
        if row is None or row["expires"] <= self.clock.now().timestamp():
            raise Refusal(BAD_TOKEN)

    def _already(self, desc: str, data: etree._Element | None = None) -> Answer:
        return Answer(int(self.config["already_done_status"]), desc, "already", data)

    # -- the register ----------------------------------------------------------------

    def _now(self) -> str:
        return self.clock.local_text()

    def _next_number(self) -> str:
        year = self.clock.local_naive().strftime("%y")
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO center_serial VALUES (?, 1) ON CONFLICT(year)"
                " DO UPDATE SET value = value + 1",
                (year,),
            )
            serial = conn.execute(
                "SELECT value FROM center_serial WHERE year = ?", (year,)
            ).fetchone()[0]
        return f"0999{year}{serial:07d}"

    def _insert_case(self, case: Case) -> None:
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO center_case VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    case.number, case.sxbm, case.wssblsh or None, case.tjfs,
                    case.department, case.region, case.gxsj,
                    json.dumps(case.application, ensure_ascii=False),
                    json.dumps(case.blocks, ensure_ascii=False),
                    _dumps(case.acceptance), _dumps(case.completion),
                ),
            )  # fmt: skip

    def _update(self, number: str, column: str, data: dict[str, str] | None) -> None:
        with self.state.tx() as conn:
            conn.execute(
                f"UPDATE center_case SET {column} = ?, gxsj = ? WHERE sblsh_short = ?",
                (_dumps(data), self._now(), number),
            )

    def _touch(self, number: str) -> None:
        with self.state.tx() as conn:
            conn.execute(
                "UPDATE center_case SET gxsj = ? WHERE sblsh_short = ?",
                (self._now(), number),
            )

    def _case(self, number: str) -> Case | None:
        sql = "SELECT * FROM center_case WHERE sblsh_short = ?"
        row = self.state.one(sql, (number,))
        return Case.from_row(row) if row else None

    def _case_by_filing(self, wssblsh: str) -> Case | None:
        row = self.state.one("SELECT * FROM center_case WHERE wssblsh = ?", (wssblsh,))
        return Case.from_row(row) if row else None

    def _target(self, doc: etree._Element) -> Case:
        """The case a command names, checked against its SXBM."""
        number = code(value(doc, "SBLSH_SHORT"))
        case = self._case(number) if number else None
        if case is None:
            raise Refusal(NO_CASE)
        sxbm = code(value(doc, "SXBM"))
        if sxbm and sxbm != case.sxbm:
            raise Refusal(SXBM_MISMATCH)
        return case

    # -- registerOnlineCase ------------------------------------------------------------

    def _register(self, doc: etree._Element) -> Answer:
        wssblsh = code(value(doc, "WSSBLSH"))
        if not wssblsh:
            raise Refusal("网上申报流水号WSSBLSH不能为空")
        existing = self._case_by_filing(wssblsh)
        if existing is not None:
            data = data_element(SBLSH_SHORT=existing.number, WSSBLSH=wssblsh)
            return self._already("当前业务已登记", data)

        block = find(doc, "SPSHENQIN")
        application = fields_of(block if block is not None else doc)
        sxbm = code(application.get("SXBM") or value(doc, "SXBM"))
        if not sxbm:
            raise Refusal("事项编码SXBM不能为空")

        number = self._next_number()
        department = code(value(doc, "SLBMZZJGDM") or application.get("D_ZZJGDM"))
        case = self._new_case(number, sxbm, wssblsh, "1", application, department)
        case.blocks = _other_blocks(doc)
        self._insert_case(case)
        return done(data_element(SBLSH_SHORT=number, WSSBLSH=wssblsh))

    def _new_case(
        self,
        number: str,
        sxbm: str,
        wssblsh: str,
        tjfs: str,
        application: dict[str, str],
        department: str,
    ) -> Case:
        matter = _matter(sxbm)
        application = {key: text for key, text in application.items() if key}
        application.update(
            SBLSH_SHORT=number, SBLSH=number, SBHZH=number, SXBM=sxbm, TJFS=tjfs,
            WSSBLSH=wssblsh,
        )  # fmt: skip
        application["SXMC"] = application.get("SXMC") or str(matter.get("name", ""))
        application["SBSJ"] = application.get("SBSJ") or self._now()
        application["XZQHDM"] = application.get("XZQHDM") or str(BUREAU["region"])
        if not application.get("PROMISE_DAYS"):
            application["PROMISE_DAYS"] = str(matter.get("promised_days", 0))
        return Case(
            number=number, sxbm=sxbm, wssblsh=wssblsh, tjfs=tjfs,
            department=department or str(BUREAU["credit_code"]),
            region=application["XZQHDM"], gxsj=self._now(), application=application,
            blocks=[], acceptance=None, completion=None,
        )  # fmt: skip

    # -- queryWindowCases --------------------------------------------------------------

    def _query(self, doc: etree._Element) -> Answer:
        since = self._time_arg(doc, "KSSJ") or "0000-00-00 00:00:00"
        after_time = self._time_arg(doc, "AFTER_GXSJ")
        after_key = code(value(doc, "AFTER_SBLSH"))
        size = _page_size(code(value(doc, "PAGESIZE")))
        department = code(value(doc, "SLBMZZJGDM"))

        sql = "SELECT * FROM center_case WHERE gxsj >= ?"
        params: list[Any] = [since]
        if department:
            sql += " AND department = ?"
            params.append(department)
        if after_time:
            sql += " AND (gxsj > ? OR (gxsj = ? AND sblsh_short > ?))"
            params += [after_time, after_time, after_key]
        sql += " ORDER BY gxsj, sblsh_short LIMIT ?"
        rows = self.state.query(sql, (*params, size + 1))

        data = etree.Element("DATA")
        records = etree.SubElement(data, "RECORDS")
        for row in rows[:size]:
            records.append(self._record(Case.from_row(row)))
        etree.SubElement(data, "HASMORE").text = "1" if len(rows) > size else "0"
        return done(data)

    def _time_arg(self, doc: etree._Element, name: str) -> str:
        raw = value(doc, name)
        if raw and parse_time(raw) is None:
            raise Refusal(f"{name}时间格式不正确")
        return raw

    def _record(self, case: Case) -> etree._Element:
        merged = {**case.application, **(case.acceptance or {})}
        merged.update(
            SBLSH_SHORT=case.number, SXBM=case.sxbm, TJFS=case.tjfs,
            WSSBLSH=case.wssblsh, GXSJ=case.gxsj,
            BJJGDM=(case.completion or {}).get("BJJGDM", ""),
            XZQHDM=case.application.get("XZQHDM", case.region),
        )  # fmt: skip
        record = etree.Element("RECORD")
        for tag in RECORD_TAGS:
            etree.SubElement(record, tag).text = merged.get(tag, "")
        return record

    # -- getApplyInfo ------------------------------------------------------------------

    def _apply_info(self, doc: etree._Element) -> Answer:
        number = code(value(doc, "SBLSH_SHORT"))
        wssblsh = code(value(doc, "WSSBLSH"))
        if number:
            case = self._target(doc)
        elif wssblsh:
            case = self._case_by_filing(wssblsh)
            if case is None:
                raise Refusal(NO_CASE)
        else:
            raise Refusal(NO_CASE)
        return done(self._case_data(case))

    def _case_data(self, case: Case) -> etree._Element:
        app = case.application
        data = data_element(
            SXBBBM="", SXBDBM="", FORM_DATA_ID="",
            PROMISE_DAYS=app.get("PROMISE_DAYS", "0"), LIMIT_TIME="-",
            BATCH_ID="WB" + hashlib.md5(case.number.encode()).hexdigest(),
            YWLY="01", BJMC=app.get("SBXMMC") or app.get("SXMC", ""),
            ACTUALREGION=case.region, WSSBLSH=case.wssblsh, GXSJ=case.gxsj,
        )  # fmt: skip
        for block in case.blocks:
            data.append(parse_xml(block, system=self.name))
        append_fields(data, "SPSHENQIN", app)
        if case.acceptance is not None:
            append_fields(data, "SPSHOULI", case.acceptance)
        for step in self._steps(case.number):
            append_fields(data, "GDBSSPCL", step)
        for start, finish in self._suspensions(case.number):
            append_fields(data, "SPTEBIESHENQING", start)
            if finish is not None:
                append_fields(data, "SPTEBIEJIEGUO", finish)
        if case.completion is not None:
            append_fields(data, "SPBANJIE", case.completion)
        return data

    def _steps(self, number: str) -> list[dict[str, str]]:
        rows = self.state.query(
            "SELECT fields FROM center_step WHERE sblsh_short = ? ORDER BY position",
            (number,),
        )
        return [json.loads(row["fields"]) for row in rows]

    def _suspensions(
        self, number: str
    ) -> list[tuple[dict[str, str], dict[str, str] | None]]:
        rows = self.state.query(
            "SELECT start, finish FROM center_suspension WHERE sblsh_short = ?"
            " ORDER BY position",
            (number,),
        )
        return [
            (json.loads(row["start"]), _loads(row["finish"])) for row in rows
        ]

    # -- receiveBusinessAccept ---------------------------------------------------------

    def _accept(self, doc: etree._Element) -> Answer:
        case = self._target(doc)
        if case.acceptance is not None:
            return self._already("当前业务已受理")
        if case.completion is not None:
            raise Refusal(CLOSED_CASE)

        block = find(doc, "SHOULI")
        shouli = fields_of(block if block is not None else doc)
        verdict = code(shouli.get("YWSLZT")) or "1"
        if verdict not in ("0", "1"):
            raise Refusal("受理状态YWSLZT不正确")

        acceptance = self._acceptance(case, shouli, verdict)
        self._update(case.number, "acceptance", acceptance)
        return done()

    def _acceptance(
        self, case: Case, shouli: dict[str, str], verdict: str
    ) -> dict[str, str]:
        return {
            "SBLSH_SHORT": case.number,
            "SBLSH": case.number,
            "SXBM": case.sxbm,
            "SLBMMC": shouli.get("YWSLBMMC") or str(BUREAU["name"]),
            "SLBMZZJGDM": code(shouli.get("YWSLBMBM")) or case.department,
            "XZQHDM": code(shouli.get("YWSLQHBM")) or case.region,
            "XZQHMC": shouli.get("YWSLQHMC", ""),
            "BLRXM": shouli.get("YWSLRMC", ""),
            "BLRGH": shouli.get("YWSLRBM", ""),
            "SLZTDM": "1" if verdict == "1" else "4",
            "BLYJ": shouli.get("YWSLYJ", ""),
            "SLHZH": case.number,
            "SLSJ": shouli.get("YWSLSJ") or self._now(),
        }

    # -- receiveCourseInfo -------------------------------------------------------------

    def _course(self, doc: etree._Element) -> Answer:
        case = self._target(doc)
        block = find(doc, "GDBSSPCL")
        step = fields_of(block if block is not None else doc)
        serial = code(step.get("SPHJXH"))
        if not serial:
            raise Refusal("环节序号SPHJXH不能为空")

        if self._has_step(case.number, serial):
            return self._already("当前业务已接收该审批环节")
        self._require_open(case)

        step["SPHJXH"] = serial
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO center_step(sblsh_short, sphjxh, fields) VALUES (?, ?, ?)",
                (case.number, serial, json.dumps(step, ensure_ascii=False)),
            )
        self._touch(case.number)
        return done()

    def _has_step(self, number: str, serial: str) -> bool:
        row = self.state.one(
            "SELECT 1 FROM center_step WHERE sblsh_short = ? AND sphjxh = ?",
            (number, serial),
        )
        return row is not None

    def _require_open(self, case: Case) -> None:
        """Refuse a new record on a completed or not (yet) accepted case."""
        if case.completion is not None:
            raise Refusal(CLOSED_CASE)
        if case.acceptance is None or case.acceptance.get("SLZTDM") != "1":
            raise Refusal(NOT_ACCEPTED)

    # -- getSuspendInfo ----------------------------------------------------------------

    def _suspend(self, doc: etree._Element) -> Answer:
        case = self._target(doc)
        kind = code(value(doc, "SUSPENDTYPE"))
        if not kind:
            kind = "1" if find(doc, "SPTEBIEJIEGUO") is not None else "0"
        if kind not in ("0", "1"):
            raise Refusal("特别程序类型SUSPENDTYPE不正确")

        tag = "SPTEBIESHENQING" if kind == "0" else "SPTEBIEJIEGUO"
        block = find(doc, tag)
        record = fields_of(block if block is not None else doc)
        serial = code(record.get("XH"))
        if not serial:
            raise Refusal("特别程序序号XH不能为空")
        record["XH"] = serial

        if kind == "0":
            return self._suspension_start(case, serial, record)
        return self._suspension_end(case, serial, record)

    def _suspension_row(self, number: str, serial: str) -> sqlite3.Row | None:
        return self.state.one(
            "SELECT * FROM center_suspension WHERE sblsh_short = ? AND xh = ?",
            (number, serial),
        )

    def _suspension_start(
        self, case: Case, serial: str, record: dict[str, str]
    ) -> Answer:
        if self._suspension_row(case.number, serial) is not None:
            return self._already("当前业务已申请特别程序")
        self._require_open(case)

        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO center_suspension(sblsh_short, xh, start)"
                " VALUES (?, ?, ?)",
                (case.number, serial, json.dumps(record, ensure_ascii=False)),
            )
        self._touch(case.number)
        return done()

    def _suspension_end(
        self, case: Case, serial: str, record: dict[str, str]
    ) -> Answer:
        row = self._suspension_row(case.number, serial)
        if row is not None and row["finish"]:
            return self._already("当前业务已结束特别程序")
        if row is None:
            raise Refusal(NO_OPEN_SUSPENSION)
        self._require_open(case)

        with self.state.tx() as conn:
            conn.execute(
                "UPDATE center_suspension SET finish = ? WHERE position = ?",
                (json.dumps(record, ensure_ascii=False), row["position"]),
            )
        self._touch(case.number)
        return done()

    # -- receiveBusinessFinish ---------------------------------------------------------

    def _finish(self, doc: etree._Element) -> Answer:
        case = self._target(doc)
        if case.completion is not None:
            return self._already("当前业务已办结")
        if case.acceptance is None:
            raise Refusal(NOT_ACCEPTED)

        block = find(doc, "SPBANJIE")
        completion = fields_of(block if block is not None else doc)
        result_code = code(completion.get("BJJGDM"))
        if not result_code:
            raise Refusal("办结结果代码BJJGDM不能为空")

        completion.update(BJJGDM=result_code, SBLSH_SHORT=case.number, SXBM=case.sxbm)
        completion["BJSJ"] = completion.get("BJSJ") or self._now()
        self._update(case.number, "completion", completion)
        return done()

    # -- admin API ---------------------------------------------------------------------

    def admin_routes(self) -> list[tuple[str, str, AdminHandler]]:
        return [
            ("POST", r"/cases", lambda body, query, match: self.file_window_case(body)),
            ("POST", r"/cases/bulk", lambda body, query, match: self._bulk(body)),
            ("DELETE", r"/cases/(?P<number>[^/]+)", self._admin_delete),
            ("POST", r"/config", lambda body, query, match: self.configure(body)),
            ("GET", r"/config", lambda body, query, match: dict(self.config)),
        ]

    def _bulk(self, body: dict[str, Any]) -> dict[str, list[str]]:
        """File ``count`` invented window cases, 500 per transaction (benchmarks)."""
        numbers = self.file_in_bulk(
            body, lambda: self.file_window_case({}, quiet=True)["SBLSH_SHORT"]
        )
        log.info("center.cases_bulk", count=len(numbers))
        return {"cases": numbers}

    def file_window_case(
        self, given: dict[str, Any], *, quiet: bool = False
    ) -> dict[str, str]:
        """File a case accepted at the window; missing fields come from the seed
        (``quiet``, for bulk filing: not logged one by one).

        The department is ``SLBMZZJGDM`` (or ``department``), hbj's by default;
        the forestry bureau's gets one of its matters.
        """
        given = dict(given)
        named = given.pop("department", "") or given.pop("SLBMZZJGDM", "")
        department = code(str(named or ""))
        forestry = department == FORESTRY["credit_code"]
        seeded = self._seed.window_case(self.clock.local_naive(), forestry=forestry)
        application = {**seeded, **({"SLBMMC": FORESTRY["name"]} if forestry else {})}
        application.update({key: clean(str(text)) for key, text in given.items()})
        for tag in TIME_TAGS & set(application):
            application[tag] = normalise_time(application[tag])
        sxbm = code(application.get("SXBM"))

        with self.state.tx():
            number = self._next_number()
            case = self._new_case(number, sxbm, "", "0", application, department)
            case.acceptance = self._window_acceptance(case, application)
            self._insert_case(case)
        if not quiet:
            log.info("center.case_filed", case=number, matter=sxbm)
        return {"SBLSH_SHORT": number}

    def _window_acceptance(
        self, case: Case, application: dict[str, str]
    ) -> dict[str, str]:
        return {
            "SBLSH_SHORT": case.number,
            "SBLSH": case.number,
            "SXBM": case.sxbm,
            "SLBMMC": application.get("SLBMMC") or str(BUREAU["name"]),
            "SLBMZZJGDM": case.department,
            "XZQHDM": case.region,
            "BLRXM": application.get("BLRXM") or "窗口受理员",
            "SLZTDM": "1",
            "SLHZH": case.number,
            "SLSJ": application.get("SLSJ") or self._now(),
        }

    def _admin_delete(
        self, body: dict[str, Any], query: dict[str, list[str]], match: re.Match[str]
    ) -> dict[str, Any]:
        number = match.group("number")
        with self.state.tx() as conn:
            removed = conn.execute(
                "DELETE FROM center_case WHERE sblsh_short = ?", (number,)
            ).rowcount
            conn.execute("DELETE FROM center_step WHERE sblsh_short = ?", (number,))
            conn.execute(
                "DELETE FROM center_suspension WHERE sblsh_short = ?", (number,)
            )
        if not removed:
            raise AdminError(f"no case {number}")
        return {"deleted": number}

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the simulator's behaviour (POST /admin/config)."""
        unknown = set(changes) - set(DEFAULT_CONFIG)
        if unknown:
            raise AdminError(f"unknown settings {sorted(unknown)}")
        if changes.get("already_done_status", 200) not in (200, 300):
            raise AdminError("already_done_status is 200 or 300")
        if float(changes.get("token_ttl_seconds", 1)) <= 0:
            raise AdminError("token_ttl_seconds must be positive")
        self.config.update(changes)
        return dict(self.config)

    def snapshot(self) -> dict[str, Any]:
        rows = self.state.query("SELECT * FROM center_case ORDER BY gxsj, sblsh_short")
        cases = [self._case_state(row) for row in rows]
        return {"config": dict(self.config), "cases": cases}

    def _case_state(self, row: sqlite3.Row) -> dict[str, Any]:
        case = Case.from_row(row)
        return {
            "SBLSH_SHORT": case.number,
            "SXBM": case.sxbm,
            "WSSBLSH": case.wssblsh,
            "TJFS": case.tjfs,
            "department": case.department,
            "GXSJ": case.gxsj,
            "application": case.application,
            "acceptance": case.acceptance,
            "steps": self._steps(case.number),
            "suspensions": [
                {"XH": start.get("XH", ""), "start": start, "end": finish}
                for start, finish in self._suspensions(case.number)
            ],
            "completion": case.completion,
        }

    def reset(self) -> None:
        with self.state.tx() as conn:
            for table in ("center_case", "center_step", "center_suspension"):
                conn.execute(f"DELETE FROM {table}")  # fixed names, not input
            conn.execute("DELETE FROM center_token")
            conn.execute("DELETE FROM center_serial")
        self.config = dict(DEFAULT_CONFIG)
        self._seed = Seed(self.seed)


# -- small helpers ---------------------------------------------------------------------


def _other_blocks(doc: etree._Element) -> list[str]:
    """Blocks of a registration besides SPSHENQIN (applicant, materials), as text."""
    return [
        etree.tostring(child, encoding="unicode")
        for child in doc
        if isinstance(child.tag, str) and len(child) and local(child.tag) != "SPSHENQIN"
    ]


def _matter(sxbm: str) -> dict[str, Any]:
    return MATTERS_BY_CODE.get(sxbm, {})


def _page_size(raw: str) -> int:
    if not raw:
        return 100
    if not raw.isdigit() or int(raw) < 1:
        raise Refusal("PAGESIZE不正确")
    return min(int(raw), 1000)


def _dumps(data: dict[str, str] | None) -> str | None:
    return json.dumps(data, ensure_ascii=False) if data is not None else None


def _loads(text: str | None) -> dict[str, str] | None:
    return json.loads(text) if text else None
