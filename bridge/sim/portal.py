"""The online filing portal (网上受理系统) stand-in: filings, attachments, progress
and publication over SOAP 1.1 with a WS-Security UsernameToken."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from lxml import etree

from bridge.clock import LOCAL_FORMAT
from bridge.paths import WSDL_DIR
from bridge.sim.base import (
    WSSE_NS,
    AdminError,
    AdminHandler,
    Response,
    Simulator,
    SoapRequest,
    soap_fault,
    soap_response,
)
from bridge.sim.seed import Seed
from bridge.xmlutil import local, sub

log = structlog.get_logger()

PORTAL_NS = "urn:hbj:portal:ws:1"
ENDPOINT = "/portal/services/FilingService"
WSDL_PATH = WSDL_DIR / "portal" / "FilingService.wsdl"
WSU_NS = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-wssecurity-utility-1.0.xsd"
)
DIGEST_TYPE = "#PasswordDigest"

LISTED_STATUSES = ("2", "9")
#: a filing's attachment descriptions, in order (by index: a listing runs it
#: once per filing listed)
ATTACHMENTS_OF_FILING = (
    "SELECT attachment_id, material_name, file_name, media_type, size, sha256"
    " FROM attachments WHERE filing_no = ? ORDER BY position"
)
FILING_FIELDS = (
    "filingNo",
    "status",
    "changeTime",
    "itemCode",
    "itemName",
    "projectName",
    "applicantKind",
    "applicantName",
    "certKind",
    "certNo",
    "contactName",
    "contactMobile",
    "submitTime",
    "reviewer",
    "reviewTime",
    "reviewOpinion",
    "regionCode",
)
OPTIONAL_FILING_FIELDS = frozenset({"reviewer", "reviewTime", "reviewOpinion"})
ATTACHMENT_FIELDS = (
    "attachmentId",
    "materialName",
    "fileName",
    "mediaType",
    "size",
    "sha256",
)
PROGRESS_FIELDS = (
    "filingNo",
    "caseNo",
    "seq",
    "state",
    "stepName",
    "handler",
    "opinion",
    "stepTime",
)
PROGRESS_REQUIRED = ("filingNo", "caseNo", "seq", "state", "stepName", "handler")
PROGRESS_STATES = frozenset({"1", "2", "3", "4", "5", "9"})
PUBLICATION_FIELDS = (
    "caseNo",
    "filingNo",
    "itemCode",
    "itemName",
    "applicantName",
    "resultCode",
    "resultText",
    "certificateNo",
    "department",
    "finishTime",
)
PUBLICATION_OPTIONAL = frozenset({"filingNo", "certificateNo"})

DDL = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS filings (
    filing_no TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    change_time TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS filings_listing ON filings(change_time, filing_no);
CREATE TABLE IF NOT EXISTS attachments (
    attachment_id TEXT PRIMARY KEY,
    filing_no TEXT NOT NULL,
    position INTEGER NOT NULL,
    material_name TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_of_filing ON attachments(filing_no, position);
CREATE TABLE IF NOT EXISTS progress (
    filing_no TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    received_time TEXT NOT NULL,
    PRIMARY KEY (filing_no, seq)
);
CREATE TABLE IF NOT EXISTS publications (
    case_no TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    publish_time TEXT NOT NULL
);
"""


