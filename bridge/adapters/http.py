"""A lean HTTP/1.1 client for SOAP calls: keep-alive connections pooled per
origin, and nothing ever sent twice.

The transport (bridge/adapters/transport.py) sends every call through a
``ConnectionPool``. This module only knows HTTP: how a request is framed, how
an answer's status, headers and body are read (by length, in chunks or up to
the close; gzip or deflate decoded), and when a connection may carry another
call. Every read from the socket waits at most the read timeout and never
past the call's deadline, and no answer grows past the call's size cap,
compressed or decoded.

A request is written once. A connection kept idle is checked before it is
reused (a counterpart that closed it, or sent bytes out of turn, shows it as
readable), but a connection that breaks after the request went out is an
error for the caller, never a silent second attempt: a write at a legacy
target must not happen twice.
"""

from __future__ import annotations

import functools
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from urllib3 import HTTPHeaderDict

#: the longest status or header line read, and the most header (or trailer) lines
MAX_LINE = 65536
MAX_HEADERS = 100
#: interim (1xx) answers skipped before the final one, at most
MAX_INTERIM = 20
#: a request body up to this size goes out in the same packet as its head
_JOINED_BODY = 65536
#: origins a pool keeps idle connections for (a counterpart and its redirects)
MAX_ORIGINS = 4
_RECV_SIZE = 16384
#: a chunk size: hexadecimal digits only, at most 16 of them
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class HttpError(Exception):
    """A call that got no complete, well-formed HTTP answer."""


class BadRequest(HttpError):
    """The request cannot be sent as given (address, header value)."""


class ConnectError(HttpError):
    """No connection could be opened (refused, unknown host, TLS failed)."""


class ConnectTimeout(HttpError):
    """The connection was not open within the connect timeout."""


class ReadTimeout(HttpError):
    """The counterpart went silent for longer than the read timeout."""


class DeadlineExceeded(HttpError):
    """The answer was not complete by the call's deadline."""


class TooLarge(HttpError):
    """The answer grew past the call's size cap."""


class BrokenAnswer(HttpError):
    """The connection closed or broke before the answer was complete."""


class MalformedAnswer(HttpError):
    """What came back is not well-formed HTTP (or its compression is broken)."""


