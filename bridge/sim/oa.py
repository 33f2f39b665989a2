"""The OA simulator: a SeeYon A8 stand-in speaking the contract of seeyon-contract.md.

Wire shapes live in ``oa_soap``, the form and export documents in ``oa_form``,
node-by-node progress and code tables in ``oa_flow``; the upload servlet in
``oa_upload``. This module holds the state and answers the operations.
"""

from __future__ import annotations

import copy
import json
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from lxml import etree

from bridge.paths import WSDL_DIR
from bridge.sim import oa_soap as wire
from bridge.sim.base import AdminError, AdminHandler, Response, Simulator, SoapRequest
from bridge.sim.oa_flow import (
    DEFAULT_ERROR_CODES,
    DEFAULT_STATE_CODES,
    MEMBERS,
    Pace,
    advance,
)
from bridge.sim.oa_form import (
    CASE_COLUMN,
    FormDataError,
    FormRecord,
    Template,
    default_templates,
    flow_element,
    parse_form,
    parse_window_time,
    template_definition,
)
from bridge.sim.oa_profile import VendorProfile
from bridge.sim.oa_upload import UploadError, parse_upload
from bridge.xmlutil import to_text

log = structlog.get_logger()

OA_DDL = """
CREATE TABLE IF NOT EXISTS oa_flow (
    flow_id INTEGER PRIMARY KEY,
    template_code TEXT NOT NULL,
    subject TEXT NOT NULL,
    sender TEXT NOT NULL,
    state INTEGER NOT NULL,
    case_key TEXT,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    node_index INTEGER NOT NULL,
    node_start TEXT NOT NULL,
    step_backs INTEGER NOT NULL,
    due REAL,
    form TEXT NOT NULL,
    form_xml TEXT NOT NULL,
    attachments TEXT NOT NULL,
    relate_doc TEXT,
    record TEXT NOT NULL
);
-- the flows a tick moves on: found without reading every flow ever launched
CREATE INDEX IF NOT EXISTS oa_flow_due ON oa_flow(due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS oa_attachment (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    sender TEXT,
    upload_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oa_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login_names TEXT NOT NULL,
    content TEXT,
    urls TEXT NOT NULL,
    time TEXT NOT NULL
);
"""

DEFAULT_CONFIG: dict[str, Any] = {
    "listing_selects_by": "create",  # or "change"
    "bad_login_answer": "minus_one",  # or "fault"
    "token_ttl_seconds": 1800.0,
    "launch_token_error": "generic_fault",  # or "error_number"
    "state_codes": DEFAULT_STATE_CODES,
    "error_codes": DEFAULT_ERROR_CODES,
    "accounts": {"service-admin": "123456"},
}
CONFIG_CHOICES = {
    "listing_selects_by": ("create", "change"),
    "bad_login_answer": ("minus_one", "fault"),
    "launch_token_error": ("generic_fault", "error_number"),
}
JSON_COLUMNS = ("form", "attachments", "record")
LAUNCH = "launchFormCollaboration"


