"""The OA adapter: SeeYon A8 integration services, only the contract's operations.

Talks SOAP 1.2 to the ``…HttpSoap12Endpoint/`` of each service, one pooled
session for all of them. zeep loads each bundled WSDL (bridge/wsdl/seeyon/)
once, on the service's first call; the envelopes themselves are written and
read with lxml (bridge/adapters/envelope.py). The token is fetched lazily;
when the OA says it is invalid (a typed fault, a generic fault naming the
token, or a launch answer with the token message) the adapter logs in again
once and repeats the call.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog
import zeep
import zeep.exceptions
from lxml import etree
from urllib3 import encode_multipart_formdata

from bridge.adapters import envelope
from bridge.adapters.envelope import Operation
from bridge.adapters.quirks import QuirkProfile, profile_from
from bridge.adapters.transport import (
    POOL_SIZE,
    make_transport,
    translate,
    zeep_settings,
)
from bridge.errors import (
    BridgeError,
    ConfigError,
    ProtocolError,
    RejectedError,
    TokenExpiredError,
)
from bridge.paths import WSDL_DIR
from bridge.xmlutil import parse_xml

SYSTEM = "oa"
WSDL_TNS = "www.seeyon.com"
LAUNCH = "launchFormCollaboration"

#: the operations called, per service
OPERATIONS: dict[str, tuple[str, ...]] = {
    "authorityService": ("authenticate",),
    "BPMService": (
        LAUNCH,
        "getFlowState",
        "getAllFormCollIdsByDateTime",
        "getFormCollIdsByDateTime",
    ),
    "documentService": ("exportFlow", "exportFlowList"),
    "messageService": ("sendMessageByLoginName",),
}
SERVICE_RESPONSE = ("errorMessage", "errorNumber", "result")
USER_TOKEN = ("id", "nullToken")

#: getFlowState codes (SeeYon REST numbers, a default until a real A8 confirms)
DEFAULT_STATE_CODES: dict[int, str] = {
    1: "draft",
    3: "sent",
    4: "partly_done",
    5: "revoked",
    6: "stepped_back",
    7: "taken_back",
    15: "terminated",
    0: "finished",
}

#: how an answer says the token is no longer valid, in any of the three channels
TOKEN_INVALID = re.compile(r"token|令牌", re.IGNORECASE)

log = structlog.get_logger()

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class ServiceResponse:
    """A ``t:ServiceResponse``: unreadable numbers are None, as zeep read them."""

    error_message: str | None
    error_number: int | None
    result: int | None


class OaAdapter:
    """Client of a SeeYon A8 (or the OA simulator) for one interface account."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        sender_login: str = "service-admin",
        state_codes: dict[int, str] | None = None,
        timeout: float = 10,
        deadline: float = 30,
        quirks: QuirkProfile | dict[str, Any] | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        if not isinstance(quirks, QuirkProfile):
            quirks = {"soap_version": "1.2", **(quirks or {})}
        self.quirks = profile_from(quirks, SYSTEM)
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self.sender_login = sender_login
        self.state_codes = dict(state_codes or DEFAULT_STATE_CODES)
        self._transport = make_transport(
            SYSTEM,
            timeout,
            deadline,
            pool_size=pool_size,
            quirks=self.quirks,
            bundle=WSDL_DIR / "seeyon",
        )
        self._services: dict[str, dict[str, Operation]] = {}
        self._huge = self.quirks.max_bytes > 10_000_000
        self._token: str | None = None
        self._lock = threading.RLock()

    # -- public operations ------------------------------------------------------

    def launch(
        self,
        template_code: str,
        subject: str,
        form_xml: str,
        attachment_ids: list[int] | None = None,
        *,
        record: str | None = None,
    ) -> int:
        """Start and send a form flow; return its flow id (often negative)."""
        answer = self._call(
            "BPMService",
            LAUNCH,
            _service_response,
            record=record,
            senderLoginName=self.sender_login,
            templateCode=template_code,
            subject=subject,
            data=form_xml,
            attachments=list(attachment_ids or []),
            param="0",
        )
        _check_response(answer, LAUNCH, record)
        if answer.result is None:
            raise ProtocolError(
                "launch answer has no result",
                system=SYSTEM,
                operation=LAUNCH,
                record=record,
            )
        return int(answer.result)

    def upload(self, file_name: str, content: bytes, media_type: str) -> int:
        """Upload one file through the upload servlet; return the attachment id."""
        body, content_type = encode_multipart_formdata(
            {"file": (file_name, content, media_type)}
        )
        headers = {"Content-Type": content_type}

        def send(token: str) -> Any:
            query = urlencode(
                {
                    "method": "processUploadService",
                    "token": token,
                    "senderLoginName": self.sender_login,
                }
            )
            address = f"{self.url}/seeyon/uploadService.do?{query}"
            return self._transport.post(address, body, headers)

        response = self._with_token("upload", send, record=file_name)
        text = response.content.decode("utf-8", errors="replace").strip()
        if not re.fullmatch(r"-?\d+", text) or text == "-1":
            raise ProtocolError(
                "upload answer is not an attachment id",
                system=SYSTEM,
                operation="upload",
                record=file_name,
                detail=text[:200],
            )
        return int(text)

    def flow_state(self, flow_id: int) -> int:
        """The flow's state code (see ``state_codes`` for its meaning)."""
        state = self._call(
            "BPMService",
            "getFlowState",
            _long_return,
            record=str(flow_id),
            flowId=flow_id,
        )
        if state is None:
            raise ProtocolError(
                "getFlowState answered no state", system=SYSTEM, record=str(flow_id)
            )
        if int(state) not in self.state_codes:
            log.warning("oa.state_unknown", flow_id=flow_id, state=int(state))
        return int(state)

    def state_name(self, state: int) -> str:
        """The configured meaning of a state code, or ``unknown``."""
        return self.state_codes.get(state, "unknown")

    def list_flow_ids(
        self, begin: str, end: str, template_codes: list[str] | None = None
    ) -> list[int]:
        """Flow ids in a ``yyyy-MM-dd HH:mm:ss`` window, optionally per template."""
        if template_codes:
            ids = self._call(
                "BPMService",
                "getFormCollIdsByDateTime",
                _long_returns,
                templateCode=list(template_codes),
                beginDateTime=begin,
                endDateTime=end,
            )
        else:
            ids = self._call(
                "BPMService",
                "getAllFormCollIdsByDateTime",
                _long_returns,
                beginDateTime=begin,
                endDateTime=end,
            )
        return ids

    def export_flow(self, flow_id: int) -> etree._Element:
        """The flow's exported document (form data and processing record), parsed."""
        text = self._call(
            "documentService",
            "exportFlow",
            _string_return,
            record=str(flow_id),
            flowId=flow_id,
        )
        if not text:
            raise ProtocolError(
                "exportFlow answered no document",
                system=SYSTEM,
                operation="exportFlow",
                record=str(flow_id),
            )
        return parse_xml(text, system=SYSTEM)

    def export_flows(self, flow_ids: list[int]) -> list[etree._Element]:
        """The exported documents of several flows in one call
        (``exportFlowList``), each as its own document, in the order asked.

        One unknown flow fails the whole call (the OA's typed fault); a caller
        that must tell which one reads them one by one.
        """
        if len(flow_ids) == 1:
            return [self.export_flow(flow_ids[0])]
        record = ",".join(str(flow_id) for flow_id in flow_ids)
        text = self._call(
            "documentService",
            "exportFlowList",
            _string_return,
            record=record,
            flowIdArray=list(flow_ids),
        )
        root = parse_xml(text, system=SYSTEM) if text else None
        exports = [] if root is None else [e for e in root if isinstance(e.tag, str)]
        if len(exports) != len(flow_ids):
            raise ProtocolError(
                f"exportFlowList answered {len(exports)} flows for {len(flow_ids)}",
                system=SYSTEM,
                operation="exportFlowList",
                record=record,
            )
        return [copy.deepcopy(export) for export in exports]

    def notify(self, login_names: list[str], content: str) -> None:
        """Send an OA message to the given accounts."""
        operation = "sendMessageByLoginName"
        answer = self._call(
            "messageService",
            operation,
            _service_response,
            loginNames=list(login_names),
            content=content,
            url=[],
        )
        _check_response(answer, operation, None)

    # -- token and calls ------------------------------------------------------------

    def _call(
        self,
        service: str,
        operation: str,
        read: Callable[[etree._Element | None, str], Answer],
        *,
        record: str | None = None,
        **kwargs: Any,
    ) -> Answer:
        """One SOAP call with the token, re-authenticating once if told to;
        ``read`` turns the response wrapper into the operation's value."""
        bound = self._operation(service, operation)
        address = self._address(service)

        def send(token: str) -> Answer:
            wrapper = self._exchange(bound, address, token=token, **kwargs)
            return read(wrapper, operation)

        return self._with_token(operation, send, record=record)

    def _exchange(
        self, operation: Operation, address: str, **values: Any
    ) -> etree._Element | None:
        """Post one envelope; the answer's response wrapper (faults raised)."""
        payload, headers = envelope.request(operation, values, address=address)
        response = self._transport.post(address, payload, headers)
        return envelope.answer(response, operation, huge=self._huge)

    def _with_token(
        self, operation: str, send: Callable[[str], Any], *, record: str | None
    ) -> Any:
        for attempt in (1, 2):
            token = self._ensure_token()
            started = time.monotonic()
            try:
                answer = send(token)
                refused = _answer_refuses_token(answer)
            except Exception as exc:
                refused = _error_refuses_token(exc)
                if not refused:
                    raise _with_service_code(
                        translate(exc, SYSTEM, operation, record), exc
                    ) from exc
            if not refused:
                ms = round((time.monotonic() - started) * 1000)
                log.debug("oa.call", operation=operation, record=record, ms=ms)
                return answer
            self._forget_token(token)
            log.warning("oa.token_refused", operation=operation, attempt=attempt)
        raise TokenExpiredError(
            "OA refused a fresh token",
            system=SYSTEM,
            operation=operation,
            record=record,
        )

    def _ensure_token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._authenticate()
            return self._token

    def _forget_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _authenticate(self) -> str:
        refused = ConfigError(
            f"OA refused the login of account {self.username}",
            system=SYSTEM,
            operation="authenticate",
        )
        service = "authorityService"
        try:
            answer = self._exchange(
                self._operation(service, "authenticate"),
                self._address(service),
                userName=self.username,
                password=self._password,
            )
            token = _user_token_id(answer)
        except zeep.exceptions.Fault as fault:
            if fault.detail is None:
                raise translate(fault, SYSTEM, "authenticate") from fault
            refused.fault_text = str(fault.message or "")
            raise refused from fault
        except Exception as exc:
            raise translate(exc, SYSTEM, "authenticate") from exc
        if not token or token.strip() == "-1":
            raise refused
        log.info("oa.authenticated", account=self.username)
        return str(token).strip()

    def _operation(self, service: str, operation: str) -> Operation:
        """The bound operation, from the service's WSDL loaded on first use."""
        with self._lock:
            if service not in self._services:
                wsdl = WSDL_DIR / "seeyon" / f"{service}.wsdl"
                client = zeep.Client(
                    str(wsdl),
                    transport=self._transport,
                    settings=zeep_settings(self.quirks),
                )
                binding = f"{{{WSDL_TNS}}}{service}Soap12Binding"
                self._services[service] = envelope.operations_of(
                    client, binding, OPERATIONS[service]
                )
            return self._services[service][operation]

    def _address(self, service: str) -> str:
        return f"{self.url}/seeyon/services/{service}.{service}HttpSoap12Endpoint/"


