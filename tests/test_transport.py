"""The SOAP transport on the wire: pooled keep-alive connections, no proxies from
the environment, redirects as requests followed them, and every failure of a
call mapped to the same govbridge error with its system, operation and record.

The failures come from a server of this module's own on 127.0.0.1 that passes
every request to a center simulator except the one write it is told to break.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from lxml import etree

from bridge.adapters.center import CenterAdapter
from bridge.adapters.transport import make_transport
from bridge.errors import (
    BridgeError,
    DecodeError,
    ProtocolError,
    SecurityError,
    TimeoutError_,
    UnavailableError,
)
from bridge.sim.center import CenterSimulator
from tests.quirkhelp import admin

CASE = "0999240000001"
BROKEN = b"receiveCourseInfo"


@dataclass
class Seen:
    """One request as the test server received it."""

    method: str
    path: str
    body: bytes
    port: int
    headers: dict[str, str]


@dataclass
class Server:
    """What the test server answers, and what it was asked."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    #: the answer to the broken write, or to every request when no target is set
    breaks: Callable[[BaseHTTPRequestHandler, Seen], None] | None = None
    target: str | None = None


@contextmanager
def breaking_server(target: str | None = None) -> Iterator[Server]:
    """A server on 127.0.0.1: forwards to ``target``, breaks what it is told to."""
    server = Server(target=target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            seen = Seen(
                self.command,
                self.path,
                self.rfile.read(length),
                self.client_address[1],
                dict(self.headers.items()),
            )
            server.seen.append(seen)
            forward = server.target is not None and BROKEN not in seen.body
            if forward or server.breaks is None:
                self._forward(seen)
                return
            server.breaks(self, seen)

        def _forward(self, seen: Seen) -> None:
            headers = {
                key: value
                for key, value in self.headers.items()
                if key.lower() in ("content-type", "soapaction")
            }
            answer = requests.request(
                seen.method,
                f"{server.target}{seen.path}",
                data=seen.body,
                headers=headers,
                timeout=10,
            )
            content_type = answer.headers["Content-Type"]
            send(self, answer.status_code, content_type, answer.content)

        do_POST = _answer
        do_GET = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    content_type: str,
    body: bytes,
    **headers: str,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


# -- the ways a call breaks ----------------------------------------------------------


def closes(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.close_connection = True
    handler.connection.close()


def resets(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.close_connection = True
    linger = struct.pack("ii", 1, 0)
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    handler.connection.close()


def hangs(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    time.sleep(2.5)
    closes(handler, seen)


def cuts(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml; charset=utf-8")
    handler.send_header("Content-Length", "5000")
    handler.end_headers()
    handler.wfile.write(b"<?xml version='1.0'?><soap:Envelope")
    handler.wfile.flush()
    closes(handler, seen)


def trickles(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml; charset=utf-8")
    handler.send_header("Content-Length", "4000")
    handler.end_headers()
    try:
        for _ in range(100):
            handler.wfile.write(b"<a>" * 10)
            handler.wfile.flush()
            time.sleep(0.3)
    except OSError:
        return


def not_found(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    send(handler, 404, "text/plain", b"no such service")


def maintenance(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    page = "<html><body>系统维护</body></html>".encode()
    send(handler, 503, "text/html; charset=utf-8", page)


def oversized(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    send(handler, 200, "text/xml; charset=utf-8", b"<a>" + b"x" * 200_000 + b"</a>")


def undecodable(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    body = '<?xml version="1.0" encoding="UTF-8"?><a>收件</a>'.encode("gbk")
    send(handler, 200, "text/xml", body)


BREAKS: list[tuple[Callable[..., None], type[BridgeError], str, int | None]] = [
    (closes, UnavailableError, "cannot reach", None),
    (resets, UnavailableError, "cannot reach", None),
    (hangs, TimeoutError_, "no answer in time", None),
    (cuts, TimeoutError_, "answer interrupted", 200),
    (trickles, TimeoutError_, "not complete within 1.5 s", 200),
    (not_found, ProtocolError, "HTTP 404", 404),
    (maintenance, UnavailableError, "HTTP 503 without a SOAP answer", 503),
    (oversized, SecurityError, "larger than the cap of 100000 bytes", 200),
    (undecodable, DecodeError, "not valid utf-8", None),
]


@pytest.fixture(scope="module")
def center_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    sim = CenterSimulator(tmp_path_factory.mktemp("transport") / "c.sqlite").start()
    yield sim
    sim.stop()


@pytest.mark.parametrize(
    ("breaks", "error_class", "message", "status"),
    BREAKS,
    ids=[entry[0].__name__ for entry in BREAKS],
)
def test_each_failure_keeps_its_error_class_and_context(
    center_sim: CenterSimulator,
    breaks: Callable[..., None],
    error_class: type[BridgeError],
    message: str,
    status: int | None,
) -> None:
    """A broken write is the error the bridge has always raised for it, with the
    system, operation and record key; the token call before it went through."""
    admin(center_sim, "POST", "/reset")
    step = (
        "<APPROVEDATAINFO><SBLSH_SHORT>" + CASE + "</SBLSH_SHORT>"
        "<SXBM>370999001</SXBM><GDBSSPCL/></APPROVEDATAINFO>"
    )
    with breaking_server(center_sim.url) as server:
        server.breaks = breaks
        center = CenterAdapter(
            server.url,
            "bridge",
            "bridge-secret",
            department_code="d",
            region_code="r",
            timeout=1,
            deadline=1.5,
            quirks={"max_bytes": 100_000},
        )
        with pytest.raises(BridgeError) as raised:
            center.record_step(etree.fromstring(step))
        center.close()

    error = raised.value
    assert type(error) is error_class
    assert message in error.message
    assert (error.system, error.operation, error.record) == (
        "center",
        "receiveCourseInfo",
        CASE,
    )
    assert error.http_status == status
    assert [BROKEN in seen.body for seen in server.seen] == [False, True]


def test_refused_connection_is_unavailable() -> None:
    """Nobody listening: a transient UnavailableError naming the first call."""
    center = CenterAdapter(
        "http://127.0.0.1:9", "k", "s", department_code="d", region_code="r"
    )

    with pytest.raises(UnavailableError) as raised:
        center.get_apply_info(case_number=CASE)

    assert raised.value.transient
    assert (raised.value.system, raised.value.operation) == ("center", "getXmlToken")
    assert "cannot reach http://127.0.0.1:9" in raised.value.message


def test_calls_reuse_one_keep_alive_connection(center_sim: CenterSimulator) -> None:
    """Calls one after another travel on one pooled connection."""
    admin(center_sim, "POST", "/reset")
    with breaking_server(center_sim.url) as server:
        center = CenterAdapter(
            server.url, "bridge", "bridge-secret", department_code="d", region_code="r"
        )
        for _ in range(5):
            center.query_window_cases("2000-01-01 00:00:00", None, 10)
        center.close()

    assert len(server.seen) == 6
    assert len({seen.port for seen in server.seen}) == 1
    assert server.seen[0].headers["User-Agent"].startswith("Zeep/")
    assert server.seen[0].headers["Connection"] == "keep-alive"


def test_pool_holds_at_most_its_size(center_sim: CenterSimulator) -> None:
    """Eight calls at once on a pool of three: all answered, three kept open."""
    with breaking_server(center_sim.url) as server:
        transport = make_transport("center", 5, 10, pool_size=3)
        server.breaks = lambda handler, seen: (
            time.sleep(0.3),
            send(handler, 200, "text/plain", b"42"),
        )
        threads = [
            threading.Thread(target=transport.post, args=(server.url, b"x", {}))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kept = transport.pool.idle(server.url)
        transport.close()

    assert len(server.seen) == 8
    assert kept == 3


def test_proxies_in_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY and friends point nowhere useful; the call goes straight out."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with breaking_server() as server:
        server.breaks = lambda handler, seen: send(handler, 200, "text/plain", b"7")
        answer = make_transport("oa").post(f"{server.url}/up?x=1", b"data", {})

    assert (answer.status_code, answer.content) == (200, b"7")
    assert [seen.path for seen in server.seen] == ["/up?x=1"]


def redirecting(status: int) -> Callable[[BaseHTTPRequestHandler, Seen], None]:
    def answer(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        if seen.path == "/old":
            send(handler, status, "text/plain", b"moved", Location="/new?k=v")
            return
        send(handler, 200, "text/plain", seen.method.encode() + b" " + seen.body)

    return answer


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", b""),
        (302, "GET", b""),
        (303, "GET", b""),
        (307, "POST", b"payload"),
        (308, "POST", b"payload"),
    ],
)
def test_redirects_are_followed_as_requests_did(
    status: int, method: str, body: bytes
) -> None:
    """301, 302 and 303 turn a POST into a bare GET; 307 and 308 post again."""
    with breaking_server() as server:
        server.breaks = redirecting(status)
        answer = make_transport("oa").post(
            f"{server.url}/old", b"payload", {"Content-Type": "text/plain"}
        )

    assert answer.content == method.encode() + b" " + body
    assert [seen.path for seen in server.seen] == ["/old", "/new?k=v"]
    assert ("Content-Type" in server.seen[1].headers) == (method == "POST")


def test_endless_redirects_are_unavailable() -> None:
    """A redirect loop ends after 30 redirects as an UnavailableError."""
    with breaking_server() as server:
        server.breaks = lambda handler, seen: send(
            handler, 307, "text/plain", b"", Location="/again"
        )
        with pytest.raises(UnavailableError) as raised:
            make_transport("oa").post(f"{server.url}/again", b"x", {})

    assert len(server.seen) == 31
    assert raised.value.system == "oa"
    assert "cannot reach" in raised.value.message
