"""The shared SOAP transport: one pooled HTTP client per counterpart, a total
deadline per call, the encoding rules and size cap of the counterpart's quirk
profile, WSDL loading confined to a local bundle, and the one place where
HTTP, requests, zeep and lxml exceptions become govbridge errors.

Calls go through the lean client of bridge/adapters/http.py; requests stays
only under zeep, for a WSDL fetched without a bundle at start.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
import zeep
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3 import HTTPHeaderDict

from bridge.adapters.decode import (
    choose_encoding,
    header_charset,
    looks_like_xml,
    to_utf8,
)
from bridge.adapters.http import (
    Answer,
    BadRequest,
    ConnectionPool,
    ConnectTimeout,
    DeadlineExceeded,
    HttpError,
    Limits,
    MalformedAnswer,
    ReadTimeout,
    TooLarge,
)
from bridge.adapters.quirks import QuirkProfile
from bridge.errors import (
    BridgeError,
    BusyError,
    ConfigError,
    DecodeError,
    PermanentError,
    ProtocolError,
    RejectedError,
    SecurityError,
    TimeoutError_,
    UnavailableError,
)

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
_ENVELOPE_NS = {"1.1": SOAP11_NS, "1.2": SOAP12_NS}

#: connections kept per counterpart: enough for 32 delivery workers at once
POOL_SIZE = 32
#: redirects followed per call, and how each turns the method (as requests did)
MAX_REDIRECTS = 30
_REDIRECTS = (301, 302, 303, 307, 308)
_BODY_HEADERS = ("content-length", "content-type", "transfer-encoding")


def make_session(pool_size: int = 8) -> requests.Session:
    """A requests session with one bounded connection pool and no retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    return session


def make_pool(pool_size: int = POOL_SIZE, timeout: float = 10.0) -> ConnectionPool:
    """One counterpart's connections: keep-alive, at most ``pool_size`` kept per
    host, no retries, no proxies, certificates checked against requests' bundle.

    A call beyond ``pool_size`` at once opens a connection of its own that is
    closed afterwards, as requests' pool did; no call waits for a free one.
    Connecting takes at most 5 s (or ``timeout``, when shorter); an answer may
    go silent for ``timeout`` s.
    """
    return ConnectionPool(
        pool_size,
        connect_timeout=min(timeout, 5.0),
        read_timeout=timeout,
        ca_file=DEFAULT_CA_BUNDLE_PATH,
    )