@dataclass(frozen=True)
class Limits:
    """What one call may take: a monotonic deadline and a size cap in bytes."""

    deadline: float | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class Origin:
    """Where connections go: scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> tuple[Origin, str]:
        """The origin of ``url`` and the request target (path and query)."""
        return _origin_and_target(url)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


@functools.lru_cache(maxsize=256)
def _origin_and_target(url: str) -> tuple[Origin, str]:
    if any(char <= " " or char == "\x7f" for char in url):
        raise BadRequest(f"a space or control character in the address {url!r}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BadRequest(f"not an address: {url!r}: {exc}") from None
    scheme = (parts.scheme or "http").lower()
    if scheme not in ("http", "https"):
        raise BadRequest(f"unsupported scheme {scheme!r} in {url}")
    if not parts.hostname:
        raise BadRequest(f"no host in {url}")
    try:
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"bad port in {url}: {exc}") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return Origin(scheme, parts.hostname, port), target


class Connection:
    """One socket to one origin, carrying one call at a time."""

    def __init__(
        self,
        origin: Origin,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.origin = origin
        self.read_timeout = read_timeout
        self.limits = Limits()
        self._buffer = bytearray()
        self._received = 0  # bytes of the current answer, head included
        try:
            sock = socket.create_connection(
                (origin.host, origin.port), timeout=connect_timeout
            )
        except TimeoutError as exc:
            raise ConnectTimeout(_no_connection(origin, connect_timeout)) from exc
        except UnicodeError as exc:
            raise BadRequest(f"not a host name: {origin.host!r}: {exc}") from exc
        except OSError as exc:
            raise ConnectError(
                f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=origin.host)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeout(_no_connection(origin, connect_timeout)) from exc
        except OSError as exc:
            sock.close()
            raise ConnectError(
                f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from exc
        self.sock = sock

    def send(
        self, method: str, head: bytes, body: bytes | None, limits: Limits
    ) -> Answer:
        """Write the request (``head``, then ``body``) once; the answer with
        its body still unread."""
        self.limits = limits
        self._received = 0
        # sending has only the deadline: a large body may take longer than
        # the read timeout to go out over a slow link
        left = None if limits.deadline is None else limits.deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DeadlineExceeded("answer not complete by the deadline")
        self.sock.settimeout(left if left is not None else self.read_timeout)
        try:
            if body and len(body) > _JOINED_BODY:
                self.sock.sendall(head)
                self.sock.sendall(body)
            else:
                self.sock.sendall(head + body if body else head)
        except TimeoutError as exc:
            raise ReadTimeout("request not taken in time") from exc
        except OSError as exc:
            # a counterpart may answer (413, a fault) and close before it has
            # read the whole request: that answer is the call's outcome
            early = self._early_answer(method)
            if early is None:
                raise BrokenAnswer(f"connection broke while sending: {exc}") from exc
            return early
        return self._answer(method)

    def dropped(self) -> bool:
        """Whether an idle connection was closed, or spoke out of turn, since
        its last answer: then it must not carry another call."""
        if self._buffer:
            return True
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        self.sock.close()

    # -- reading, every wait bounded by the read timeout and the deadline --------

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes, b"" once the counterpart closed."""
        if not self._buffer and not self._fill():
            return b""
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def line(self) -> bytes:
        """The next line with its end; without one when the connection closed."""
        while True:
            end = self._buffer.find(b"\n", 0, MAX_LINE + 1)
            if end >= 0:
                found = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return found
            if len(self._buffer) > MAX_LINE:
                raise MalformedAnswer("answer line longer than 64 KiB")
            if not self._fill():
                found = bytes(self._buffer)
                self._buffer.clear()
                return found

    def _fill(self) -> bool:
        """Read what the socket has; False when it is closed."""
        timeout = self._timeout()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(_RECV_SIZE)
        except TimeoutError as exc:
            if timeout < self.read_timeout:
                raise DeadlineExceeded("answer not complete by the deadline") from exc
            raise ReadTimeout("no answer in time") from exc
        except OSError as exc:
            raise BrokenAnswer(f"connection broke: {exc}") from exc
        self._received += len(data)
        cap = self.limits.max_bytes
        if cap is not None and self._received > cap + MAX_LINE:
            # the cap is the body's; the head gets a line's worth more
            raise TooLarge(f"answer larger than {cap} bytes")
        self._buffer += data
        return bool(data)

    def _timeout(self) -> float:
        deadline = self.limits.deadline
        if deadline is None:
            return self.read_timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("answer not complete by the deadline")
        return min(self.read_timeout, left)

    def _answer(self, method: str) -> Answer:
        for _ in range(MAX_INTERIM + 1):
            status, version = self._status_line()
            headers = self._headers()
            if not 100 <= status < 200:
                return Answer(self, status, version, headers, method)
        raise MalformedAnswer(f"more than {MAX_INTERIM} interim answers")

    def _early_answer(self, method: str) -> Answer | None:
        try:
            answer = self._answer(method)
        except HttpError:
            return None
        answer.reusable = False  # the rest of the request was never sent
        return answer

    def _status_line(self) -> tuple[int, str]:
        found = self.line()
        if not found:
            raise BrokenAnswer("connection closed before an answer")
        if not found.endswith(b"\n"):
            raise BrokenAnswer("connection closed inside the status line")
        parts = found.split(None, 2)
        if (
            len(parts) < 2
            or not parts[0].startswith(b"HTTP/")
            or len(parts[1]) != 3
            or not parts[1].isdigit()
            or not b"100" <= parts[1] <= b"599"
        ):
            raise MalformedAnswer(f"not an HTTP status line: {found[:80]!r}")
        return int(parts[1]), parts[0].decode("ascii", "replace")

    def _headers(self) -> HTTPHeaderDict:
        headers = HTTPHeaderDict()
        for name, value in self.fields():
            headers.add(name, value)
        return headers

    def fields(self) -> list[tuple[str, str]]:
        """Header (or trailer) lines up to the blank line that ends them."""
        pairs: list[tuple[str, str]] = []
        for _ in range(MAX_HEADERS + 1):
            found = self.line()
            if found in (b"\r\n", b"\n"):
                return pairs
            if not found.endswith(b"\n"):
                raise BrokenAnswer("connection closed inside the answer's headers")
            text = found.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t"):
                # an obsolete folded line continues the header before it
                if not pairs:
                    raise MalformedAnswer("the answer's head starts with a folded line")
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon or not name.strip():
                raise MalformedAnswer(f"not a header line: {text[:80]!r}")
            pairs.append((name.strip(), value.strip()))
        raise MalformedAnswer(f"more than {MAX_HEADERS} header lines")


