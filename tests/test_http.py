"""The HTTP client under the transport: how answers are framed and decoded, when
a connection is kept for the next call, and that a request is never sent twice.

A scripted server on 127.0.0.1 answers each request with raw bytes chosen by
the test, so every framing (length, chunks, up to the close, compressed) and
every way of breaking a connection can be played exactly.
"""

from __future__ import annotations

import gzip
import random
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import pytest

from bridge.adapters.http import ConnectionPool, MalformedAnswer, Origin
from bridge.adapters.transport import make_transport
from bridge.errors import (
    ProtocolError,
    SecurityError,
    TimeoutError_,
    UnavailableError,
)

#: what the server does with request n: (the raw answer, or its parts sent with
#: a pause between them; close the connection after)
Script = Callable[[int, bytes], tuple[bytes | list[bytes], bool]]
#: the pause between the parts of an answer given as parts
PAUSE = 0.05


@dataclass
class Scripted:
    url: str
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0


def _read_request(reader: socket.SocketIO | object, body: bool) -> bytes | None:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = reader.read(1)  # type: ignore[attr-defined]
        if not byte:
            return None
        head += byte
    if not body:
        return head
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = reader.read(length) if length else b""  # type: ignore[attr-defined]
    return head + body


@contextmanager
def scripted_server(script: Script, read_body: bool = True) -> Iterator[Scripted]:
    listener = socket.create_server(("127.0.0.1", 0))
    state = Scripted(url=f"http://127.0.0.1:{listener.getsockname()[1]}/soap")

    def serve(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn:
            while True:
                request = _read_request(reader, read_body)
                if request is None:
                    return
                state.requests.append(request)
                answer, close = script(len(state.requests), request)
                for index, part in enumerate(
                    answer if isinstance(answer, list) else [answer]
                ):
                    if index:
                        time.sleep(PAUSE)
                    try:
                        conn.sendall(part)
                    except OSError:
                        return
                if close:
                    with suppress(OSError):
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


def test_interim_answers_are_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final")
    with scripted_server(lambda _n, _req: (answer, False)) as server:
        assert call(ConnectionPool(1, 1.0, 2.0), server.url) == b"final"


def test_bytes_sent_out_of_turn_end_the_connection() -> None:
    """An answer followed by more bytes than it announced: the next call must
    not take those bytes for its answer; it goes out on a new connection."""
    script: Script = lambda n, _req: (
        ok(b"1") + ok(b"stale") if n == 1 else ok(b"%d" % n),
        False,
    )
    with scripted_server(script) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        answers = [call(pool, server.url) for _ in range(3)]

    assert answers == [b"1", b"2", b"3"]
    assert server.connections == 2


@pytest.mark.parametrize(
    "head",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 40\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nab\r\n",
        b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n X-Folded: first\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_answers_not_http_or_framed_ambiguously_are_refused(head: bytes) -> None:
    with (
        scripted_server(lambda _n, _req: (head, True)) as server,
        pytest.raises(MalformedAnswer),
    ):
        call(ConnectionPool(1, 1.0, 2.0), server.url)


def test_length_and_chunks_together_close_the_connection_after() -> None:
    both = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
    with scripted_server(lambda _n, _req: (both, False)) as server:
        pool = ConnectionPool(2, 1.0, 2.0)
        body = call(pool, server.url)
        idle = pool.idle(server.url)

    assert (body, idle) == (b"ok", 0)


@pytest.mark.parametrize(
    "parts",
    [
        # headers trickled one byte at a time
        [b"HTTP/1.1 200 OK\r\nX-Slow: "] + [b"x"] * 60,
        # interim answers without end
        [b"HTTP/1.1 100 Continue\r\n\r\n"] * 60,
        # trailers without end
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"]
        + [b"X-T: 1\r\n"] * 60,
    ],
    ids=["headers", "interim", "trailers"],
)
def test_the_deadline_bounds_every_part_of_an_answer(parts: list[bytes]) -> None:
    """Each byte comes well within the read timeout, but the call ends at its
    deadline, whatever part of the answer is trickling."""
    with scripted_server(lambda _n, _req: (parts, True)) as server:
        transport = make_transport("center", timeout=1.0, deadline=0.6)
        started = time.monotonic()
        with pytest.raises(TimeoutError_) as raised:
            transport.post(server.url, b"x", {})
        spent = time.monotonic() - started

    assert raised.value.message == "answer not complete within 0.6 s"
    assert spent < 1.5


def test_a_compressed_bomb_stops_at_the_size_cap_unpacked() -> None:
    """50 MB of zeros in 50 KB of gzip: the cap of 100 KB is hit after at most
    one read's worth is unpacked, not after the whole."""
    bomb = ok(gzip.compress(bytes(50_000_000), 1), "Content-Encoding: gzip")
    with scripted_server(lambda _n, _req: (bomb, True)) as server:
        transport = make_transport("center", timeout=2.0, max_bytes=100_000)
        tracemalloc.start()
        try:
            with pytest.raises(SecurityError):
                transport.post(server.url, b"x", {})
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert peak < 5_000_000


def test_compressed_stream_that_stays_empty_counts_against_the_cap() -> None:
    """Empty deflate blocks unpack to nothing: the bytes on the wire count."""
    empty_blocks = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + (
        b"\x00\x00\x00\xff\xff" * 40_000
    )
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + empty_blocks
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        transport = make_transport("center", timeout=2.0, max_bytes=100_000)
        with pytest.raises(SecurityError):
            transport.post(server.url, b"x", {})


def test_raw_deflate_is_recognised_when_its_first_byte_comes_alone() -> None:
    packed = zlib.compress(b"split " * 100)[2:-4]
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n"
    parts = [head + packed[:1], packed[1:]]
    with scripted_server(lambda _n, _req: (parts, True)) as server:
        assert call(ConnectionPool(1, 1.0, 2.0), server.url) == b"split " * 100


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(random.Random(1).randbytes(2000))[:-30],
        b"\x1f\x8bnot gzip at all",
    ],
    ids=["cut", "broken"],
)
def test_broken_compressed_answer_is_a_protocol_error(body: bytes) -> None:
    answer = ok(body, "Content-Encoding: gzip")
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(ProtocolError) as raised:
            transport.post(server.url, b"x", {})

    assert raised.value.message == "answer is not well-formed HTTP"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n",
        b"HTTP/1.1 202 Accepted",
    ],
)
def test_answer_cut_inside_its_head_is_unavailable(answer: bytes) -> None:
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(UnavailableError):
            transport.post(server.url, b"x", {})