class PortalSimulator(Simulator):
    """The bureau's filing website as the bridge sees it: one SOAP endpoint."""

    name = "portal"
    write_operations = frozenset({"postProgress", "publishResult"})

    def __init__(
        self,
        db_path: str | Path,
        *,
        username: str = "bridge",
        password: str = "bridge-secret",
        max_skew_seconds: float | None = None,
        **options: Any,
    ) -> None:
        self.username = username
        self.password = password
        self.max_skew_seconds = max_skew_seconds
        super().__init__(db_path, **options)
        self.seed_data = Seed(self.seed)

    # -- tables and state ------------------------------------------------------

    def create_tables(self) -> None:
        self.state.script(DDL)

    def reset(self) -> None:
        with self.state.tx() as conn:
            for table in ("counters", "filings", "attachments", "progress"):
                conn.execute(f"DELETE FROM {table}")  # fixed names, not input
            conn.execute("DELETE FROM publications")

    def snapshot(self) -> dict[str, Any]:
        filings = [
            self.filing_dict(row["filing_no"])
            for row in self.state.query(
                "SELECT filing_no FROM filings ORDER BY change_time, filing_no"
            )
        ]
        progress = [
            {**json.loads(row["data"]), "receivedTime": row["received_time"]}
            for row in self.state.query(
                "SELECT * FROM progress ORDER BY filing_no, seq"
            )
        ]
        publications = [
            {**json.loads(row["data"]), "publishTime": row["publish_time"]}
            for row in self.state.query("SELECT * FROM publications ORDER BY case_no")
        ]
        return {"filings": filings, "progress": progress, "publications": publications}

    def _next(self, conn: Any, name: str) -> int:
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,))
        return int(row.fetchone()[0])

    # -- filings -----------------------------------------------------------------

    def add_filing(
        self,
        given: dict[str, Any],
        *,
        attachment_bytes: int | None = None,
        quiet: bool = False,
    ) -> dict[str, Any]:
        """File a filing; fields not given are invented from the seed data.

        ``attachment_bytes`` sets the size of every invented attachment;
        ``quiet`` (bulk filing) neither logs the filing nor reads it back: the
        answer then holds only its ``filingNo``.
        """
        now = self.clock.local_naive()
        given = {key: value for key, value in given.items() if value is not None}
        review_time = str(
            given.get("reviewTime")
            or given.get("changeTime")
            or now.strftime(LOCAL_FORMAT)
        )
        invented = self.seed_data.filing(datetime.strptime(review_time, LOCAL_FORMAT))
        data = {**invented, "status": "2", "reviewTime": review_time, **given}
        data.setdefault("changeTime", review_time)
        attachments = data.pop("attachments", []) or []
        if attachment_bytes is not None:
            attachments = [{**item, "size": attachment_bytes} for item in attachments]

        with self.state.tx() as conn:
            if not data.get("filingNo"):
                number = self._next(conn, "filing")
                data["filingNo"] = f"WS{now:%Y%m%d}{number:06d}"
            exists = conn.execute(
                "SELECT 1 FROM filings WHERE filing_no = ?", (data["filingNo"],)
            ).fetchone()
            if exists:
                raise AdminError(f"filing {data['filingNo']} exists already")
            fields = {k: str(data[k]) for k in FILING_FIELDS if data.get(k) is not None}
            conn.execute(
                "INSERT INTO filings(filing_no, status, change_time, data)"
                " VALUES (?, ?, ?, ?)",
                (
                    fields["filingNo"],
                    fields["status"],
                    fields["changeTime"],
                    json.dumps(fields, ensure_ascii=False),
                ),
            )
            for position, attachment in enumerate(attachments):
                self._add_attachment(conn, fields["filingNo"], position, attachment)

        if quiet:
            return {"filingNo": data["filingNo"]}
        log.info("portal.filing_added", filing=data["filingNo"], status=data["status"])
        return self.filing_dict(str(data["filingNo"]))

    def _add_attachment(
        self, conn: Any, filing_no: str, position: int, given: dict[str, Any]
    ) -> None:
        material = str(given.get("materialName") or f"材料{position + 1}")
        if given.get("content_base64"):
            content = base64.b64decode(given["content_base64"])
        else:
            content = self.seed_data.blob(material, given.get("size"))
        attachment_id = given.get("attachmentId") or f"A{self._next(conn, 'att'):06d}"
        conn.execute(
            "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attachment_id,
                filing_no,
                position,
                material,
                str(given.get("fileName") or f"{material}.pdf"),
                str(given.get("mediaType") or "application/pdf"),
                len(content),
                hashlib.sha256(content).hexdigest(),
                content,
            ),
        )

    def withdraw(self, filing_no: str) -> dict[str, Any]:
        """The applicant withdraws a filing: status 9, change time now."""
        row = self.state.one(
            "SELECT data FROM filings WHERE filing_no = ?", (filing_no,)
        )
        if row is None:
            raise AdminError(f"no filing {filing_no}")
        data = json.loads(row["data"])
        if data["status"] != "9":
            data["status"] = "9"
            data["changeTime"] = self.clock.local_text()
            text = json.dumps(data, ensure_ascii=False)
            with self.state.tx() as conn:
                conn.execute(
                    "UPDATE filings SET status = ?, change_time = ?, data = ?"
                    " WHERE filing_no = ?",
                    ("9", data["changeTime"], text, filing_no),
                )
            log.info("portal.filing_withdrawn", filing=filing_no)
        return self.filing_dict(filing_no)

    def filing_dict(self, filing_no: str) -> dict[str, Any]:
        """One filing with its attachment descriptions, as JSON-ready data."""
        row = self.state.one(
            "SELECT data FROM filings WHERE filing_no = ?", (filing_no,)
        )
        if row is None:
            raise AdminError(f"no filing {filing_no}")
        data: dict[str, Any] = json.loads(row["data"])
        data["attachments"] = [
            {
                "attachmentId": att["attachment_id"],
                "materialName": att["material_name"],
                "fileName": att["file_name"],
                "mediaType": att["media_type"],
                "size": att["size"],
                "sha256": att["sha256"],
            }
            for att in self.state.query(ATTACHMENTS_OF_FILING, (filing_no,))
        ]
        return data

    # -- HTTP: WSDL and SOAP -------------------------------------------------------

    def handle_get(self, path: str, query: dict[str, list[str]]) -> Response | None:
        if path.rstrip("/") != ENDPOINT or not any(k.lower() == "wsdl" for k in query):
            return None
        wsdl = WSDL_PATH.read_bytes().replace(
            b"http://127.0.0.1:8103" + ENDPOINT.encode(), (self.url + ENDPOINT).encode()
        )
        return Response(200, wsdl, "text/xml; charset=UTF-8")

    def handle_soap(self, request: SoapRequest) -> Response:
        if request.path.rstrip("/") != ENDPOINT:
            message = f"no service at {request.path}"
            return soap_fault(request.version, message, code="Sender")
        handlers = {
            "listFilings": self._list_filings,
            "getAttachment": self._get_attachment,
            "postProgress": self._post_progress,
            "publishResult": self._publish_result,
            "getPublication": self._get_publication,
        }
        handler = handlers.get(request.operation)
        if handler is None:
            return soap_fault(
                request.version, f"unknown operation {request.operation}", code="Sender"
            )

        problem = self._authenticate(request)
        if problem is not None:
            self._log_refused(request)
            return soap_fault(
                request.version, problem, code="Sender", subcode="Authentication"
            )

        return handler(request)

    def _log_refused(self, request: SoapRequest) -> None:
        """A write refused for its credentials still goes to the request log."""
        if request.operation not in self.write_operations:
            return
        key_name = "caseNo" if request.operation == "publishResult" else "filingNo"
        key = _child(request.body, key_name)
        self.log_request(request.operation, key, "unauthenticated", "fault")

    def _authenticate(self, request: SoapRequest) -> str | None:
        """None when the UsernameToken is right, else the reason it is not."""
        token = None
        if request.header is not None:
            token = request.header.find(
                f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken"
            )
        if token is None:
            return "WS-Security UsernameToken missing"
        username = token.findtext(f"{{{WSSE_NS}}}Username", "").strip()
        password_el = token.find(f"{{{WSSE_NS}}}Password")
        if password_el is None or not hmac.compare_digest(username, self.username):
            return "authentication failed"
        created = token.findtext(f"{{{WSU_NS}}}Created", "").strip()
        if password_el.get("Type", "").endswith(DIGEST_TYPE):
            nonce = token.findtext(f"{{{WSSE_NS}}}Nonce", "").strip()
            good = _digest(nonce, created, self.password)
        else:
            good = self.password
        if not hmac.compare_digest((password_el.text or "").strip(), good):
            return "authentication failed"
        return self._check_skew(created)

    def _check_skew(self, created: str) -> str | None:
        if self.max_skew_seconds is None or not created:
            return None
        try:
            instant = datetime.fromisoformat(created)
        except ValueError:
            return "Created is not a timestamp"
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        skew = abs((self.clock.now() - instant).total_seconds())
        if skew > self.max_skew_seconds:
            return f"Created is {skew:.0f} s away from the server clock"
        return None

    # -- operations -----------------------------------------------------------------

    def _list_filings(self, request: SoapRequest) -> Response:
        since = _child(request.body, "since") or "0000-00-00 00:00:00"
        after_time = _child(request.body, "afterChangeTime")
        after_no = _child(request.body, "afterFilingNo") or ""
        try:
            size = int(_child(request.body, "pageSize") or "100")
        except ValueError:
            message = "pageSize is not a number"
            return soap_fault(request.version, message, code="Sender")
        size = max(1, min(size, 500))

        sql = (
            "SELECT filing_no FROM filings WHERE status IN (?, ?) AND change_time >= ?"
        )
        params: tuple[Any, ...] = (*LISTED_STATUSES, since)
        if after_time:
            sql += " AND (change_time > ? OR (change_time = ? AND filing_no > ?))"
            params += (after_time, after_time, after_no)
        rows = self.state.query(
            sql + " ORDER BY change_time, filing_no LIMIT ?", (*params, size + 1)
        )

        answer = etree.Element(
            f"{{{PORTAL_NS}}}listFilingsResponse", nsmap={"ns": PORTAL_NS}
        )
        for row in rows[:size]:
            answer.append(filing_element(self.filing_dict(row["filing_no"])))
        sub(answer, "hasMore", "1" if len(rows) > size else "0")
        return soap_response(answer, request.version)

    def _get_attachment(self, request: SoapRequest) -> Response:
        attachment_id = _child(request.body, "attachmentId")
        row = self.state.one(
            "SELECT * FROM attachments WHERE attachment_id = ?", (attachment_id,)
        )
        if row is None:
            return soap_fault(
                request.version,
                f"附件不存在: {attachment_id}",
                code="Sender",
                subcode="NotFound",
            )
        answer = etree.Element(
            f"{{{PORTAL_NS}}}getAttachmentResponse", nsmap={"ns": PORTAL_NS}
        )
        sub(answer, "attachmentId", row["attachment_id"])
        sub(answer, "fileName", row["file_name"])
        sub(answer, "mediaType", row["media_type"])
        sub(answer, "content", base64.b64encode(row["content"]).decode("ascii"))
        return soap_response(answer, request.version)

    def _post_progress(self, request: SoapRequest) -> Response:
        data = {name: _child(request.body, name) for name in PROGRESS_FIELDS}
        key = data["filingNo"]
        problem = _missing(data, PROGRESS_REQUIRED + ("stepTime",))
        if problem is None and not (data["seq"] or "").isdigit():
            problem = "seq 不是数字"
        if problem is None and data["state"] not in PROGRESS_STATES:
            problem = f"state 无效: {data['state']}"
        if problem is not None:
            return self._answer(request, key, 2, problem, data)

        with self.state.tx() as conn:
            filing = conn.execute(
                "SELECT 1 FROM filings WHERE filing_no = ?", (key,)
            ).fetchone()
            if filing is None:
                return self._answer(request, key, 1, f"申报不存在: {key}", data)
            repeat = conn.execute(
                "SELECT 1 FROM progress WHERE filing_no = ? AND seq = ?",
                (key, int(str(data["seq"]))),
            ).fetchone()
            if repeat is None:
                conn.execute(
                    "INSERT INTO progress VALUES (?, ?, ?, ?)",
                    (
                        key,
                        int(str(data["seq"])),
                        json.dumps(_present(data), ensure_ascii=False),
                        self.clock.local_text(),
                    ),
                )
        return self._answer(request, key, 0, "已存在" if repeat else "成功", data)

    def _publish_result(self, request: SoapRequest) -> Response:
        data = {name: _child(request.body, name) for name in PUBLICATION_FIELDS}
        key = data["caseNo"]
        required = [n for n in PUBLICATION_FIELDS if n not in PUBLICATION_OPTIONAL]
        problem = _missing(data, tuple(required))
        if problem is not None:
            return self._answer(request, key, 2, problem, data)

        with self.state.tx() as conn:
            if data["filingNo"]:
                filing = conn.execute(
                    "SELECT 1 FROM filings WHERE filing_no = ?", (data["filingNo"],)
                ).fetchone()
                if filing is None:
                    message = f"申报不存在: {data['filingNo']}"
                    return self._answer(request, key, 1, message, data)
            repeat = conn.execute(
                "SELECT 1 FROM publications WHERE case_no = ?", (key,)
            ).fetchone()
            if repeat is None:
                conn.execute(
                    "INSERT INTO publications VALUES (?, ?, ?)",
                    (
                        key,
                        json.dumps(_present(data), ensure_ascii=False),
                        self.clock.local_text(),
                    ),
                )
        return self._answer(request, key, 0, "已存在" if repeat else "成功", data)

    def _get_publication(self, request: SoapRequest) -> Response:
        case_no = _child(request.body, "caseNo")
        row = self.state.one("SELECT * FROM publications WHERE case_no = ?", (case_no,))
        answer = etree.Element(
            f"{{{PORTAL_NS}}}getPublicationResponse", nsmap={"ns": PORTAL_NS}
        )
        if row is not None:
            data = json.loads(row["data"])
            publication = sub(answer, "publication")
            for name in PUBLICATION_FIELDS:
                if data.get(name):
                    sub(publication, name, data[name])
            sub(publication, "publishTime", row["publish_time"])
        return soap_response(answer, request.version)

    def _answer(
        self,
        request: SoapRequest,
        key: str | None,
        code: int,
        message: str,
        data: dict[str, str | None],
    ) -> Response:
        """Log the write with its outcome and answer code and message."""
        taken = "already" if message == "已存在" else "done"
        outcome = taken if code == 0 else "rejected"
        self.log_request(
            request.operation,
            key,
            outcome,
            str(code),
            json.dumps(_present(data), ensure_ascii=False),
        )
        answer = etree.Element(
            f"{{{PORTAL_NS}}}{request.operation}Response", nsmap={"ns": PORTAL_NS}
        )
        sub(answer, "code", str(code))
        sub(answer, "message", message)
        return soap_response(answer, request.version)

    # -- admin ------------------------------------------------------------------------

    def admin_routes(self) -> list[tuple[str, str, AdminHandler]]:
        return [
            ("POST", r"/filings", lambda b, q, m: self.add_filing(b)),
            ("POST", r"/filings/bulk", lambda b, q, m: self._bulk(b)),
            ("GET", r"/filings/([^/]+)", lambda b, q, m: self.filing_dict(m.group(1))),
            (
                "POST",
                r"/filings/([^/]+)/withdraw",
                lambda b, q, m: self.withdraw(m.group(1)),
            ),
            ("POST", r"/config", lambda b, q, m: self._configure(b)),
        ]

    def _bulk(self, body: dict[str, Any]) -> dict[str, list[str]]:
        """File ``count`` invented filings, 500 per transaction (benchmarks);
        ``attachment_bytes`` fixes the size of their attachments."""
        size = body.get("attachment_bytes")
        size = None if size is None else int(size)
        if size is not None and not 64 <= size <= 1_048_576:
            raise AdminError("attachment_bytes must be between 64 and 1048576")
        filings = self.file_in_bulk(
            body,
            lambda: str(
                self.add_filing({}, attachment_bytes=size, quiet=True)["filingNo"]
            ),
        )
        log.info("portal.filings_bulk", count=len(filings))
        return {"filings": filings}

    def _configure(self, body: dict[str, Any]) -> dict[str, Any]:
        if "username" in body:
            self.username = str(body["username"])
        if "password" in body:
            self.password = str(body["password"])
        if "max_skew_seconds" in body:
            skew = body["max_skew_seconds"]
            self.max_skew_seconds = None if skew is None else float(skew)
        return {"username": self.username, "max_skew_seconds": self.max_skew_seconds}


