"""The HTTP client under the transport: how answers are framed and decoded, when
a connection is kept for the next call, and that a request is never sent twice.

A scripted server on 127.0.0.1 answers each request with raw bytes chosen by
the test, so every framing (length, chunks, up to the close, compressed) and
every way of breaking a connection can be played exactly.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from bridge.adapters.http import BrokenAnswer, ConnectionPool
from bridge.adapters.transport import make_transport
from bridge.errors import TimeoutError_, UnavailableError

#: what the server does with one request: (raw answer, close the connection after)
Script = Callable[[int, bytes], tuple[bytes, bool]]


@dataclass
class Scripted:
    url: str
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0


def _read_request(reader: socket.SocketIO | object) -> bytes | None:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = reader.read(1)  # type: ignore[attr-defined]
        if not byte:
            return None
        head += byte
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = reader.read(length) if length else b""  # type: ignore[attr-defined]
    return head + body


@contextmanager
def scripted_server(script: Script) -> Iterator[Scripted]:
    listener = socket.create_server(("127.0.0.1", 0))
    state = Scripted(url=f"http://127.0.0.1:{listener.getsockname()[1]}/soap")

    def serve(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                state.requests.append(request)
                answer, close = script(len(state.requests), request)
                if answer:
                    conn.sendall(answer)
                if close:
                    conn.shutdown(socket.SHUT_RDWR)
                    return

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            state.connections += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield state
    finally:
        listener.close()


def ok(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def call(pool: ConnectionPool, url: str, body: bytes = b"ping") -> bytes:
    answer = pool.send("POST", url, {"Content-Type": "text/plain"}, body)
    parts = []
    try:
        while chunk := answer.read1(7):
            parts.append(chunk)
    finally:
        answer.release()
    return b"".join(parts)


def test_keep_alive_answers_share_one_connection() -> None:
    with scripted_server(lambda n, _req: (ok(b"answer %d" % n), False)) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        answers = [call(pool, server.url) for _ in range(3)]

    assert answers == [b"answer 1", b"answer 2", b"answer 3"]
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /soap HTTP/1.1\r\n")
    assert b"Content-Length: 4\r\n" in server.requests[0]
    assert b"Host: 127.0.0.1:" in server.requests[0]


def test_chunked_answer_is_joined_and_the_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    with scripted_server(lambda _n, _req: (chunked, False)) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        first, second = call(pool, server.url), call(pool, server.url)

    assert first == second == b"hello, world"
    assert server.connections == 1


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as some send it
    ],
)
def test_compressed_answers_are_decoded(
    coding: str, pack: Callable[[bytes], bytes]
) -> None:
    text = "受理 ".encode() * 500
    answer = ok(pack(text), f"Content-Encoding: {coding}")
    with scripted_server(lambda _n, _req: (answer, False)) as server:
        assert call(ConnectionPool(1, 1.0, 2.0), server.url) == text


def test_connection_close_is_honoured() -> None:
    script: Script = lambda n, _req: (ok(b"%d" % n, "Connection: close"), True)
    with scripted_server(script) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        answers = [call(pool, server.url) for _ in range(2)]
        idle = pool.idle(server.url)

    assert answers == [b"1", b"2"]
    assert server.connections == 2
    assert idle == 0


def test_answer_up_to_the_close_is_read_whole_and_not_kept() -> None:
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        body = call(pool, server.url)
        idle = pool.idle(server.url)

    assert body == b"all of it"
    assert idle == 0


def test_idle_connection_closed_by_the_counterpart_is_not_reused() -> None:
    """The server closes after answering but says nothing: the next call sees
    the idle connection is gone and opens another, without any error."""
    with scripted_server(lambda n, _req: (ok(b"%d" % n), True)) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        first = call(pool, server.url)
        kept = pool.idle(server.url)
        time.sleep(0.2)  # the close reaches this side
        second = call(pool, server.url)

    assert (first, second) == (b"1", b"2")
    assert kept == 1
    assert server.connections == 2
    assert len(server.requests) == 2


def test_connection_broken_after_the_request_is_an_error_not_a_resend() -> None:
    """The counterpart takes the request and closes without an answer: the call
    fails as unavailable and the request reached it exactly once."""
    with scripted_server(lambda _n, _req: (b"", True)) as server:
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(UnavailableError) as raised:
            transport.post(server.url, b"<write/>", {"Content-Type": "text/xml"})

    assert len(server.requests) == 1
    assert "closed before an answer" in str(raised.value.detail)


def test_answer_shorter_than_its_length_is_interrupted() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    with scripted_server(lambda _n, _req: (cut, True)) as server:
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(TimeoutError_) as raised:
            transport.post(server.url, b"x", {})

    assert raised.value.message == "answer interrupted"
    assert "91 bytes to come" in str(raised.value.detail)


def test_silent_counterpart_is_a_timeout() -> None:
    with scripted_server(lambda _n, _req: (b"", False)) as server:
        transport = make_transport("center", timeout=0.3)
        with pytest.raises(TimeoutError_) as raised:
            transport.post(server.url, b"x", {})

    assert raised.value.message == "no answer in time"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
    ],
)
def test_answers_that_are_not_http_are_refused(answer: bytes) -> None:
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        with pytest.raises(BrokenAnswer):
            call(ConnectionPool(1, 1.0, 2.0), server.url)


def test_interim_answers_are_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final")
    with scripted_server(lambda _n, _req: (answer, False)) as server:
        assert call(ConnectionPool(1, 1.0, 2.0), server.url) == b"final"