def test_an_answer_before_the_request_is_read_is_the_outcome() -> None:
    """A counterpart that refuses a large request after its head and closes:
    its 413 is the answer, not a broken connection to retry."""
    refusal = (b"HTTP/1.1 413 Too Large\r\nConnection: close\r\n"
               b"Content-Length: 8\r\n\r\ntoo long")
    with scripted_server(lambda _n, _req: (refusal, True), read_body=False) as server:
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(ProtocolError) as raised:
            transport.post(server.url, bytes(8_000_000), {})

    assert raised.value.http_status == 413
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("http://127.0.0.1:99999/x", {}),
        ("http://[::1/x", {}),
        ("http://127.0.0.1:{port}/a\tb", {}),
        ("ftp://127.0.0.1/x", {}),
        ("http:///x", {}),
        ("http://127.0.0.1:{port}/x", {"SOAPAction": "a\r\nX-Injected: yes"}),
        ("http://127.0.0.1:{port}/x", {"SOAPAction": "受理"}),
    ],
)
def test_requests_that_cannot_be_sent_are_permanent_and_not_sent(
    url: str, headers: dict[str, str]
) -> None:
    with scripted_server(lambda _n, _req: (ok(b"1"), False)) as server:
        port = server.url.split(":")[2].split("/")[0]
        transport = make_transport("center", timeout=2.0)
        with pytest.raises(ProtocolError):
            transport.post(url.format(port=port), b"x", headers)

    assert server.connections == 0


def test_port_zero_is_kept() -> None:
    assert Origin.of("http://127.0.0.1:0/x")[0].port == 0


def test_gzip_members_one_after_another_are_all_decoded() -> None:
    body = gzip.compress(b"<r><a>first</a>") + gzip.compress(b"<b>second</b></r>")
    answer = ok(body, "Content-Encoding: gzip")
    with scripted_server(lambda _n, _req: (answer, True)) as server:
        assert call(ConnectionPool(1, 1.0, 2.0), server.url) == (
            b"<r><a>first</a><b>second</b></r>"
        )


def test_bytes_outside_the_body_count_against_the_cap() -> None:
    """Interim answers with long headers carry no body, but every byte
    received counts: the call stops at the cap, not at the deadline."""
    interim = b"HTTP/1.1 100 Continue\r\n" + b"X-Pad: " + b"p" * 60_000 + b"\r\n\r\n"
    with scripted_server(lambda _n, _req: ([interim] * 20, True)) as server:
        transport = make_transport("center", timeout=2.0, max_bytes=100_000)
        with pytest.raises(SecurityError):
            transport.post(server.url, b"x", {})


def test_connecting_ends_at_the_deadline() -> None:
    """A listener that never accepts, its queue full: the connect waits no
    longer than the call's deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        transport = make_transport("center", timeout=10.0, deadline=0.5)
        started = time.monotonic()
        with pytest.raises(TimeoutError_):
            transport.post(f"http://127.0.0.1:{port}/x", b"x", {})
        spent = time.monotonic() - started
    finally:
        for filler in fillers:
            filler.close()
        listener.close()

    assert spent < 1.5


def test_a_slow_upload_may_take_longer_than_the_read_timeout() -> None:
    """Sending has the deadline, not the read timeout: a body whose first
    half the counterpart takes in slowly (longer than the read timeout of
    0.4 s) goes through."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    port = listener.getsockname()[1]
    body = bytes(16_000_000)  # more than the kernel's buffers hold

    def slow_reader() -> None:
        conn, _ = listener.accept()
        with conn:
            taken = 0
            while taken < len(body):
                data = conn.recv(65536)
                if not data:
                    return
                taken += len(data)
                if taken < len(body) // 2:
                    time.sleep(0.005)
            conn.sendall(ok(b"taken"))

    thread = threading.Thread(target=slow_reader, daemon=True)
    thread.start()
    try:
        transport = make_transport("center", timeout=0.4, deadline=10.0)
        answer = transport.post(f"http://127.0.0.1:{port}/up", body, {})
    finally:
        listener.close()

    assert answer.content == b"taken"