class HttpAnswer:
    """A complete HTTP answer: what zeep's bindings and the adapters read of a
    ``requests.Response`` (status, headers, body, charset)."""

    __slots__ = ("content", "headers", "status_code", "url")

    def __init__(
        self, status_code: int, headers: HTTPHeaderDict, content: bytes, url: str
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def encoding(self) -> str | None:
        return header_charset(self.headers.get("Content-Type"))


def snippet(body: bytes, content_type: str, limit: int = 200) -> str:
    """A short readable excerpt of an answer, decoded by its declared charset."""
    charset, skip = choose_encoding(body, content_type)
    body = body[skip:]
    try:
        decoded = body[: limit * 4].decode(charset, errors="replace")
    except LookupError:
        decoded = body[: limit * 4].decode("utf-8", errors="replace")
    return re.sub(r"\s+", " ", decoded)[:limit]


class DeadlineTransport(zeep.Transport):
    """A zeep transport that enforces a total deadline and a size cap per call.

    A per-read timeout alone lets a trickling answer run forever; here the
    body is read as it arrives and the call fails once ``deadline`` seconds
    have passed since it started. XML answers are re-encoded as UTF-8 by the
    rules of bridge/adapters/decode.py before zeep or lxml see them, and WSDL
    and schema locations resolve inside the local ``bundle`` folder only.
    Calls are sent through the connection ``pool``; zeep's requests session only
    fetches a WSDL when no bundle is set.
    """

    def __init__(
        self,
        system: str,
        *,
        session: requests.Session | None = None,
        pool: ConnectionPool | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        max_bytes: int | None = None,
        quirks: QuirkProfile | None = None,
        bundle: Path | None = None,
    ) -> None:
        super().__init__(
            session=session or make_session(1),
            timeout=timeout,
            operation_timeout=timeout,
        )
        self.system = system
        self.pool = pool or make_pool(timeout=timeout)
        self.quirks = quirks or QuirkProfile()
        self.read_timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes or self.quirks.max_bytes
        self.bundle = bundle
        self._default_headers = dict(self.session.headers)
        self._default_names = {name.lower() for name in self._default_headers}

    def post(self, address: str, message: Any, headers: dict[str, str]) -> Any:
        """Send ``message``; the complete, re-encoded answer as an HttpAnswer."""
        started = time.monotonic()
        method, url, body = "POST", address, message
        sent = self._with_defaults(headers)
        limits = Limits(deadline=started + self.deadline, max_bytes=self.max_bytes)
        for _ in range(MAX_REDIRECTS + 1):
            raw = self._send(method, url, body, sent, limits)
            content = self._read_body(raw)
            location = raw.headers.get("Location") if raw.status in _REDIRECTS else None
            if not location:
                answer = HttpAnswer(raw.status, raw.headers, content, url)
                self._check_status(answer)
                self._normalise(answer)
                return answer
            url = urljoin(url, location)
            method, body, sent = _redirected(raw.status, method, body, sent)
        raise UnavailableError(
            f"cannot reach {address}",
            system=self.system,
            detail=f"more than {MAX_REDIRECTS} redirects",
        )

    def close(self) -> None:
        """Release the pooled connections (and zeep's session)."""
        self.pool.clear()
        self.session.close()

    def _with_defaults(self, headers: dict[str, str]) -> dict[str, str]:
        """The session's default headers (zeep's User-Agent, Accept-Encoding,
        keep-alive) under the call's own, as requests merged them."""
        if not self._default_names.intersection(name.lower() for name in headers):
            return {**self._default_headers, **headers}
        given = {name.lower() for name in headers}
        kept = {
            name: value
            for name, value in self._default_headers.items()
            if name.lower() not in given
        }
        return {**kept, **headers}

    def _send(
        self, method: str, url: str, body: Any, headers: dict[str, str], limits: Limits
    ) -> Answer:
        """Send one request; its answer with the body still unread."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            return self.pool.send(method, url, headers, body, limits)
        except (HttpError, OSError, ValueError) as exc:
            raise self._failure(exc, url, reading_body=False) from exc

    def _read_body(self, response: Answer) -> bytes:
        """The whole body, decoded, within the size cap; the client bounds
        every read by the call's deadline."""
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                self._check_size(size, response.status)
                chunks.append(chunk)
        except BridgeError:
            raise
        except Exception as exc:
            raise self._failure(
                exc, "", reading_body=True, status=response.status
            ) from exc
        finally:
            response.release()
        return b"".join(chunks)

    def _failure(
        self,
        exc: BaseException,
        url: str,
        *,
        reading_body: bool,
        status: int | None = None,
    ) -> BridgeError:
        """The govbridge error for a call that got no complete HTTP answer."""
        where: dict[str, Any] = {
            "system": self.system,
            "http_status": status,
            "detail": str(exc),
        }
        if isinstance(exc, DeadlineExceeded):
            return TimeoutError_(
                f"answer not complete within {self.deadline:g} s", **where
            )
        if isinstance(exc, TooLarge):
            return SecurityError(
                f"answer larger than the cap of {self.max_bytes} bytes", **where
            )
        if isinstance(exc, BadRequest):
            return ProtocolError("request cannot be sent as given", **where)
        if isinstance(exc, MalformedAnswer):
            return ProtocolError("answer is not well-formed HTTP", **where)
        if reading_body:
            return TimeoutError_("answer interrupted", **where)
        if isinstance(exc, (ConnectTimeout, ReadTimeout)):
            return TimeoutError_("no answer in time", **where)
        return UnavailableError(f"cannot reach {url}", **where)

    def _check_size(self, size: int, status: int) -> None:
        if size > self.max_bytes:
            raise SecurityError(
                f"answer larger than the cap of {self.max_bytes} bytes",
                system=self.system,
                http_status=status,
            )

    def _check_status(self, response: HttpAnswer) -> None:
        """Turn a non-XML error answer into a classified error at once."""
        content_type = response.headers.get("Content-Type", "")
        looks_xml = (
            "xml" in content_type.lower()
            or response.content.lstrip()[:1] == b"<"
            and b"Envelope" in response.content[:2048]
        )
        if response.status_code >= 500 and not looks_xml:
            raise UnavailableError(
                f"HTTP {response.status_code} without a SOAP answer",
                system=self.system,
                http_status=response.status_code,
                detail=f"{content_type}: {snippet(response.content, content_type)}",
            )
        if 400 <= response.status_code < 500 and not looks_xml:
            raise ProtocolError(
                f"HTTP {response.status_code}",
                system=self.system,
                http_status=response.status_code,
                detail=snippet(response.content, content_type),
            )

    def _normalise(self, response: HttpAnswer) -> None:
        """Re-encode an XML answer as UTF-8; raise a fault of the other SOAP version."""
        if not looks_like_xml(response.content):
            return
        content_type = response.headers.get("Content-Type", "")
        response.content = to_utf8(
            response.content,
            content_type,
            system=self.system,
            default=self.quirks.encoding,
        )
        media = content_type.split(";")[0].strip() or "text/xml"
        response.headers["Content-Type"] = f"{media}; charset=UTF-8"
        _raise_foreign_fault(response, self.quirks.soap_version)

    def load(self, url: str) -> bytes:
        """A WSDL or schema document, read from the bundle when one is set."""
        if self.bundle is None:
            return bytes(super().load(url))
        return _bundle_file(self.bundle, url).read_bytes()


def _bundle_file(bundle: Path, url: str) -> Path:
    """The file in ``bundle`` that ``url`` names, by its longest matching tail."""
    root = bundle.resolve()
    path = urlsplit(url).path if "://" in url else url
    candidate = Path(path)
    inside_root = candidate.is_absolute() and candidate.resolve().is_relative_to(root)
    if inside_root and candidate.is_file():
        return candidate
    parts = [part for part in Path(path).parts if part not in ("/", "\\", "..")]
    for start in range(len(parts)):
        inside = root.joinpath(*parts[start:]).resolve()
        if inside.is_relative_to(root) and inside.is_file():
            return inside
    raise ConfigError(
        f"WSDL location {url} is not in the bundle {root}; nothing is fetched",
        detail=url,
    )


def _redirected(
    status: int, method: str, body: Any, headers: dict[str, str]
) -> tuple[str, Any, dict[str, str]]:
    """The next request after a redirect, as requests built it: 303 and 302
    turn into GET (301 too, from a POST) and lose the body and its headers;
    307 and 308 repeat the request as it was."""
    if status in (302, 303) and method != "HEAD" or status == 301 and method == "POST":
        method = "GET"
    if status in (307, 308):
        return method, body, headers
    kept = {
        name: value
        for name, value in headers.items()
        if name.lower() not in _BODY_HEADERS
    }
    return method, None, kept


def _raise_foreign_fault(response: HttpAnswer, expected: str) -> None:
    """Raise a zeep Fault for a fault in the envelope version zeep does not expect.

    A SOAP 1.1 service behind a 1.2 gateway (or the other way round) answers
    faults the binding cannot read; they are read here instead.
    """
    head = response.content[:8192]
    other = "1.2" if expected == "1.1" else "1.1"
    if _ENVELOPE_NS[other].encode() not in head or b"Fault" not in head:
        return
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )
    try:
        root = etree.fromstring(response.content, parser)
    except etree.XMLSyntaxError:
        return
    fault = root.find(f".//{{{_ENVELOPE_NS[other]}}}Fault")
    if fault is None:
        return
    raise fault_error(fault, other)