class OaSimulator(Simulator):
    """SeeYon A8 stand-in: authority, BPM, document and message services."""

    name = "oa"
    write_operations = frozenset({LAUNCH, "upload", "sendMessageByLoginName"})

    def __init__(
        self,
        db_path: str | Path,
        profile: VendorProfile | None = None,
        **options: Any,
    ) -> None:
        self.profile = profile
        self.config: dict[str, Any] = self._initial_config()
        self.pace = Pace()
        self.templates: dict[str, Template] = default_templates()
        if profile is not None:
            self.name = f"oa-{profile.name}" if profile.name != "hbj" else "oa"
            self.templates = _profile_templates(profile) or self.templates
        self._tokens: dict[str, float] = {}
        super().__init__(db_path, **options)

    def _initial_config(self) -> dict[str, Any]:
        config = copy.deepcopy(DEFAULT_CONFIG)
        if self.profile is not None:
            config["state_codes"] = self.profile.states()
        return config

    @property
    def case_column(self) -> str:
        """The form column holding the center's case number."""
        return self.profile.case_column if self.profile is not None else CASE_COLUMN

    def create_tables(self) -> None:
        self.state.script(OA_DDL)

    # -- codes -------------------------------------------------------------------------

    def code(self, name: str) -> int:
        """The configured number of a server error enum."""
        return int(self.config["error_codes"][name])

    def states(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.config["state_codes"].items()}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # -- SOAP entry --------------------------------------------------------------------

    def handle_soap(self, request: SoapRequest) -> Response:
        service = wire.service_of(request.path)
        if service is None:
            return wire.generic_fault(request.version, f"服务不存在: {request.path}")
        namespace = wire.SERVICE_NS[service]
        spec = wire.OPERATIONS[service].get(request.operation)
        root_ns = etree.QName(request.body).namespace
        if spec is None or root_ns != namespace:
            text = "The endpoint reference (EPR) for the Operation not found: "
            return wire.generic_fault(
                request.version, text + request.operation, "Sender"
            )
        if request.action not in (None, "", f"urn:{request.operation}"):
            text = f"SOAP action {request.action} does not match {request.operation}"
            return wire.generic_fault(request.version, text, "Sender")

        try:
            args = wire.read_request(request.body, namespace, spec)
        except wire.WireError as exc:
            return wire.generic_fault(request.version, str(exc), "Sender")

        try:
            payload = self._answer(request, service, args)
        except wire.ServiceFault as fault:
            return wire.typed_fault(request.version, namespace, fault)
        except _TokenFault as fault:
            return wire.generic_fault(request.version, fault.text)
        return self._encoded(wire.answer(payload, request.version))

    def _encoded(self, response: Response) -> Response:
        """The answer in the profile's encoding (declaration and charset too)."""
        encoding = self.profile.encoding if self.profile is not None else "UTF-8"
        if encoding.upper() in ("UTF-8", "UTF8"):
            return response
        envelope = etree.fromstring(response.body)
        response.body = etree.tostring(
            envelope, xml_declaration=True, encoding=encoding
        )
        response.content_type = response.content_type.replace(
            "charset=UTF-8", f"charset={encoding}"
        )
        return response

    def _answer(
        self, request: SoapRequest, service: str, args: dict[str, Any]
    ) -> etree._Element:
        operation = request.operation
        namespace = wire.SERVICE_NS[service]
        if operation == "authenticate":
            return self._authenticate(namespace, args)
        if not self.token_valid(args["token"]):
            return self._token_refused(namespace, operation, args, request)
        handler: Callable[[str, dict[str, Any], SoapRequest], etree._Element]
        handler = getattr(self, f"_op_{operation}")
        return handler(namespace, args, request)

    # -- tokens ------------------------------------------------------------------------

    def token_valid(self, token: str | None) -> bool:
        """True when ``token`` was issued and has not outlived its lifetime."""
        issued = self._tokens.get(token or "")
        if issued is None:
            return False
        return self._now() - issued <= float(self.config["token_ttl_seconds"])

    def _token_message(self, token: str | None) -> str:
        return f"token无效或已过期(invalid token): {token}"

    def _authenticate(self, namespace: str, args: dict[str, Any]) -> etree._Element:
        user, password = args["userName"] or "", args["password"] or ""
        if self.config["accounts"].get(user) != password or not user:
            log.info("oa.sim.login_refused", user=user)
            if self.config["bad_login_answer"] == "fault":
                raise wire.ServiceFault(
                    self.code("authorityservice"), "用户名或密码错误"
                )
            return wire.user_token(namespace, "authenticate", "-1")
        token = secrets.token_hex(16)
        self._tokens[token] = self._now()
        return wire.user_token(namespace, "authenticate", token)

    def _token_refused(
        self, namespace: str, operation: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        message = self._token_message(args["token"])
        number = self.code("authorityservice")
        if operation != LAUNCH:
            raise wire.ServiceFault(number, message)
        key = _case_key(args.get("data"), self.profile)
        if self.config["launch_token_error"] == "error_number":
            self._log_launch(key, f"error:{number}", request)
            return wire.service_response(namespace, LAUNCH, number, message, 0)
        self._log_launch(key, "fault:token", request)
        raise _TokenFault(message)

    # -- BPMService --------------------------------------------------------------------

    def _op_launchFormCollaboration(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        key = _case_key(args["data"], self.profile)
        try:
            flow_id = self._launch(args)
        except wire.ServiceFault as fault:
            self._log_launch(key, f"error:{fault.number}", request)
            return wire.service_response(
                namespace, LAUNCH, fault.number, fault.message, 0
            )
        self._log_launch(key, f"launched:{flow_id}", request)
        return wire.service_response(namespace, LAUNCH, 0, None, flow_id)

    def _log_launch(self, key: str | None, outcome: str, request: SoapRequest) -> None:
        body = request.raw.decode("utf-8", errors="replace")
        self.log_request(LAUNCH, key, outcome, request.version, body)

    def _launch(self, args: dict[str, Any]) -> int:
        code, sender = args["templateCode"] or "", args["senderLoginName"] or ""
        template = self.templates.get(code)
        if template is None:
            raise wire.ServiceFault(self.code("flowTempleExist"), f"模板不存在:{code}")
        if sender not in MEMBERS:
            raise wire.ServiceFault(
                self.code("formImportServiceMember"), f"发起人不存在:{sender}"
            )
        if not template.has_form:
            raise wire.ServiceFault(
                self.code("formImportServiceIsexit"), f"模板没有表单:{code}"
            )
        if template.senders is not None and sender not in template.senders:
            raise wire.ServiceFault(
                self.code("flowTempleAuth"), f"发起人[{sender}]无权使用模板:{code}"
            )
        try:
            form = parse_form(args["data"] or "", self.profile)
        except FormDataError as exc:
            raise wire.ServiceFault(
                self.code("formExportServiceDateInfoError"), str(exc)
            ) from exc
        param = (args["param"] or "0").strip()
        if param not in ("0", "1"):
            raise wire.ServiceFault(self.code("parameterError"), f"param错误:{param}")
        return self._store_flow(template, sender, args, form, draft=param == "1")

    def _store_flow(
        self,
        template: Template,
        sender: str,
        args: dict[str, Any],
        form: FormRecord,
        draft: bool,
    ) -> int:
        now = self.clock.local_text()
        subject = (args["subject"] or "").strip()
        if not subject:
            subject = f"{template.subject}({MEMBERS[sender][0]} {now})"
        states = self.states()
        flow = {
            "flow_id": self._new_flow_id(),
            "template_code": template.code,
            "subject": subject,
            "sender": sender,
            "state": states["draft"] if draft else states["sent"],
            "case_key": form.master.get(self.case_column),
            "create_time": now,
            "update_time": now,
            "node_index": 0,
            "node_start": now,
            "step_backs": 0,
            "due": None if draft else self._now() + self.pace.step_seconds,
            "form": form.as_json(),
            "form_xml": args["data"] or "",
            "attachments": list(args["attachments"]),
            "relate_doc": args["relateDoc"],
            "record": [],
        }
        self._save_flow(flow, insert=True)
        log.info(
            "oa.sim.flow_launched", flow_id=flow["flow_id"], template=template.code
        )
        return int(flow["flow_id"])

    def _new_flow_id(self) -> int:
        while True:
            candidate = secrets.randbits(64) - 2**63
            if candidate in (0, -1):
                continue
            if self.state.one("SELECT 1 FROM oa_flow WHERE flow_id=?", (candidate,)):
                continue
            return candidate

    def _op_getFlowState(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        flow = self._flow_or_fault(args["flowId"])
        return wire.scalar_return(namespace, request.operation, flow["state"])

    def _op_getAllFormCollIdsByDateTime(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        ids = self._list_ids(args["beginDateTime"], args["endDateTime"])
        return wire.list_return(namespace, request.operation, ids)

    def _op_getAllFormCollIdsByDateTimeAndState(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        wanted = set(args["state"])
        ids = self._list_ids(
            args["beginDateTime"], args["endDateTime"], states=wanted or None
        )
        return wire.list_return(namespace, request.operation, ids)

    def _op_getFormCollIdsByDateTime(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        codes = {code for code in args["templateCode"] if code}
        ids = self._list_ids(
            args["beginDateTime"], args["endDateTime"], templates=codes or None
        )
        return wire.list_return(namespace, request.operation, ids)

    def _list_ids(
        self,
        begin: str | None,
        end: str | None,
        *,
        states: set[int] | None = None,
        templates: set[str] | None = None,
    ) -> list[int]:
        try:
            low = parse_window_time(begin, end=False).strftime("%Y-%m-%d %H:%M:%S")
            high = parse_window_time(end, end=True).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError as exc:
            raise wire.ServiceFault(self.code("parameterError"), str(exc)) from exc
        column = "create_time"
        if self.config["listing_selects_by"] == "change":
            column = "update_time"
        rows = self.state.query(
            f"SELECT flow_id, state, template_code FROM oa_flow"
            f" WHERE {column} >= ? AND {column} <= ? ORDER BY {column}, flow_id",
            (low, high),
        )
        return [
            int(row["flow_id"])
            for row in rows
            if (states is None or row["state"] in states)
            and (templates is None or row["template_code"] in templates)
        ]

    def _op_getTemplateDefinition(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        code = args["templateCode"] or ""
        template = self.templates.get(code)
        if template is None:
            raise wire.ServiceFault(self.code("flowTempleExist"), f"模板不存在:{code}")
        return wire.list_return(
            namespace, request.operation, template_definition(template, self.profile)
        )

    # -- documentService ---------------------------------------------------------------

    def _op_exportFlow(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        flow = self._flow_or_fault(args["flowId"])
        document = self._document(flow_element(flow, self.profile))
        return wire.string_return(namespace, request.operation, document)

    _op_exportFlow2 = _op_exportFlow

    def _op_exportFlowList(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        root = etree.Element("flowExportList", version="1.0")
        for flow_id in args["flowIdArray"]:
            root.append(flow_element(self._flow_or_fault(flow_id), self.profile))
        document = self._document(root)
        return wire.string_return(namespace, request.operation, document)

    def _document(self, root: etree._Element) -> str:
        """An exported document as text, declaring the profile's encoding."""
        if self.profile is None:
            return to_text(root, declaration=True)
        head = f'<?xml version="1.0" encoding="{self.profile.encoding}"?>'
        return head + to_text(root)

    # -- messageService ----------------------------------------------------------------

    def _op_sendMessageByLoginName(
        self, namespace: str, args: dict[str, Any], request: SoapRequest
    ) -> etree._Element:
        logins = [login for login in args["loginNames"] if login]
        unknown = [login for login in logins if login not in MEMBERS]
        key = ",".join(logins)
        body = request.raw.decode("utf-8", errors="replace")
        if unknown or not logins:
            number = self.code("messageMemberExist")
            message = f"人员不存在:{','.join(unknown) or '(空)'}"
            self.log_request(request.operation, key, f"error:{number}", None, body)
            return wire.service_response(
                namespace, request.operation, number, message, 0
            )
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO oa_message(login_names, content, urls, time)"
                " VALUES (?, ?, ?, ?)",
                (
                    json.dumps(logins, ensure_ascii=False),
                    args["content"],
                    json.dumps([u for u in args["url"] if u], ensure_ascii=False),
                    self.clock.local_text(),
                ),
            )
        self.log_request(request.operation, key, f"sent:{len(logins)}", None, body)
        return wire.service_response(namespace, request.operation, 0, None, len(logins))

    # -- upload servlet ----------------------------------------------------------------

    def handle_other_post(
        self, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response | None:
        if path != "/seeyon/uploadService.do":
            return None
        token = query.get("token", [""])[0]
        sender = query.get("senderLoginName", [""])[0]
        if query.get("method", [""])[0] != "processUploadService":
            return Response(400, b"unknown method", "text/plain; charset=UTF-8")
        if not self.token_valid(token):
            self.log_request("upload", None, "error:token", None, None)
            message = self._token_message(token).encode("utf-8")
            return Response(401, message, "text/plain; charset=UTF-8")
        try:
            upload = parse_upload(headers.get("Content-Type", ""), body)
        except UploadError as exc:
            self.log_request("upload", None, "error:multipart", None, str(exc))
            return Response(400, str(exc).encode("utf-8"), "text/plain; charset=UTF-8")
        attachment_id = self._store_attachment(upload, sender)
        self.log_request("upload", upload.file_name, f"uploaded:{attachment_id}")
        return Response(200, str(attachment_id).encode(), "text/plain; charset=UTF-8")

    def _store_attachment(self, upload: Any, sender: str) -> int:
        attachment_id = secrets.randbits(62) + 1
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO oa_attachment(id, file_name, media_type, size, sha256,"
                " sender, upload_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    attachment_id,
                    upload.file_name,
                    upload.media_type,
                    len(upload.content),
                    upload.sha256,
                    sender,
                    self.clock.local_text(),
                ),
            )
        return attachment_id

    # -- WSDL --------------------------------------------------------------------------

    def handle_get(self, path: str, query: dict[str, list[str]]) -> Response | None:
        service = wire.service_of(path)
        if service is None or "wsdl" not in {key.lower() for key in query}:
            return None
        text = (WSDL_DIR / "seeyon" / f"{service}.wsdl").read_text(encoding="utf-8")
        text = text.replace("http://127.0.0.1:8080", self.url)
        return Response(200, text.encode("utf-8"), "text/xml; charset=UTF-8")

    # -- flows in storage --------------------------------------------------------------

    def _save_flow(self, flow: dict[str, Any], insert: bool = False) -> None:
        row = {
            key: json.dumps(value, ensure_ascii=False) if key in JSON_COLUMNS else value
            for key, value in flow.items()
        }
        columns = list(row)
        if insert:
            sql = (
                f"INSERT INTO oa_flow({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})"
            )
            params = tuple(row[c] for c in columns)
        else:
            assigns = ", ".join(f"{c}=?" for c in columns if c != "flow_id")
            sql = f"UPDATE oa_flow SET {assigns} WHERE flow_id=?"
            params = tuple(row[c] for c in columns if c != "flow_id") + (
                row["flow_id"],
            )
        with self.state.tx() as conn:
            conn.execute(sql, params)

    def load_flow(self, flow_id: int) -> dict[str, Any] | None:
        """One stored flow as a dict, or None."""
        row = self.state.one("SELECT * FROM oa_flow WHERE flow_id=?", (flow_id,))
        return _flow_dict(row) if row is not None else None

    def _flow_or_fault(self, flow_id: int | None) -> dict[str, Any]:
        flow = self.load_flow(flow_id) if flow_id is not None else None
        if flow is None:
            raise wire.ServiceFault(
                self.code("documentExportFlowExist"), f"流程不存在:{flow_id}"
            )
        return flow

    def _running_states(self) -> tuple[int, ...]:
        states = self.states()
        return (states["sent"], states["partly_done"], states["stepped_back"])

    # -- moving flows ------------------------------------------------------------------

    def background(self) -> None:
        running = self._running_states()
        marks = ",".join("?" for _ in running)
        rows = self.state.query(
            f"SELECT flow_id FROM oa_flow WHERE state IN ({marks})"
            " AND due IS NOT NULL AND due <= ? ORDER BY due",
            (*running, self._now()),
        )
        for row in rows:
            try:
                self.advance_flow(int(row["flow_id"]))
            except AdminError:
                continue  # changed or deleted since the query

    def advance_flow(self, flow_id: int) -> dict[str, Any]:
        """Finish the current node of a running flow now."""
        with self.state.tx():
            flow = self.load_flow(flow_id)
            if flow is None:
                raise AdminError(f"no flow {flow_id}")
            if flow["state"] not in self._running_states():
                raise AdminError(
                    f"flow {flow_id} is not running (state {flow['state']})"
                )
            moved = advance(
                flow,
                self.pace,
                self.clock.local_text(),
                self.states(),
                *self._result_columns(),
            )
            finished = moved["state"] not in self._running_states()
            moved["due"] = None if finished else self._now() + self.pace.step_seconds
            self._save_flow(moved)
        log.info("oa.sim.flow_advanced", flow_id=flow_id, state=moved["state"])
        return moved

    def _result_columns(self) -> list[tuple[str, str, str, str]]:
        profile = self.profile
        if profile is None:
            return []
        return [
            (
                profile.result_column,
                profile.certificate_column,
                profile.finished_column,
                profile.certificate_prefix,
            )
        ]

    # -- admin -------------------------------------------------------------------------

    def admin_routes(self) -> list[tuple[str, str, AdminHandler]]:
        flow = r"/flows/(?P<flow_id>-?\d+)"
        return [
            ("POST", r"/pace", lambda b, q, m: self._admin_pace(b)),
            ("GET", r"/pace", lambda b, q, m: self.pace.__dict__.copy()),
            ("POST", r"/config", lambda b, q, m: self._admin_config(b)),
            ("GET", r"/flows", lambda b, q, m: {"flows": self._all_flows()}),
            ("POST", flow + "/advance", lambda b, q, m: self._admin_advance(m)),
            ("DELETE", flow, lambda b, q, m: self._admin_delete(m)),
            ("DELETE", r"/tokens", lambda b, q, m: self._admin_drop_tokens()),
        ]

    def _admin_pace(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("step_seconds", "refuse_rate", "stepback_rate", "suspend_rate"):
            if key in body:
                value = float(body[key])
                top = 1e7 if key == "step_seconds" else 1.0
                if not 0 <= value <= top:
                    raise AdminError(f"{key} must be between 0 and {top:g}")
                setattr(self.pace, key, value)
        if "seed" in body:
            self.pace.seed = int(body["seed"])
        soonest = self._now() + self.pace.step_seconds
        with self.state.tx() as conn:
            conn.execute("UPDATE oa_flow SET due=? WHERE due > ?", (soonest, soonest))
        return self.pace.__dict__.copy()

    def _admin_config(self, body: dict[str, Any]) -> dict[str, Any]:
        for key, value in body.items():
            if key not in DEFAULT_CONFIG:
                raise AdminError(f"unknown OA setting {key!r}")
            if key in CONFIG_CHOICES and value not in CONFIG_CHOICES[key]:
                raise AdminError(f"{key} must be one of {CONFIG_CHOICES[key]}")
            if isinstance(DEFAULT_CONFIG[key], dict):
                self.config[key] = {**self.config[key], **value}
            else:
                self.config[key] = float(value) if key == "token_ttl_seconds" else value
        return self.config

    def _admin_advance(self, match: Any) -> dict[str, Any]:
        return self.advance_flow(int(match.group("flow_id")))

    def _admin_delete(self, match: Any) -> dict[str, Any]:
        flow_id = int(match.group("flow_id"))
        with self.state.tx() as conn:
            gone = conn.execute("DELETE FROM oa_flow WHERE flow_id=?", (flow_id,))
        if gone.rowcount == 0:
            raise AdminError(f"no flow {flow_id}")
        return {"deleted": flow_id}

    def _admin_drop_tokens(self) -> dict[str, Any]:
        dropped = len(self._tokens)
        self._tokens.clear()
        return {"dropped": dropped}

    def _all_flows(self) -> list[dict[str, Any]]:
        rows = self.state.query("SELECT * FROM oa_flow ORDER BY create_time, flow_id")
        return [_flow_dict(row) for row in rows]

    def snapshot(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "pace": self.pace.__dict__.copy(),
            "templates": sorted(self.templates),
            "flows": self._all_flows(),
            "attachments": [
                dict(row) for row in self.state.query("SELECT * FROM oa_attachment")
            ],
            "messages": [
                {**dict(row), "login_names": json.loads(row["login_names"])}
                for row in self.state.query("SELECT * FROM oa_message ORDER BY id")
            ],
        }

    def reset(self) -> None:
        with self.state.tx() as conn:
            for table in ("oa_flow", "oa_attachment", "oa_message"):
                conn.execute(f"DELETE FROM {table}")
        self._tokens.clear()
        self.config = self._initial_config()
        self.pace = Pace()


class _TokenFault(Exception):
    """The generic fault launchFormCollaboration gives for a bad token."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _flow_dict(row: sqlite3.Row) -> dict[str, Any]:
    flow = dict(row)
    for key in JSON_COLUMNS:
        flow[key] = json.loads(flow[key])
    return flow


def _profile_templates(profile: VendorProfile) -> dict[str, Template]:
    return {
        spec.code: Template(
            code=spec.code, subject=spec.subject, matter_code=spec.matter_code
        )
        for spec in profile.templates
    }


def _case_key(data: str | None, profile: VendorProfile | None = None) -> str | None:
    """The case number column of a form, best effort, for the request log."""
    column = profile.case_column if profile is not None else CASE_COLUMN
    try:
        return parse_form(data or "", profile).master.get(column)
    except FormDataError:
        return None