def _fault_texts(fault: zeep.exceptions.Fault) -> list[str]:
    texts = [str(fault.message or "")]
    if fault.detail is not None:
        texts += [str(el.text or "") for el in fault.detail.iter("{*}message")]
    return texts


def _error_refuses_token(exc: BaseException) -> bool:
    """A fault naming the token, or the upload servlet's 401."""
    if isinstance(exc, zeep.exceptions.Fault):
        return any(TOKEN_INVALID.search(text) for text in _fault_texts(exc))
    return isinstance(exc, BridgeError) and exc.http_status == 401


def _answer_refuses_token(answer: Any) -> bool:
    """A ServiceResponse with errorNumber ≠ 0 and the token message."""
    if not isinstance(answer, ServiceResponse):
        return False
    number = answer.error_number
    message = answer.error_message or ""
    return number not in (None, 0) and bool(TOKEN_INVALID.search(message))


def _with_service_code(error: BridgeError, exc: BaseException) -> BridgeError:
    """Put a typed ServiceException's errorNumber and message on the error."""
    detail = getattr(exc, "detail", None)
    if isinstance(exc, zeep.exceptions.Fault) and detail is not None:
        number = detail.find(".//{*}ServiceException/{*}errorNumber")
        if number is not None and number.text:
            error.fault_code = number.text.strip()
    return error