def fault_error(fault: etree._Element, version: str) -> zeep.exceptions.Fault:
    """A zeep Fault from a Fault element of either SOAP version, as zeep's
    bindings build it (code, subcodes, reason text, detail element)."""
    ns = _ENVELOPE_NS[version]
    if version == "1.2":
        code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        subcodes = [
            etree.QName(ns, (value.text or "").split(":")[-1])
            for value in fault.iterfind(f"{{{ns}}}Code//{{{ns}}}Subcode/{{{ns}}}Value")
        ]
        text = fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        detail = fault.find(f"{{{ns}}}Detail")
    else:
        code = fault.findtext("faultcode") or ""
        subcodes = []
        text = fault.findtext("faultstring") or ""
        detail = fault.find("detail")
    return zeep.exceptions.Fault(
        message=text,
        code=code.split(":")[-1],
        detail=detail,
        subcodes=subcodes,
    )


def make_transport(
    system: str,
    timeout: float = 10.0,
    deadline: float = 30.0,
    *,
    pool_size: int = POOL_SIZE,
    max_bytes: int | None = None,
    quirks: QuirkProfile | None = None,
    bundle: Path | None = None,
) -> DeadlineTransport:
    """The transport for one counterpart: pooled client, deadline, quirks, bundle."""
    return DeadlineTransport(
        system,
        pool=make_pool(pool_size, timeout),
        timeout=timeout,
        deadline=deadline,
        max_bytes=max_bytes,
        quirks=quirks,
        bundle=bundle,
    )