def _no_connection(origin: Origin, seconds: float) -> str:
    return f"no connection to {origin.host}:{origin.port} within {seconds:g} s"


def _request_head(
    origin: Origin,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | None,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    given = {name.lower() for name in headers}
    if "host" not in given:
        lines.append(f"Host: {origin.host_header}")
    for name, value in headers.items():
        if name.lower() in ("content-length", "transfer-encoding"):
            continue
        text = f"{name}: {value}"
        if any(char in text for char in "\r\n\0") or not name.strip():
            raise BadRequest(f"header {name!r} holds a line break or is empty")
        lines.append(text)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"a request header is not Latin-1: {exc}") from exc


class Answer:
    """An answer whose status and headers are read; its body is read with
    ``read1`` until it returns b"", then ``release`` hands the connection
    back (or closes it)."""

    def __init__(
        self,
        connection: Connection,
        status: int,
        version: str,
        headers: HTTPHeaderDict,
        method: str,
    ) -> None:
        self.status = status
        self.headers = headers
        self._connection: Connection | None = connection
        self._pool: ConnectionPool | None = None
        self._complete = False
        self._chunked = False
        self._left: int | None = None  # bytes still to read (of the chunk)
        self._decoder = _Decoder.of(headers.get("Content-Encoding", ""))
        connection_header = headers.get("Connection", "").lower()
        self.reusable = (
            "close" not in connection_header
            if version == "HTTP/1.1"
            else "keep-alive" in connection_header
        )
        lengths = {
            length.strip()
            for value in headers.getlist("Content-Length")
            for length in value.split(",")
        }
        if method == "HEAD" or status in (204, 304):
            self._left = 0
            if lengths - {"0"} or "Transfer-Encoding" in headers:
                self.reusable = False  # a body where none may be: do not trust it
        elif "Transfer-Encoding" in headers:
            codings = ",".join(headers.getlist("Transfer-Encoding")).lower()
            if [coding.strip() for coding in codings.split(",")] != ["chunked"]:
                raise MalformedAnswer(
                    f"transfer coding {codings!r}: only chunked is read"
                )
            self._chunked = True
            if lengths:
                self.reusable = False  # both framings: close after it
        elif lengths:
            if len(lengths) > 1:
                raise MalformedAnswer("conflicting Content-Length values")
            length = lengths.pop()
            if not (length.isascii() and length.isdigit() and len(length) <= 18):
                raise MalformedAnswer(
                    f"Content-Length is not a length: {length[:20]!r}"
                )
            self._left = int(length)
        else:
            self.reusable = False  # the body runs to the close
        if self._left == 0:
            self._complete = True

    def read1(self, size: int = 65536) -> bytes:
        """The next part of the body (decoded), b"" at its end."""
        while True:
            decoder = self._decoder
            if decoder is None:
                return self._raw(size)
            if decoder.pending:
                decoded = decoder.more(size)
                if decoded:
                    return decoded
                continue
            raw = self._raw(size)
            if raw:
                decoded = decoder.feed(raw, size)
                if decoded:
                    return decoded
                continue
            self._decoder = None
            return decoder.finish()

    def release(self) -> None:
        """Give the connection back to its pool when the answer was read to
        its end and the counterpart keeps it open; close it otherwise."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        connection.limits = Limits()
        if self._complete and self.reusable and self._pool is not None:
            self._pool.put(connection)
        else:
            connection.close()

    def _raw(self, size: int) -> bytes:
        connection = self._connection
        if self._complete or connection is None:
            return b""
        if self._chunked:
            data = self._chunk(connection, size)
        else:
            wanted = size if self._left is None else min(size, self._left)
            data = connection.read1(wanted)
            if not data:
                if self._left is not None:
                    raise BrokenAnswer(
                        f"answer cut off with {self._left} bytes to come"
                    )
                self._complete = True
                return b""
            if self._left is not None:
                self._left -= len(data)
                self._complete = self._left == 0
        return data

    def _chunk(self, connection: Connection, size: int) -> bytes:
        if not self._left:
            found = connection.line()
            if not found.endswith(b"\n"):
                raise BrokenAnswer("answer cut off inside its chunks")
            digits = found.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(digits):
                raise MalformedAnswer(f"not a chunk size: {found[:40]!r}")
            self._left = int(digits, 16)
            if self._left == 0:
                connection.fields()  # the trailers, which are not used
                self._complete = True
                return b""
        data = connection.read1(min(size, self._left))
        if not data:
            raise BrokenAnswer("answer cut off inside a chunk")
        self._left -= len(data)
        if self._left == 0 and connection.line() not in (b"\r\n", b"\n"):
            raise MalformedAnswer("a chunk is not followed by a line end")
        return data


class _Decoder:
    """gzip (one member or several) or deflate (zlib-wrapped, or raw as some
    servers send it), decoded at most ``size`` bytes at a time, so a small
    answer cannot unpack into a huge one before the size cap sees it."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._inner: Any = None
        self._head = b""  # the first bytes, until they tell raw deflate apart
        self._next = b""  # bytes after a finished gzip member: the next one

    @classmethod
    def of(cls, encoding: str) -> _Decoder | None:
        coding = encoding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return cls("gzip")
        if coding == "deflate":
            return cls("deflate")
        return None

    @property
    def pending(self) -> bool:
        """Whether decoded bytes wait without reading more from the wire."""
        return bool(self._next) or bool(
            self._inner is not None and self._inner.unconsumed_tail
        )

    def feed(self, data: bytes, size: int) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            self._inner = self._start(data)
        return self._decompress(data, size)

    def more(self, size: int) -> bytes:
        if self._next:
            data, self._next = self._next, b""
            self._inner = self._start(data)
            return self._decompress(data, size)
        return self._decompress(self._inner.unconsumed_tail, size)

    def finish(self) -> bytes:
        if self._inner is None:
            if self._head:
                raise MalformedAnswer(f"{self.coding} answer cut off")
            return b""
        try:
            rest: bytes = self._inner.flush()
        except zlib.error as exc:
            raise MalformedAnswer(f"broken {self.coding} answer: {exc}") from exc
        if not self._inner.eof:
            raise MalformedAnswer(f"{self.coding} answer cut off")
        return rest

    def _start(self, head: bytes) -> Any:
        if self.coding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # a zlib header: compression method 8, and the first two bytes a
        # multiple of 31; anything else is a raw deflate stream
        wrapped = head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def _decompress(self, data: bytes, size: int) -> bytes:
        try:
            decoded = bytes(self._inner.decompress(data, size))
        except zlib.error as exc:
            raise MalformedAnswer(f"broken {self.coding} answer: {exc}") from exc
        if self._inner.eof and self._inner.unused_data:
            if self.coding != "gzip":
                raise MalformedAnswer(f"bytes after the end of the {self.coding} data")
            self._next = self._inner.unused_data
        return decoded


