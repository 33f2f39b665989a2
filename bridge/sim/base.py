"""What every simulator shares: the HTTP server, SQLite state, clock, admin API,
request log, SOAP envelopes and fault injection.

A simulator subclasses :class:`Simulator`, creates its tables in
``create_tables``, answers SOAP in ``handle_soap`` and may add admin routes in
``admin_routes``. The server is a threaded stdlib HTTP server bound to
127.0.0.1; it accepts chunked request bodies.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from bridge.clock import ZonedClock
from bridge.errors import BridgeError
from bridge.xmlutil import parse_xml

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
WSSE_NS = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-wssecurity-secext-1.0.xsd"
)

FAULT_KINDS = (
    "http500_html",
    "http502_text",
    "soap_fault_busy",
    "timeout",
    "trickle",
    "close",
    # quirks of real legacy services (bridge/adapters/quirks.py)
    "gbk_declared_gb2312",
    "charset_header_only",
    "utf8_declared_gbk_bytes",
    "bom_utf8",
    "soap12_busy",
    "soap12_busy_200",
    "entity_declaration",
)

#: fault kinds that send the real answer in another encoding or form
REENCODED_KINDS = frozenset(
    {
        "gbk_declared_gb2312",
        "charset_header_only",
        "utf8_declared_gbk_bytes",
        "bom_utf8",
    }
)

MAINTENANCE_PAGE = (
    "<html><head><title>系统维护</title></head><body>"
    "<h1>系统正在维护，请稍后再试</h1></body></html>"
)


@dataclass
class Response:
    """An HTTP answer from a simulator."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SoapRequest:
    """A parsed SOAP request: version, operation element and headers."""

    version: str  # "1.1" or "1.2"
    operation: str  # local name of the body's first child
    body: etree._Element  # the body's first child
    header: etree._Element | None
    action: str | None
    path: str
    query: dict[str, list[str]]
    raw: bytes

    @property
    def envelope_ns(self) -> str:
        return SOAP12_NS if self.version == "1.2" else SOAP11_NS


@dataclass
class FaultRule:
    """One injected fault: which operations, what kind, how often."""

    kind: str
    operation: str = "*"
    count: int | None = None
    rate: float = 1.0
    phase: str = "before"
    seconds: float = 30.0
    hits: int = 0

    def matches(self, operation: str) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        return self.operation in ("*", operation)


class FaultInjector:
    """Holds fault rules and decides, reproducibly, which request gets one."""

    def __init__(self, seed: int = 20041018) -> None:
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def install(self, rules: list[dict[str, Any]], seed: int | None = None) -> None:
        parsed = []
        for rule in rules:
            kind = rule.get("kind")
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
            if rule.get("phase", "before") not in ("before", "after"):
                raise ValueError("phase must be 'before' or 'after'")
            known = {"kind", "operation", "count", "rate", "phase", "seconds"}
            parsed.append(FaultRule(**{k: v for k, v in rule.items() if k in known}))
        with self._lock:
            self._rules = parsed
            if seed is not None:
                self._random = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def pick(self, operation: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation) and self._random.random() < rule.rate:
                    rule.hits += 1
                    return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.__dict__.copy() for rule in self._rules]