def zeep_settings(quirks: QuirkProfile) -> zeep.Settings:
    """Strict zeep settings; huge text nodes only where the size cap allows them."""
    return zeep.Settings(
        strict=True,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
        xml_huge_tree=quirks.max_bytes > 10_000_000,
    )


def _fault_code(fault: zeep.exceptions.Fault) -> str:
    code = fault.code
    if isinstance(code, etree.QName):
        code = code.localname
    return str(code or "").rsplit(":", 1)[-1]


def _fault_subcodes(fault: zeep.exceptions.Fault) -> list[str]:
    subcodes = getattr(fault, "subcodes", None) or []
    return [getattr(code, "localname", str(code)) for code in subcodes]


def translate(
    exc: BaseException,
    system: str,
    operation: str,
    record: str | None = None,
) -> BridgeError:
    """The one translation of library exceptions into the bridge's error tree."""
    if isinstance(exc, BridgeError):
        exc.system = exc.system or system
        exc.operation = exc.operation or operation
        exc.record = exc.record or record
        return exc
    where: dict[str, Any] = {"system": system, "operation": operation, "record": record}
    if isinstance(exc, zeep.exceptions.Fault):
        return _translate_fault(exc, where)
    if isinstance(exc, zeep.exceptions.TransportError):
        status = exc.status_code
        error_class = UnavailableError if status >= 500 else ProtocolError
        return error_class(
            f"HTTP {status}",
            http_status=status,
            detail=snippet(exc.content or b"", ""),
            **where,
        )
    if isinstance(exc, requests.Timeout):
        return TimeoutError_("no answer in time", detail=str(exc), **where)
    if isinstance(exc, requests.RequestException):
        return UnavailableError("counterpart unreachable", detail=str(exc), **where)
    timeout = isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
        exc, urllib3.exceptions.NewConnectionError
    )
    if timeout:
        return TimeoutError_("no answer in time", detail=str(exc), **where)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return UnavailableError("counterpart unreachable", detail=str(exc), **where)
    if isinstance(exc, UnicodeError):
        return DecodeError(f"answer is not valid text: {exc}", **where)
    if isinstance(exc, (etree.XMLSyntaxError, zeep.exceptions.XMLSyntaxError)):
        return ProtocolError(f"answer is not well-formed XML: {exc}", **where)
    if isinstance(exc, zeep.exceptions.Error):
        return ProtocolError(f"answer breaks the contract: {exc}", **where)
    return PermanentError(f"unexpected {type(exc).__name__}: {exc}", **where)


def _translate_fault(
    fault: zeep.exceptions.Fault, where: dict[str, Any]
) -> BridgeError:
    code = _fault_code(fault)
    text = str(fault.message or "")
    subcodes = _fault_subcodes(fault)
    busy = "Busy" in subcodes or "busy" in code.lower() or "繁忙" in text
    context = {"fault_code": ":".join([code, *subcodes]), "fault_text": text, **where}
    if busy:
        return BusyError("counterpart is busy", **context)
    server_side = code in ("Receiver", "Server") or code.startswith("Server.")
    if server_side and fault.detail is None:
        return UnavailableError("server fault", **context)
    return RejectedError("request refused by a SOAP fault", **context)