class ConnectionPool:
    """Idle keep-alive connections per origin, at most ``size`` of each.

    A call finds an idle connection or opens one; it never waits for one. A
    connection beyond ``size`` is closed after its call.
    """

    def __init__(
        self,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        ca_file: str | None = None,
    ) -> None:
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ca_file = ca_file
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[Connection]] = {}
        self._lock = threading.Lock()

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        limits: Limits | None = None,
    ) -> Answer:
        """Send one request on a pooled connection; its answer, body unread."""
        origin, target = Origin.of(url)
        head = _request_head(origin, method, target, headers, body)
        limits = limits or Limits()
        connection = self._take(origin, limits)
        try:
            answer = connection.send(method, head, body, limits)
        except BaseException:
            connection.close()
            raise
        answer._pool = self
        return answer

    def idle(self, url: str) -> int:
        """How many connections to ``url``'s origin wait idle."""
        origin, _ = Origin.of(url)
        with self._lock:
            return len(self._idle.get(origin, []))

    def put(self, connection: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(connection.origin, [])
            if len(idle) < self.size:
                idle.append(connection)
                return
        connection.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _take(self, origin: Origin, limits: Limits) -> Connection:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            if connection is None:
                break
            if not connection.dropped():
                return connection
            connection.close()
        self._forget_others(origin)
        connect_timeout = self.connect_timeout
        if limits.deadline is not None:
            left = limits.deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded("no time left to connect")
            connect_timeout = min(connect_timeout, left)
        return Connection(
            origin, connect_timeout, self.read_timeout, self._tls_for(origin)
        )

    def _forget_others(self, origin: Origin) -> None:
        """Keep idle connections for at most MAX_ORIGINS origins."""
        with self._lock:
            if origin in self._idle or len(self._idle) < MAX_ORIGINS:
                return
            oldest = next(iter(self._idle))
            dropped = self._idle.pop(oldest)
        for connection in dropped:
            connection.close()

    def _tls_for(self, origin: Origin) -> ssl.SSLContext | None:
        if origin.scheme != "https":
            return None
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context(cafile=self._ca_file)
            return self._tls
