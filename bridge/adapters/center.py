"""The adapter for the city center's case register (接办件系统).

Every call carries an APPROVEDATAINFO document as the string ``xmlStr`` and
gets a RESULT document back as a string (center-formats §1, §7). The center
says no with STATUS 300 and a Chinese DESC, never with a SOAP fault; this
module turns those answers into outcomes and errors:

- DESC starting with the already-done prefix (``当前业务已``), under a STATUS
  the quirk profile lists (200 and 300 by default), is
  :attr:`WriteOutcome.ALREADY`;
- DESC ``接口令牌不存在`` fetches a new token and sends the request once more;
- any other STATUS 300 is a :class:`RejectedError` carrying DESC as fault_text.

zeep loads the bundled WSDL once, at start; each call's envelope is written
and its answer read with lxml (bridge/adapters/envelope.py).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
import zeep
from lxml import etree

from bridge.adapters import envelope
from bridge.adapters.base import Cursor, Page, WriteOutcome
from bridge.adapters.quirks import QuirkProfile, profile_from
from bridge.adapters.transport import (
    POOL_SIZE,
    make_transport,
    translate,
    zeep_settings,
)
from bridge.errors import (
    ProtocolError,
    RejectedError,
    TokenExpiredError,
    ValidationError,
)
from bridge.paths import WSDL_DIR
from bridge.xmlutil import local, parse_xml, text

log = structlog.get_logger()

SYSTEM = "center"
CENTER_NS = "urn:zwfw:center:approve:1"
ENDPOINT = "/center/services/ApproveService"
WSDL_PATH = WSDL_DIR / "center" / "ApproveService.wsdl"
BINDING = f"{{{CENTER_NS}}}ApproveServiceSoapBinding"
PROLOG = '<?xml version="1.0" encoding="utf-8"?>'
BAD_TOKEN = "接口令牌不存在"
NO_CASE = "获取办件信息失败"
OPERATIONS = (
    "getXmlToken",
    "registerOnlineCase",
    "queryWindowCases",
    "getApplyInfo",
    "receiveBusinessAccept",
    "receiveCourseInfo",
    "getSuspendInfo",
    "receiveBusinessFinish",
)


@dataclass(frozen=True)
class Reply:
    """A RESULT document: STATUS, DESC and the DATA element (if any)."""

    status: str
    desc: str
    data: etree._Element | None
    root: etree._Element

    @property
    def ok(self) -> bool:
        return self.status == "200"


class CenterAdapter:
    """Registers online cases, lists window cases, writes each case's life."""

    system = SYSTEM

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        department_code: str,
        region_code: str,
        already_done_prefix: str | None = None,
        timeout: float = 10,
        deadline: float = 30,
        quirks: QuirkProfile | dict[str, Any] | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        profile = profile_from(quirks, SYSTEM)
        if already_done_prefix is not None:
            profile = dataclasses.replace(
                profile, already_done_prefix=already_done_prefix
            )
        self.quirks = profile
        self.address = _endpoint(url)
        self.department_code = department_code
        self.region_code = region_code
        self.already_done_prefix = profile.already_done_prefix
        self._key = key
        self._secret = secret
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._transport = make_transport(
            SYSTEM,
            timeout,
            deadline,
            pool_size=pool_size,
            quirks=profile,
            bundle=WSDL_PATH.parent,
        )
        client = zeep.Client(
            str(WSDL_PATH), transport=self._transport, settings=zeep_settings(profile)
        )
        self._operations = envelope.operations_of(client, BINDING, OPERATIONS)
        self._huge = profile.max_bytes > 10_000_000

    def close(self) -> None:
        """Release the pooled HTTP connections."""
        self._transport.close()

    # -- reading -------------------------------------------------------------------

    def query_window_cases(
        self,
        since: str,
        after: Cursor | None,
        page_size: int = 100,
        department: str | None = None,
    ) -> Page:
        """One page of the department's cases changed at or after ``since``
        (``department``: another department's, for a further bureau)."""
        query = etree.Element("APPROVEDATAINFO")
        chosen = self.department_code if department is None else department
        _sub(query, "SLBMZZJGDM", chosen)
        _sub(query, "XZQHDM", self.region_code)
        _sub(query, "KSSJ", since)
        _sub(query, "PAGESIZE", str(page_size))
        if after is not None:
            _sub(query, "AFTER_GXSJ", after.time)
            _sub(query, "AFTER_SBLSH", after.key)

        reply = self._request("queryWindowCases", query, None)
        if not reply.ok:
            raise self._rejected("queryWindowCases", reply, None)

        data = _need_data(reply, "queryWindowCases")
        records = [_detached(record) for record in data.iter("RECORD")]
        cursor = None
        if records:
            last = records[-1]
            cursor = Cursor(self._cursor_time(last), text(last, "SBLSH_SHORT"))
        has_more = text(data, "HASMORE") == "1"
        return Page(records=records, has_more=has_more, cursor=cursor)

    def get_apply_info(
        self,
        case_number: str | None = None,
        filing_id: str | None = None,
        matter_code: str | None = None,
    ) -> etree._Element | None:
        """The DATA of one case by number or filing id; None if the center has none."""
        if not case_number and not filing_id:
            raise ValueError("get_apply_info needs a case number or a filing id")
        query = etree.Element("APPROVEDATAINFO")
        if case_number:
            _sub(query, "SBLSH_SHORT", case_number)
        if matter_code:
            _sub(query, "SXBM", matter_code)
        if filing_id:
            _sub(query, "WSSBLSH", filing_id)

        record = case_number or filing_id
        reply = self._request("getApplyInfo", query, record)
        if not reply.ok and NO_CASE in reply.desc:
            return None
        if not reply.ok:
            raise self._rejected("getApplyInfo", reply, record)
        return _detached(_need_data(reply, "getApplyInfo"))

    # -- writing -------------------------------------------------------------------

    def register_online_case(self, doc: etree._Element) -> tuple[str, WriteOutcome]:
        """Register an online filing; the center's case number and how it took it."""
        record = _find_text(doc, "WSSBLSH") or None
        reply = self._request("registerOnlineCase", doc, record)
        outcome = self._outcome("registerOnlineCase", reply, record)

        number = text(reply.data, "SBLSH_SHORT")
        if not number:
            raise ProtocolError(
                "registration answer carries no SBLSH_SHORT",
                system=SYSTEM,
                operation="registerOnlineCase",
                record=record,
            )
        return number, outcome

    def accept(self, doc: etree._Element) -> WriteOutcome:
        """Record the acceptance (SHOULI) of an online case."""
        return self._write("receiveBusinessAccept", doc)

    def record_step(self, doc: etree._Element) -> WriteOutcome:
        """Record one process step (GDBSSPCL), keyed by its SPHJXH."""
        return self._write("receiveCourseInfo", doc)

    def suspend(self, doc: etree._Element) -> WriteOutcome:
        """Record a suspension start or end (SPTEBIESHENQING / SPTEBIEJIEGUO)."""
        return self._write("getSuspendInfo", doc)

    def finish(self, doc: etree._Element) -> WriteOutcome:
        """Record the completion (SPBANJIE), a withdrawal included."""
        return self._write("receiveBusinessFinish", doc)

    def _write(self, operation: str, doc: etree._Element) -> WriteOutcome:
        record = _find_text(doc, "SBLSH_SHORT") or None
        reply = self._request(operation, doc, record)
        return self._outcome(operation, reply, record)

    def _cursor_time(self, record: etree._Element) -> str:
        """GXSJ in the canonical form; as sent when no declared format fits."""
        raw = text(record, "GXSJ")
        try:
            return self.quirks.local_text(raw, field="GXSJ")
        except ValidationError:
            log.warning("center.cursor_time_unreadable", field="GXSJ")
            return raw

    def _outcome(
        self, operation: str, reply: Reply, record: str | None
    ) -> WriteOutcome:
        if self.quirks.is_already_done(reply.status, reply.desc):
            return WriteOutcome.ALREADY
        if reply.ok:
            return WriteOutcome.DONE
        raise self._rejected(operation, reply, record)

    def _rejected(
        self, operation: str, reply: Reply, record: str | None
    ) -> RejectedError:
        return RejectedError(
            f"center refused {operation}",
            system=SYSTEM,
            operation=operation,
            record=record,
            fault_code=reply.status,
            fault_text=reply.desc,
        )

    # -- token and the one place a call happens ------------------------------------

    def _request(
        self, operation: str, doc: etree._Element, record: str | None
    ) -> Reply:
        """Send ``doc`` with the current token; refresh the token once if refused."""
        xml_str = PROLOG + etree.tostring(doc, encoding="unicode")
        token = self._current_token()
        reply = self._reply(operation, self._call(operation, record, token, xml_str))
        if reply.ok or BAD_TOKEN not in reply.desc:
            return reply

        log.info("center.token_refused", operation=operation)
        token = self._current_token(stale=token)
        reply = self._reply(operation, self._call(operation, record, token, xml_str))
        if not reply.ok and BAD_TOKEN in reply.desc:
            raise TokenExpiredError(
                "center refused a fresh token",
                system=SYSTEM,
                operation=operation,
                record=record,
                fault_text=reply.desc,
            )
        return reply

    def _current_token(self, stale: str | None = None) -> str:
        """The token in use; a new one when there is none or it is ``stale``."""
        with self._token_lock:
            if self._token is None or self._token == stale:
                self._token = self._fetch_token()
            return self._token

    def _fetch_token(self) -> str:
        raw = self._call("getXmlToken", None, self._key, self._secret)
        reply = self._reply("getXmlToken", raw)
        token = text(reply.root, "TOKEN") or text(reply.root, "DATA")
        if not reply.ok or not token:
            raise self._rejected("getXmlToken", reply, None)
        log.info("center.token_fetched")
        return token

    def _call(self, operation: str, record: str | None, *arguments: str) -> str:
        """One call; the ``return`` string of its answer ("" when there is none)."""
        started = time.monotonic()
        try:
            answer = self._exchange(operation, arguments)
        except Exception as exc:
            error = translate(exc, SYSTEM, operation, record)
            log.warning(
                "center.call_failed",
                operation=operation,
                record=record,
                error=type(error).__name__,
                ms=_ms(started),
            )
            raise error from exc
        log.debug("center.call", operation=operation, record=record, ms=_ms(started))
        return answer or ""

    def _exchange(self, operation: str, arguments: tuple[str, ...]) -> str | None:
        """Post the envelope of ``operation`` with ``arguments`` in contract order."""
        bound = self._operations[operation]
        names = [child.name for child in bound.children]
        if len(arguments) > len(names):
            raise TypeError(f"{operation}() takes {len(names)} arguments")
        values = dict(zip(names, arguments, strict=False))
        payload, headers = envelope.request(bound, values, address=self.address)
        response = self._transport.post(self.address, payload, headers)
        wrapper = envelope.answer(response, bound, huge=self._huge)
        if wrapper is None:
            return None
        return envelope.value(envelope.first(wrapper, "return"))

    def _reply(self, operation: str, raw: str) -> Reply:
        root = parse_xml(raw.strip(), system=SYSTEM) if raw.strip() else None
        if root is None or local(root.tag) != "RESULT":
            raise ProtocolError(
                "answer is not a RESULT document", system=SYSTEM, operation=operation
            )
        status = text(root, "STATUS")
        if status not in ("200", "300"):
            raise ProtocolError(
                f"unknown STATUS {status!r}", system=SYSTEM, operation=operation
            )
        return Reply(status, text(root, "DESC"), root.find("DATA"), root)


def _endpoint(url: str) -> str:
    """The service address: ``url`` itself, or the standard path below a bare host."""
    if urlsplit(url).path in ("", "/"):
        return url.rstrip("/") + ENDPOINT
    return url


def _sub(parent: etree._Element, tag: str, value: str) -> None:
    etree.SubElement(parent, tag).text = value


def _find_text(doc: etree._Element, name: str) -> str:
    """The text of the first element named ``name`` anywhere in ``doc``."""
    for element in doc.iter():
        if isinstance(element.tag, str) and local(element.tag) == name:
            return (element.text or "").strip()
    return ""


def _need_data(reply: Reply, operation: str) -> etree._Element:
    if reply.data is None:
        raise ProtocolError(
            "answer carries no DATA", system=SYSTEM, operation=operation
        )
    return reply.data


def _detached(element: etree._Element) -> etree._Element:
    """A copy of ``element`` as a document of its own."""
    return copy.deepcopy(element)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
