"""The adapter for the bureau's online filing portal (网上受理系统).

It loads the bundled FilingService WSDL, binds it to the configured address,
signs every call with a WS-Security UsernameToken (password digest, UTC
timestamps) and hands filings to the mapping layer as native ``<filing>``
elements with unqualified child names, exactly as the portal sent them
(an element marked ``xsi:nil="true"`` is left out, as if it were absent).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import structlog
import zeep
from lxml import etree
from zeep.helpers import serialize_object
from zeep.wsse.username import UsernameToken

from bridge.adapters.base import Attachment, Cursor, Page, WriteOutcome
from bridge.adapters.decode import parse_answer
from bridge.adapters.quirks import QuirkProfile, profile_from
from bridge.adapters.records import check_numbers, numeric_paths
from bridge.adapters.transport import (
    SOAP11_NS,
    make_transport,
    translate,
    zeep_settings,
)
from bridge.errors import ProtocolError, RejectedError
from bridge.paths import WSDL_DIR
from bridge.xmlutil import local, text

log = structlog.get_logger()

SYSTEM = "portal"
PORTAL_NS = "urn:hbj:portal:ws:1"
ENDPOINT = "/portal/services/FilingService"
WSDL_PATH = WSDL_DIR / "portal" / "FilingService.wsdl"
BINDING = f"{{{PORTAL_NS}}}FilingServiceSoapBinding"
ALREADY_MESSAGE = "已存在"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class PortalAdapter:
    """Reads filings and attachments from the portal; writes progress and results."""

    system = SYSTEM

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10,
        deadline: float = 30,
        quirks: QuirkProfile | dict[str, Any] | None = None,
    ) -> None:
        self.quirks = profile_from(quirks, SYSTEM)
        self.address = _endpoint(url)
        self._transport = make_transport(
            SYSTEM, timeout, deadline, quirks=self.quirks, bundle=WSDL_PATH.parent
        )
        token = UsernameToken(username, password, use_digest=True, zulu_timestamp=True)
        client = zeep.Client(
            str(WSDL_PATH),
            transport=self._transport,
            wsse=token,
            settings=zeep_settings(self.quirks),
        )
        self._client = client
        self._service = client.create_service(BINDING, self.address)
        self._numbers = numeric_paths(client.get_type(f"{{{PORTAL_NS}}}Filing"))

    def close(self) -> None:
        """Release the pooled HTTP connections."""
        self._transport.session.close()

    # -- reading -------------------------------------------------------------------

    def list_filings(
        self, since: str, after: Cursor | None, page_size: int = 100
    ) -> Page:
        """One page of filings changed at or after ``since``, after ``after``."""
        arguments: dict[str, Any] = {"since": since, "pageSize": page_size}
        if after is not None:
            arguments.update(afterChangeTime=after.time, afterFilingNo=after.key)

        records, has_more = self._list_natively(arguments)
        cursor = None
        if records:
            last = records[-1]
            cursor = Cursor(text(last, "changeTime"), text(last, "filingNo"))
        page = Page(records=records, has_more=has_more, cursor=cursor)
        for record in records:
            key = text(record, "filingNo")
            error = check_numbers(
                record, self._numbers, system=SYSTEM, operation="listFilings", key=key
            )
            if error is not None:
                page.rejected[key] = error
        return page

    def get_attachment(self, attachment_id: str) -> Attachment:
        """One attachment's bytes and names."""
        result = self._call("getAttachment", attachment_id, attachmentId=attachment_id)
        return Attachment(
            attachment_id=result.attachmentId,
            file_name=result.fileName,
            media_type=result.mediaType,
            content=bytes(result.content or b""),
        )

    def get_publication(self, case_no: str) -> dict[str, str] | None:
        """What the portal publishes for ``case_no``, or None if nothing yet."""
        result = self._call("getPublication", case_no, caseNo=case_no)
        if result is None:
            return None
        found = serialize_object(result, dict)
        return {key: str(value) for key, value in found.items() if value is not None}

    # -- writing -------------------------------------------------------------------

    def post_progress(self, params: dict[str, str]) -> WriteOutcome:
        """Post a progress step against a filing (``filingNo`` + ``seq`` is the key)."""
        record = params.get("filingNo")
        return self._write("postProgress", record, params)

    def publish_result(self, params: dict[str, str]) -> WriteOutcome:
        """Publish a finished case's result (``caseNo`` is the key)."""
        return self._write("publishResult", params.get("caseNo"), params)

    def _write(
        self, operation: str, record: str | None, params: dict[str, str]
    ) -> WriteOutcome:
        result = self._call(operation, record, **params)
        if result.code != 0:
            raise RejectedError(
                result.message or f"code {result.code}",
                system=SYSTEM,
                operation=operation,
                record=record,
                detail=f"code={result.code}",
            )
        if result.message in self.quirks.already_done_messages:
            return WriteOutcome.ALREADY
        return WriteOutcome.DONE

    # -- the hot path: zeep builds and signs, lxml reads ----------------------------

    def _list_natively(
        self, arguments: dict[str, Any]
    ) -> tuple[list[etree._Element], bool]:
        """listFilings without zeep's object mapping of the answer.

        zeep still binds the operation and signs the envelope; a 200 answer
        without a fault is read with lxml, anything else goes through zeep's
        own reply processing so faults are raised exactly as on other calls.
        """
        operation = "listFilings"
        started = time.monotonic()
        binding = self._service._binding
        options = self._service._binding_options
        try:
            envelope, headers = binding._create(
                operation, (), arguments, client=self._client, options=options
            )
            response = self._transport.post_xml(options["address"], envelope, headers)
            answer = self._answer_element(response)
            if answer is None:
                binding.process_reply(self._client, binding.get(operation), response)
                raise ProtocolError("listFilings answer has no response element")
        except Exception as exc:
            raise self._failed(exc, operation, started) from exc
        log.info("portal.call", operation=operation, ms=_ms(started))

        records = [
            _unqualified(child, self.quirks.drop_nil)
            for child in answer
            if isinstance(child.tag, str) and local(child.tag) == "filing"
        ]
        return records, text(answer, "hasMore") == "1"

    def _answer_element(self, response: Any) -> etree._Element | None:
        """The listFilingsResponse of a plain 200 answer; None for anything else."""
        if response.status_code != 200:
            return None
        root = parse_answer(response.content, system=SYSTEM, huge=True)
        body = root.find(f"{{{SOAP11_NS}}}Body")
        if body is None or body.find(f"{{{SOAP11_NS}}}Fault") is not None:
            return None
        return body.find(f"{{{PORTAL_NS}}}listFilingsResponse")

    def _failed(self, exc: Exception, operation: str, started: float) -> Exception:
        error = translate(exc, SYSTEM, operation, None)
        log.warning(
            "portal.call_failed",
            operation=operation,
            error=type(error).__name__,
            ms=_ms(started),
        )
        return error

    # -- the one place a call happens ------------------------------------------------

    def _call(self, operation: str, record: str | None, **arguments: Any) -> Any:
        started = time.monotonic()
        try:
            result = getattr(self._service, operation)(**arguments)
        except Exception as exc:
            error = translate(exc, SYSTEM, operation, record)
            log.warning(
                "portal.call_failed",
                operation=operation,
                error=type(error).__name__,
                ms=_ms(started),
            )
            raise error from exc
        log.info("portal.call", operation=operation, ms=_ms(started))
        return result


def _endpoint(url: str) -> str:
    """The service address: ``url`` itself, or the standard path below a bare host."""
    if urlsplit(url).path in ("", "/"):
        return url.rstrip("/") + ENDPOINT
    return url


def _unqualified(element: etree._Element, drop_nil: bool = True) -> etree._Element:
    """A detached copy of ``element``, namespaces dropped, nil children left out."""
    copy = etree.Element(local(element.tag))
    copy.text = element.text
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if drop_nil and child.get(XSI_NIL) in ("true", "1"):
            continue
        copy.append(_unqualified(child, drop_nil))
    return copy


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