def _check_response(
    answer: ServiceResponse, operation: str, record: str | None
) -> None:
    """Raise RejectedError for a ServiceResponse whose errorNumber is not 0."""
    number = answer.error_number
    if number is None:
        raise ProtocolError(
            "answer has no errorNumber",
            system=SYSTEM,
            operation=operation,
            record=record,
        )
    if int(number) != 0:
        raise RejectedError(
            "OA refused the request",
            system=SYSTEM,
            operation=operation,
            record=record,
            fault_code=str(number),
            fault_text=answer.error_message,
        )


# -- reading answers by local name --------------------------------------------------


def _return(wrapper: etree._Element | None) -> etree._Element | None:
    return None if wrapper is None else envelope.first(wrapper, "return")


def _service_response(
    wrapper: etree._Element | None, operation: str
) -> ServiceResponse:
    """The ``return`` ServiceResponse; all None when it is absent or nil."""
    value = _return(wrapper)
    if value is None or envelope.is_nil(value):
        return ServiceResponse(None, None, None)
    found = envelope.fields(value, SERVICE_RESPONSE, f"{operation} return")
    return ServiceResponse(
        error_message=found["errorMessage"],
        error_number=envelope.long_or_none(found["errorNumber"]),
        result=envelope.long_or_none(found["result"]),
    )


def _user_token_id(wrapper: etree._Element | None) -> str | None:
    """The ``id`` of the authenticate answer's UserToken, if any."""
    value = _return(wrapper)
    if value is None or envelope.is_nil(value):
        return None
    return envelope.fields(value, USER_TOKEN, "authenticate return")["id"]


def _long_return(wrapper: etree._Element | None, operation: str) -> int | None:
    return envelope.long_or_none(envelope.value(_return(wrapper)))


def _long_returns(wrapper: etree._Element | None, operation: str) -> list[int]:
    """An unwrapped long[]; an item that is not a number breaks the contract."""
    if wrapper is None:
        return []
    numbers = []
    for text in envelope.values(wrapper, "return"):
        number = envelope.long_or_none(text)
        if number is None:
            raise ProtocolError(
                f"{operation} answered an id that is not a number: {text!r}",
                system=SYSTEM,
                operation=operation,
            )
        numbers.append(number)
    return numbers


def _string_return(wrapper: etree._Element | None, operation: str) -> str | None:
    return envelope.value(_return(wrapper))