def filing_element(data: dict[str, Any]) -> etree._Element:
    """A filing as the unqualified ``<filing>`` element of the contract."""
    filing = etree.Element("filing")
    for name in FILING_FIELDS:
        value = data.get(name)
        if value is None and name in OPTIONAL_FILING_FIELDS:
            continue
        sub(filing, name, "" if value is None else str(value))
    attachments = sub(filing, "attachments")
    for attachment in data.get("attachments", []):
        item = sub(attachments, "attachment")
        for name in ATTACHMENT_FIELDS:
            sub(item, name, str(attachment[name]))
    return filing


def _child(parent: etree._Element, name: str) -> str | None:
    """The stripped text of the child ``name`` (any namespace), None if absent."""
    for child in parent:
        if isinstance(child.tag, str) and local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _missing(data: dict[str, str | None], required: tuple[str, ...]) -> str | None:
    absent = [name for name in required if not data.get(name)]
    return f"缺少字段: {','.join(absent)}" if absent else None


def _present(data: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in data.items() if value}


def _digest(nonce: str, created: str, password: str) -> str:
    """The UsernameToken profile digest: Base64(SHA-1(nonce + created + password))."""
    try:
        raw_nonce = base64.b64decode(nonce)
    except ValueError:
        return ""
    material = raw_nonce + created.encode("utf-8") + password.encode("utf-8")
    digest = hashlib.sha1(material).digest()  # SHA-1: fixed by the profile
    return base64.b64encode(digest).decode("ascii")
