"""The shared SOAP transport: one pooled HTTP session per counterpart, a total
deadline per call, and the one place where requests, zeep and lxml exceptions
become govbridge errors."""

from __future__ import annotations

import re
import time
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter

from bridge.errors import (
    BridgeError,
    BusyError,
    DecodeError,
    PermanentError,
    ProtocolError,
    RejectedError,
    SecurityError,
    TimeoutError_,
    UnavailableError,
)

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
_CHARSET = re.compile(r"charset=([\w-]+)", re.IGNORECASE)


def make_session(pool_size: int = 8) -> requests.Session:
    """A requests session with one bounded connection pool and no retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    return session


def snippet(body: bytes, content_type: str, limit: int = 200) -> str:
    """A short readable excerpt of an answer, decoded by its declared charset."""
    found = _CHARSET.search(content_type or "")
    charset = found.group(1) if found else "utf-8"
    if charset.lower() in ("gb2312", "gbk"):
        charset = "gb18030"
    try:
        decoded = body[: limit * 4].decode(charset, errors="replace")
    except LookupError:
        decoded = body[: limit * 4].decode("utf-8", errors="replace")
    return re.sub(r"\s+", " ", decoded)[:limit]


class DeadlineTransport(zeep.Transport):
    """A zeep transport that enforces a total deadline and a size cap per call.

    A per-read timeout alone lets a trickling answer run forever; here the
    body is read in chunks and the call fails once ``deadline`` seconds have
    passed since it started.
    """

    def __init__(
        self,
        system: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(
            session=session or make_session(),
            timeout=timeout,
            operation_timeout=timeout,
        )
        self.system = system
        self.read_timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes

    def post(self, address: str, message: Any, headers: dict[str, str]) -> Any:
        started = time.monotonic()
        try:
            response = self.session.post(
                address,
                data=message,
                headers=headers,
                timeout=(min(self.read_timeout, 5.0), self.read_timeout),
                stream=True,
            )
        except requests.Timeout as exc:
            raise TimeoutError_(
                "no answer in time", system=self.system, detail=str(exc)
            ) from exc
        except requests.RequestException as exc:
            raise UnavailableError(
                f"cannot reach {address}", system=self.system, detail=str(exc)
            ) from exc
        response._content = self._read_body(response, started)  # noqa: SLF001
        self._check_status(response)
        return response

    def _read_body(self, response: requests.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=16384):
                size += len(chunk)
                if size > self.max_bytes:
                    raise SecurityError(
                        f"answer larger than the cap of {self.max_bytes} bytes",
                        system=self.system,
                        http_status=response.status_code,
                    )
                chunks.append(chunk)
                if time.monotonic() - started > self.deadline:
                    raise TimeoutError_(
                        f"answer not complete within {self.deadline:g} s",
                        system=self.system,
                        http_status=response.status_code,
                    )
        except requests.RequestException as exc:
            raise TimeoutError_(
                "answer interrupted", system=self.system, detail=str(exc)
            ) from exc
        finally:
            response.close()
        return b"".join(chunks)

    def _check_status(self, response: requests.Response) -> None:
        """Turn a non-XML error answer into a classified error at once."""
        content_type = response.headers.get("Content-Type", "")
        looks_xml = "xml" in content_type.lower() or response.content.lstrip()[
            :1
        ] == b"<" and b"Envelope" in response.content[:2048]
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


def make_transport(
    system: str,
    timeout: float = 10.0,
    deadline: float = 30.0,
    *,
    pool_size: int = 8,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DeadlineTransport:
    """The transport for one counterpart: pooled session, deadline, size cap."""
    return DeadlineTransport(
        system,
        session=make_session(pool_size),
        timeout=timeout,
        deadline=deadline,
        max_bytes=max_bytes,
    )


def _fault_code(fault: zeep.exceptions.Fault) -> str:
    code = fault.code
    if isinstance(code, etree.QName):
        code = code.localname
    return str(code or "")


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
