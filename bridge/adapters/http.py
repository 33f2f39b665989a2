"""A lean HTTP/1.1 client for SOAP calls: keep-alive connections pooled per
origin, and nothing ever sent twice.

The transport (bridge/adapters/transport.py) sends every call through a
``ConnectionPool``; it reads the answer's body itself, so that it can apply
the call's deadline and size cap as the body arrives. This module only knows
HTTP: how a request is framed, how an answer's status, headers and body are
read (by length, in chunks or up to the close; gzip or deflate decoded), and
when a connection may carry another call.

A request is written once. A connection kept idle is checked before it is
reused (a counterpart that closed it shows it as readable), but a connection
that breaks after the request went out is an error for the caller, never a
silent second attempt: a write at a legacy target must not happen twice.
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3 import HTTPHeaderDict

#: the longest status or header line read, and the most header lines
MAX_LINE = 65536
MAX_HEADERS = 100
#: a request body up to this size goes out in the same packet as its head
_JOINED_BODY = 65536
#: origins a pool keeps idle connections for (a counterpart and its redirects)
MAX_ORIGINS = 4


class HttpError(Exception):
    """A call that got no complete HTTP answer."""


class ConnectError(HttpError):
    """No connection could be opened (refused, unknown host, TLS failed)."""


class ConnectTimeout(HttpError):
    """The connection was not open within the connect timeout."""


class ReadTimeout(HttpError):
    """The counterpart went silent for longer than the read timeout."""


class BrokenAnswer(HttpError):
    """The connection closed or broke, or the answer is not HTTP."""


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
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    if scheme not in ("http", "https"):
        raise ConnectError(f"unsupported scheme {scheme!r} in {url}")
    if not parts.hostname:
        raise ConnectError(f"no host in {url}")
    port = parts.port or (443 if scheme == "https" else 80)
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
        try:
            sock = socket.create_connection(
                (origin.host, origin.port), timeout=connect_timeout
            )
        except TimeoutError as exc:
            raise ConnectTimeout(
                f"no connection to {origin.host}:{origin.port} within "
                f"{connect_timeout:g} s"
            ) from exc
        except OSError as exc:
            raise ConnectError(
                f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=origin.host)
            sock.settimeout(read_timeout)
        except OSError as exc:
            sock.close()
            raise ConnectError(
                f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from exc
        self.sock = sock
        self.reader = sock.makefile("rb")

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Answer:
        """Write the request once; the answer with its body still unread."""
        head = self._head(method, target, headers, body)
        try:
            if body and len(body) > _JOINED_BODY:
                self.sock.sendall(head)
                self.sock.sendall(body)
            else:
                self.sock.sendall(head + body if body else head)
        except TimeoutError as exc:
            raise ReadTimeout("request not taken in time") from exc
        except OSError as exc:
            raise BrokenAnswer(f"connection broke while sending: {exc}") from exc
        return self._answer(method)

    def dropped(self) -> bool:
        """Whether an idle connection was closed (or spoke out of turn) since
        its last answer: then it must not carry another call."""
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def _head(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1"]
        given = {name.lower() for name in headers}
        if "host" not in given:
            lines.append(f"Host: {self.origin.host_header}")
        for name, value in headers.items():
            if name.lower() != "content-length":
                lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        lines.append("\r\n")
        try:
            return "\r\n".join(lines).encode("latin-1")
        except UnicodeEncodeError as exc:
            raise BrokenAnswer(f"a request header is not Latin-1: {exc}") from exc

    def _answer(self, method: str) -> Answer:
        try:
            while True:
                status, version = self._status_line()
                headers = self._headers()
                if not 100 <= status < 200:
                    break
        except TimeoutError as exc:
            raise ReadTimeout("no answer in time") from exc
        except OSError as exc:
            raise BrokenAnswer(f"connection broke before the answer: {exc}") from exc
        return Answer(self, status, version, headers, method)

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BrokenAnswer("answer line longer than 64 KiB")
        return line

    def _status_line(self) -> tuple[int, str]:
        line = self._line()
        if not line:
            raise BrokenAnswer("connection closed before an answer")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise BrokenAnswer(f"not an HTTP status line: {line[:80]!r}")
        return int(parts[1]), parts[0].decode("ascii", "replace")

    def _headers(self) -> HTTPHeaderDict:
        pairs: list[tuple[str, str]] = []
        for _ in range(MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                headers = HTTPHeaderDict()
                for name, value in pairs:
                    headers.add(name, value)
                return headers
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and pairs:
                # an obsolete folded line continues the header before it
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon:
                raise BrokenAnswer(f"not a header line: {text[:80]!r}")
            pairs.append((name.strip(), value.strip()))
        raise BrokenAnswer(f"more than {MAX_HEADERS} header lines")


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
        self._left: int | None = None  # body bytes still to read, when known
        self._decoder = _decoder(headers.get("Content-Encoding", ""))
        connection_header = headers.get("Connection", "").lower()
        self._reusable = (
            "close" not in connection_header
            if version == "HTTP/1.1"
            else "keep-alive" in connection_header
        )
        if method == "HEAD" or status in (204, 304):
            self._left = 0
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            self._chunked = True
        elif "Content-Length" in headers:
            try:
                self._left = int(headers["Content-Length"].split(",")[0])
            except ValueError:
                raise BrokenAnswer("Content-Length is not a number") from None
            if self._left < 0:
                raise BrokenAnswer("Content-Length is negative")
        else:
            self._reusable = False  # the body runs to the close
        if self._left == 0:
            self._complete = True

    def read1(self, size: int = 65536) -> bytes:
        """The next part of the body (decoded), b"" at its end."""
        while True:
            raw = self._raw(size)
            if self._decoder is None:
                return raw
            if raw:
                decoded = self._decoder.decompress(raw)
                if decoded:
                    return decoded
                continue
            rest = self._decoder.flush()
            self._decoder = None
            return rest

    def release(self) -> None:
        """Give the connection back to its pool when the answer was read to
        its end and the counterpart keeps it open; close it otherwise."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._complete and self._reusable and self._pool is not None:
            self._pool.put(connection)
        else:
            connection.close()

    def _raw(self, size: int) -> bytes:
        if self._complete or self._connection is None:
            return b""
        if self._chunked:
            return self._chunk(self._connection, size)
        wanted = size if self._left is None else min(size, self._left)
        data = self._connection.reader.read1(wanted)
        if not data:
            if self._left is not None:
                raise BrokenAnswer(f"answer cut off with {self._left} bytes to come")
            self._complete = True
            return b""
        if self._left is not None:
            self._left -= len(data)
            self._complete = self._left == 0
        return data

    def _chunk(self, connection: Connection, size: int) -> bytes:
        if not self._left:
            line = connection._line()
            if not line:
                raise BrokenAnswer("answer cut off inside its chunks")
            try:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BrokenAnswer(f"not a chunk size: {line[:40]!r}") from None
            if self._left == 0:
                while connection._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers are not used
                self._complete = True
                return b""
        data = connection.reader.read1(min(size, self._left))
        if not data:
            raise BrokenAnswer("answer cut off inside a chunk")
        self._left -= len(data)
        if self._left == 0:
            connection._line()  # the CRLF after the chunk
        return data


def _decoder(encoding: str) -> zlib._Decompress | None:
    coding = encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Deflate()  # type: ignore[return-value]
    return None


class _Deflate:
    """'deflate' as servers send it: zlib-wrapped, or (wrongly) raw."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inner.decompress(data)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data)

    def flush(self) -> bytes:
        return self._inner.flush()


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
    ) -> Answer:
        """Send one request on a pooled connection; its answer, body unread."""
        origin, target = Origin.of(url)
        connection = self._take(origin)
        try:
            answer = connection.send(method, target, headers, body)
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

    def _take(self, origin: Origin) -> Connection:
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
        return Connection(
            origin, self.connect_timeout, self.read_timeout, self._tls_for(origin)
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