class SimState:
    """The simulator's SQLite file, used from many threads under one lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, re-entrant within a thread."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self._conn.execute(sql, params))

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def script(self, sql: str) -> None:
        with self.lock:
            self._conn.executescript(sql)

    def close(self) -> None:
        with self.lock:
            self._conn.close()


REQUEST_LOG_DDL = """
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    operation TEXT NOT NULL,
    key TEXT,
    outcome TEXT NOT NULL,
    status TEXT,
    body TEXT
);
CREATE INDEX IF NOT EXISTS request_log_op ON request_log(operation, key);
"""

AdminHandler = Callable[[dict[str, Any], dict[str, list[str]], re.Match[str]], Any]


#: a simulator's clock may be set at most ten years off
MAX_CLOCK_OFFSET = 10 * 366 * 86400.0


class AdminError(Exception):
    """A bad admin request: answered with HTTP 400 and the message."""


class Simulator:
    """Base of the three simulators. Subclasses fill in the SOAP side."""

    name = "sim"
    #: operations that change state; they are written to the request log
    write_operations: frozenset[str] = frozenset()

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
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("simulators listen on the loopback address only")
        self.host = host
        self.requested_port = port
        self.clock = ZonedClock(zone, clock_offset)
        self.state = SimState(db_path)
        self.faults = FaultInjector(seed)
        self.seed = seed
        #: seconds every non-admin request is held before it is handled
        self.latency_seconds = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.state.script(REQUEST_LOG_DDL)
        self.create_tables()

    # -- to be filled in by each simulator -----------------------------------

    def create_tables(self) -> None:
        """Create the simulator's own tables (idempotent)."""

    def handle_soap(self, request: SoapRequest) -> Response:
        """Answer one SOAP request."""
        raise NotImplementedError

    def handle_get(self, path: str, query: dict[str, list[str]]) -> Response | None:
        """Answer a GET that is not admin (WSDLs); None for 404."""
        return None

    def handle_other_post(
        self, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response | None:
        """Answer a non-SOAP POST (the OA's upload servlet); None to try SOAP."""
        return None

    def admin_routes(self) -> list[tuple[str, str, AdminHandler]]:
        """Extra admin routes: (method, path regex under /admin, handler)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data, for GET /admin/state."""
        return {}

    def reset(self) -> None:
        """Empty the simulator's own tables (the request log is emptied here)."""

    def background(self) -> None:
        """Work the simulator does by itself, called about every 50 ms."""

    # -- lifecycle -------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} simulator is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Simulator:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"sim-{self.name}-http",
            daemon=True,
        )
        self._thread.start()
        ticker = threading.Thread(
            target=self._tick, name=f"sim-{self.name}-tick", daemon=True
        )
        ticker.start()
        return self

    def _tick(self) -> None:
        while not self._stopping.wait(0.05):
            try:
                self.background()
            except Exception:  # noqa: BLE001 - the ticker must survive a bad tick
                time.sleep(0.5)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.state.close()

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stopping.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- request log -------------------------------------------------------------

    def log_request(
        self,
        operation: str,
        key: str | None,
        outcome: str,
        status: str | None = None,
        body: str | None = None,
    ) -> None:
        with self.state.tx() as conn:
            conn.execute(
                "INSERT INTO request_log(time, operation, key, outcome, status, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.clock.local_text(), operation, key, outcome, status, body),
            )

    def requests(
        self, operation: str | None = None, since_id: int = 0
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM request_log WHERE id > ?"
        params: tuple[Any, ...] = (since_id,)
        if operation:
            sql += " AND operation = ?"
            params += (operation,)
        return [dict(row) for row in self.state.query(sql + " ORDER BY id", params)]

    # -- admin API -----------------------------------------------------------------

    def _common_routes(self) -> list[tuple[str, str, AdminHandler]]:
        return [
            ("GET", r"/health", lambda b, q, m: self._health()),
            ("GET", r"/state", lambda b, q, m: self.snapshot()),
            ("GET", r"/requests", self._admin_requests),
            ("POST", r"/clock", self._admin_clock),
            ("POST", r"/faults", self._admin_faults),
            ("GET", r"/faults", lambda b, q, m: {"rules": self.faults.describe()}),
            ("DELETE", r"/faults", lambda b, q, m: self._clear_faults()),
            ("POST", r"/latency", self._admin_latency),
            ("GET", r"/latency", lambda b, q, m: {"seconds": self.latency_seconds}),
            ("POST", r"/reset", lambda b, q, m: self._admin_reset()),
        ]

    def _health(self) -> dict[str, Any]:
        return {"system": self.name, "now": self.clock.local_text()}

    def _admin_requests(
        self, body: dict[str, Any], query: dict[str, list[str]], match: Any
    ) -> dict[str, Any]:
        operation = query.get("operation", [None])[0]
        since_id = int(query.get("since_id", ["0"])[0])
        return {"requests": self.requests(operation, since_id)}

    def _admin_clock(
        self, body: dict[str, Any], query: dict[str, list[str]], match: Any
    ) -> dict[str, Any]:
        offset = self.clock.offset_seconds
        if "offset_seconds" in body:
            offset = float(body["offset_seconds"])
        if "advance_seconds" in body:
            offset += float(body["advance_seconds"])
        if not abs(offset) <= MAX_CLOCK_OFFSET:
            raise AdminError(f"clock offset must stay within {MAX_CLOCK_OFFSET:g} s")
        self.clock.offset_seconds = offset
        if body.get("frozen") is True:
            self.clock.freeze()
        elif body.get("frozen") is False:
            self.clock.thaw()
        return {
            "now": self.clock.local_text(),
            "offset_seconds": self.clock.offset_seconds,
        }

    def _admin_faults(
        self, body: dict[str, Any], query: dict[str, list[str]], match: Any
    ) -> dict[str, Any]:
        try:
            self.faults.install(list(body.get("rules", [])), body.get("seed"))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from exc
        return {"rules": self.faults.describe()}

    def _admin_latency(
        self, body: dict[str, Any], query: dict[str, list[str]], match: Any
    ) -> dict[str, Any]:
        seconds = float(body.get("seconds", 0.0))
        if not 0.0 <= seconds <= 10.0:
            raise AdminError("latency seconds must be between 0 and 10")
        self.latency_seconds = seconds
        return {"seconds": seconds}

    def _clear_faults(self) -> dict[str, Any]:
        self.faults.clear()
        return {"rules": []}

    def _admin_reset(self) -> dict[str, Any]:
        self.reset()
        with self.state.tx() as conn:
            conn.execute("DELETE FROM request_log")
        self.faults.clear()
        self.latency_seconds = 0.0
        return {"reset": True}

    def file_in_bulk(
        self, body: dict[str, Any], file_one: Callable[[], str]
    ) -> list[str]:
        """Run ``file_one`` ``body["count"]`` times, 500 per transaction
        (bulk filing for benchmarks); the keys it returned, in order."""
        count = int(body.get("count", 0))
        if not 0 < count <= 200_000:
            raise AdminError("count must be between 1 and 200000")
        keys: list[str] = []
        for start in range(0, count, 500):  # WAL-sized transactions
            with self.state.tx():
                keys += [file_one() for _ in range(min(500, count - start))]
        return keys

    def dispatch_admin(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> Response:
        sub_path = path[len("/admin") :] or "/"
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _json_response({"error": f"body is not JSON: {exc}"}, 400)
        routes = self._common_routes() + self.admin_routes()
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, sub_path.rstrip("/") or "/")
            if route_method == method and match:
                try:
                    return _json_response(handler(payload, query, match))
                except (AdminError, BridgeError, KeyError, ValueError) as exc:
                    return _json_response({"error": str(exc)}, 400)
        return _json_response({"error": f"no admin route {method} {path}"}, 404)

    # -- SOAP helpers ----------------------------------------------------------------

    def parse_soap(
        self, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> SoapRequest:
        root = parse_xml(body, system=self.name)
        if root.tag == f"{{{SOAP12_NS}}}Envelope":
            version, ns = "1.2", SOAP12_NS
        elif root.tag == f"{{{SOAP11_NS}}}Envelope":
            version, ns = "1.1", SOAP11_NS
        else:
            raise ValueError(f"not a SOAP envelope: {root.tag}")
        soap_body = root.find(f"{{{ns}}}Body")
        if soap_body is None or len(soap_body) == 0:
            raise ValueError("SOAP envelope without a body element")
        operation_el = soap_body[0]
        action = headers.get("SOAPAction")
        content_type = headers.get("Content-Type", "")
        found = re.search(r'action="?([^";]+)"?', content_type)
        if found:
            action = found.group(1)
        return SoapRequest(
            version=version,
            operation=etree.QName(operation_el).localname,
            body=operation_el,
            header=root.find(f"{{{ns}}}Header"),
            action=action.strip('"') if action else None,
            path=path,
            query=query,
            raw=body,
        )


# -- envelopes and faults ----------------------------------------------------------


def soap_response(
    payload: etree._Element, version: str = "1.1", status: int = 200
) -> Response:
    """Wrap ``payload`` in a SOAP envelope of ``version``."""
    ns = SOAP12_NS if version == "1.2" else SOAP11_NS
    prefix = "soapenv"
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={prefix: ns})
    body = etree.SubElement(envelope, f"{{{ns}}}Body")
    body.append(payload)
    data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return Response(status=status, body=data, content_type=_soap_content_type(version))


def soap_fault(
    version: str,
    text: str,
    *,
    code: str = "Receiver",
    subcode: str | None = None,
    detail: etree._Element | None = None,
    status: int = 500,
) -> Response:
    """A SOAP fault of ``version``; ``code`` is the 1.2 name (Sender/Receiver)."""
    ns = SOAP12_NS if version == "1.2" else SOAP11_NS
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soapenv": ns})
    body = etree.SubElement(envelope, f"{{{ns}}}Body")
    fault = etree.SubElement(body, f"{{{ns}}}Fault")
    if version == "1.2":
        code_el = etree.SubElement(fault, f"{{{ns}}}Code")
        etree.SubElement(code_el, f"{{{ns}}}Value").text = f"soapenv:{code}"
        if subcode:
            sub_el = etree.SubElement(code_el, f"{{{ns}}}Subcode")
            etree.SubElement(sub_el, f"{{{ns}}}Value").text = subcode
        reason = etree.SubElement(fault, f"{{{ns}}}Reason")
        reason_text = etree.SubElement(reason, f"{{{ns}}}Text")
        reason_text.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
        reason_text.text = text
        if detail is not None:
            etree.SubElement(fault, f"{{{ns}}}Detail").append(detail)
    else:
        code11 = {"Receiver": "Server", "Sender": "Client"}.get(code, code)
        if subcode:
            code11 = f"{code11}.{subcode}"
        etree.SubElement(fault, "faultcode").text = f"soapenv:{code11}"
        etree.SubElement(fault, "faultstring").text = text
        if detail is not None:
            etree.SubElement(fault, "detail").append(detail)
    data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return Response(status=status, body=data, content_type=_soap_content_type(version))


def _soap_content_type(version: str) -> str:
    if version == "1.2":
        return "application/soap+xml; charset=UTF-8"
    return "text/xml; charset=UTF-8"


def _json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    return Response(status=status, body=body, content_type="application/json")


def fault_response(rule: FaultRule, version: str) -> Response | None:
    """The answer an injected fault gives instead of the real one.

    ``timeout`` and ``trickle`` change how the real answer is sent and return
    None here; the handler deals with them.
    """
    if rule.kind == "http500_html":
        return Response(
            status=500,
            body=MAINTENANCE_PAGE.encode("gbk"),
            content_type="text/html; charset=GBK",
        )
    if rule.kind == "http502_text":
        return Response(
            status=502, body=b"502 Bad Gateway", content_type="text/plain"
        )
    if rule.kind == "soap_fault_busy":
        return soap_fault(version, "系统繁忙", code="Receiver", subcode="Busy")
    return None


def quirk_fault(rule: FaultRule) -> Response | None:
    """The answers of the legacy quirk kinds that replace the real answer."""
    if rule.kind in ("soap12_busy", "soap12_busy_200"):
        status = 200 if rule.kind == "soap12_busy_200" else 500
        return soap_fault("1.2", "系统繁忙", subcode="Busy", status=status)
    if rule.kind == "entity_declaration":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
            '<!ENTITY x SYSTEM "file:///etc/hostname">]>\n'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP11_NS}"><soapenv:Body>'
            "<r>&b;&x;</r></soapenv:Body></soapenv:Envelope>"
        )
        return Response(body=body.encode("utf-8"))
    return None


def reencoded(rule: FaultRule, answer: Response) -> Response:
    """The real ``answer`` as a legacy service would encode or label it."""
    text = answer.body.decode("utf-8")
    bare = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", text, count=1)
    media = answer.content_type.split(";")[0]
    if rule.kind == "gbk_declared_gb2312":
        body = '<?xml version="1.0" encoding="gb2312"?>' + bare
        return Response(answer.status, body.encode("gbk"), f"{media}; charset=gb2312")
    if rule.kind == "charset_header_only":
        return Response(answer.status, bare.encode("gbk"), f"{media}; charset=GBK")
    if rule.kind == "utf8_declared_gbk_bytes":
        body = '<?xml version="1.0" encoding="UTF-8"?>' + bare
        return Response(answer.status, body.encode("gbk"), f"{media}; charset=UTF-8")
    body = b"\xef\xbb\xbf" + text.encode("utf-8")
    return Response(answer.status, body, media)


# -- the HTTP handler -----------------------------------------------------------------


def _make_handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # answers go out at once, as Tomcat's do: no Nagle wait on small writes
        disable_nagle_algorithm = True
        server_version = "Apache-Coyote/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def handle_one_request(self) -> None:
            """Serve one request; a client that hung up is not an error here."""
            try:
                super().handle_one_request()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size_line = self.rfile.readline().strip().split(b";")[0]
                    size = int(size_line or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length", "0") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, response: Response, trickle: bool = False) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not trickle:
                self.wfile.write(response.body)
                return
            for start in range(0, len(response.body), 40):
                if sim._stopping.is_set():
                    return
                self.wfile.write(response.body[start : start + 40])
                self.wfile.flush()
                time.sleep(0.7)

        def _split(self) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            return parts.path, parse_qs(parts.query, keep_blank_values=True)

        def do_GET(self) -> None:
            path, query = self._split()
            if path.startswith("/admin"):
                self._send(sim.dispatch_admin("GET", path, query, b""))
                return
            answer = sim.handle_get(path, query)
            self._send(answer or Response(404, b"not found", "text/plain"))

        def do_DELETE(self) -> None:
            path, query = self._split()
            body = self._read_body()
            if path.startswith("/admin"):
                self._send(sim.dispatch_admin("DELETE", path, query, body))
                return
            self._send(Response(405, b"method not allowed", "text/plain"))

        def do_POST(self) -> None:
            path, query = self._split()
            body = self._read_body()
            if path.startswith("/admin"):
                self._send(sim.dispatch_admin("POST", path, query, body))
                return
            if sim.latency_seconds:
                time.sleep(sim.latency_seconds)
            other = sim.handle_other_post(path, query, self.headers, body)
            if other is not None:
                self._send(other)
                return
            try:
                request = sim.parse_soap(path, query, self.headers, body)
            except (BridgeError, ValueError) as exc:
                self._send(soap_fault("1.1", f"bad request: {exc}", code="Sender"))
                return
            rule = sim.faults.pick(request.operation)
            if (
                rule is not None
                and rule.phase == "before"
                and self._inject(rule, request, None)
            ):
                return
            answer = sim.handle_soap(request)
            if (
                rule is not None
                and rule.phase == "after"
                and self._inject(rule, request, answer)
            ):
                return
            self._send(answer)

        def _inject(
            self, rule: FaultRule, request: SoapRequest, answer: Response | None
        ) -> bool:
            """Apply an injected fault; True when the exchange is over."""
            if rule.kind == "close":
                self.close_connection = True
                self.connection.close()
                return True
            if rule.kind == "timeout":
                sim._stopping.wait(rule.seconds)
                self.close_connection = True
                self.connection.close()
                return True
            if rule.kind == "trickle":
                real = answer or sim.handle_soap(request)
                self._send(real, trickle=True)
                return True
            if rule.kind in REENCODED_KINDS:
                self._send(reencoded(rule, answer or sim.handle_soap(request)))
                return True
            replacement = quirk_fault(rule) or fault_response(rule, request.version)
            if replacement is not None:
                self._send(replacement)
                return True
            return False

    return Handler
