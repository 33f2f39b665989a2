"""The portal adapter against a running portal simulator."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from bridge.adapters import envelope
from bridge.adapters.base import Cursor, WriteOutcome
from bridge.adapters.portal import BINDING, WSDL_PATH, PortalAdapter, _unqualified
from bridge.errors import BusyError, RejectedError, UnavailableError
from bridge.sim.portal import ENDPOINT, FILING_FIELDS, PortalSimulator

SINCE = "2000-01-01 00:00:00"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSimulator]:
    """One portal simulator for this module, on a free loopback port."""
    folder: Path = tmp_path_factory.mktemp("portal-adapter")
    simulator = PortalSimulator(folder / "portal.sqlite")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def adapter(sim: PortalSimulator) -> Iterator[PortalAdapter]:
    """An adapter on an empty portal, with short timeouts."""
    admin(sim, "POST", "/reset")
    admin(sim, "POST", "/config", {"max_skew_seconds": None})
    portal = PortalAdapter(
        sim.url + ENDPOINT, "bridge", "bridge-secret", timeout=3, deadline=5
    )
    yield portal
    portal.close()


def admin(sim: PortalSimulator, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{sim.url}/admin{path}", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()


def progress_params(filing_no: str, seq: str = "1") -> dict[str, str]:
    return {
        "filingNo": filing_no,
        "caseNo": "0999240001001",
        "seq": seq,
        "state": "2",
        "stepName": "复核",
        "handler": "孙复核",
        "stepTime": "2024-03-07 15:00:00",
    }


def result_params(case_no: str) -> dict[str, str]:
    return {
        "caseNo": case_no,
        "itemCode": "370999002",
        "itemName": '社会服务业建设项目竣工环境保护"三同时"验收审批',
        "applicantName": "云麓松禾养老服务有限公司",
        "resultCode": "1",
        "resultText": "准予许可",
        "department": "市生态环境局",
        "finishTime": "2024-03-12 11:20:00",
    }


def test_pages_of_native_filings_with_cursor(
    sim: PortalSimulator, adapter: PortalAdapter
) -> None:
    """Pages hold unqualified <filing> elements; the cursor walks equal times."""
    same = {"changeTime": "2024-03-05 09:40:00"}
    numbers = sorted(admin(sim, "POST", "/filings", same)["filingNo"] for _ in range(3))

    first = adapter.list_filings(SINCE, None, page_size=2)
    second = adapter.list_filings(SINCE, first.cursor, page_size=2)

    assert first.has_more is True
    assert second.has_more is False
    assert first.cursor == Cursor("2024-03-05 09:40:00", numbers[1])
    assert second.cursor == Cursor("2024-03-05 09:40:00", numbers[2])
    records = first.records + second.records
    assert [r.findtext("filingNo") for r in records] == numbers
    assert [child.tag for child in records[0]] == [*FILING_FIELDS, "attachments"]
    assert records[0].tag == "filing"
    assert records[0].find("attachments/attachment/sha256") is not None


def test_empty_listing(adapter: PortalAdapter) -> None:
    """An empty portal gives an empty last page without a cursor."""
    page = adapter.list_filings(SINCE, None)

    assert (page.records, page.has_more, page.cursor) == ([], False, None)


def test_attachment_bytes_match_the_listing(
    sim: PortalSimulator, adapter: PortalAdapter
) -> None:
    """get_attachment returns bytes whose size and sha256 the listing announced."""
    attachment = {"materialName": "报告", "size": 3000}
    admin(sim, "POST", "/filings", {"attachments": [attachment]})
    record = adapter.list_filings(SINCE, None).records[0]
    described = record.find("attachments/attachment")
    assert described is not None

    fetched = adapter.get_attachment(described.findtext("attachmentId"))

    assert len(fetched.content) == int(described.findtext("size")) == 3000
    assert hashlib.sha256(fetched.content).hexdigest() == described.findtext("sha256")
    assert (fetched.file_name, fetched.media_type) == ("报告.pdf", "application/pdf")


def test_progress_done_then_already(
    sim: PortalSimulator, adapter: PortalAdapter
) -> None:
    """A progress post is DONE the first time and ALREADY when repeated."""
    filing = admin(sim, "POST", "/filings", {})

    first = adapter.post_progress(progress_params(filing["filingNo"]))
    again = adapter.post_progress(progress_params(filing["filingNo"]))

    assert (first, again) == (WriteOutcome.DONE, WriteOutcome.ALREADY)
    log = admin(sim, "GET", "/requests?operation=postProgress")["requests"]
    assert [r["outcome"] for r in log] == ["done", "already"]


def test_publish_and_read_back(sim: PortalSimulator, adapter: PortalAdapter) -> None:
    """A published result reads back as a dict; an unpublished case is None."""
    outcomes = [adapter.publish_result(result_params("0999240001002")) for _ in "ab"]

    published = adapter.get_publication("0999240001002")

    assert outcomes == [WriteOutcome.DONE, WriteOutcome.ALREADY]
    assert published is not None
    assert published["resultText"] == "准予许可"
    assert published["caseNo"] == "0999240001002"
    assert "filingNo" not in published
    assert adapter.get_publication("0999240001003") is None


def test_non_zero_code_is_rejected(adapter: PortalAdapter) -> None:
    """A code 1 answer becomes a RejectedError with the portal's message."""
    with pytest.raises(RejectedError) as caught:
        adapter.post_progress(progress_params("WS20000101000000"))

    assert caught.value.message == "申报不存在: WS20000101000000"
    assert caught.value.record == "WS20000101000000"
    assert caught.value.operation == "postProgress"
    assert caught.value.system == "portal"


def test_wrong_password_is_refused(sim: PortalSimulator) -> None:
    """A wrong password surfaces as a refused call naming the authentication fault."""
    admin(sim, "POST", "/reset")
    portal = PortalAdapter(sim.url, "bridge", "wrong", timeout=3, deadline=5)

    with pytest.raises(RejectedError) as caught:
        portal.get_publication("0999240001004")
    portal.close()

    assert "Authentication" in (caught.value.fault_code or "")
    assert caught.value.system == "portal"


def test_token_timestamps_are_utc(sim: PortalSimulator, adapter: PortalAdapter) -> None:
    """With a 120 s skew limit the adapter's token is accepted: Created is UTC."""
    admin(sim, "POST", "/config", {"max_skew_seconds": 120})

    assert adapter.get_publication("0999240001005") is None


def test_busy_fault_is_transient(sim: PortalSimulator, adapter: PortalAdapter) -> None:
    """An injected busy fault becomes a BusyError, the next call succeeds."""
    admin(sim, "POST", "/faults", {"rules": [{"kind": "soap_fault_busy", "count": 1}]})

    with pytest.raises(BusyError):
        adapter.list_filings(SINCE, None)
    admin(sim, "DELETE", "/faults")

    assert adapter.list_filings(SINCE, None).has_more is False


def test_html_500_is_unavailable(sim: PortalSimulator, adapter: PortalAdapter) -> None:
    """An HTML maintenance page with status 500 becomes an UnavailableError."""
    rule = {"kind": "http500_html", "operation": "publishResult", "count": 1}
    admin(sim, "POST", "/faults", {"rules": [rule]})

    with pytest.raises(UnavailableError) as caught:
        adapter.publish_result(result_params("0999240001006"))
    admin(sim, "DELETE", "/faults")

    assert caught.value.http_status == 500
    assert caught.value.operation == "publishResult"
    assert admin(sim, "GET", "/state")["publications"] == []


def test_bare_host_url_gets_the_service_path(sim: PortalSimulator) -> None:
    """A URL without a path is bound to the standard FilingService endpoint."""
    portal = PortalAdapter(sim.url, "bridge", "bridge-secret")

    assert portal.address == sim.url + ENDPOINT
    portal.close()


def test_envelope_body_and_signature_follow_zeep() -> None:
    """A portal request has zeep's body and headers and a verifiable digest."""
    portal = PortalAdapter("http://127.0.0.1:9", "bridge", "bridge-secret")
    client = zeep.Client(str(WSDL_PATH))
    binding = client.wsdl.bindings[BINDING]
    values = progress_params("WS1")
    security = envelope.username_token("bridge", "bridge-secret")

    made, made_headers = binding._create(
        "postProgress", (), values, client=client, options={"address": "x"}
    )
    ours, headers = envelope.request(
        portal._operations["postProgress"], values, address="x", security=security
    )

    root = etree.fromstring(ours)
    body = root.find(f"{{{SOAP11}}}Body")
    expected = made.find(f"{{{SOAP11}}}Body")
    canonical = etree.tostring(expected, method="c14n")
    assert etree.tostring(body, method="c14n") == canonical
    assert headers == dict(made_headers)
    token = root.find(f"{{{SOAP11}}}Header/{{{envelope.WSSE_NS}}}Security")[0]
    nonce = base64.b64decode(token.findtext(f"{{{envelope.WSSE_NS}}}Nonce"))
    created = token.findtext(f"{{{envelope.WSU_NS}}}Created")
    digest = hashlib.sha1(nonce + created.encode() + b"bridge-secret").digest()
    assert token.findtext(f"{{{envelope.WSSE_NS}}}Password") == base64.b64encode(
        digest
    ).decode()
    assert created.endswith("Z")


def test_a_listed_record_is_copied_with_its_elements_and_text_only() -> None:
    """The listing's records reach the mapping as detached, unqualified copies:
    namespaces, attributes, tails, comments and processing instructions go, a
    nil child goes with its content (unless nil children are kept), the
    original is left as it was."""
    answer = etree.fromstring(
        '<r xmlns="urn:p" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<filing kind="a"> <no>1</no><!-- note -->after'
        '<gone xsi:nil="true"><x>1</x></gone>'
        '<kept xsi:nil="false">v<y/>tail</kept><?pi x?></filing></r>'
    )
    record = answer[0]
    before = etree.tostring(answer)

    plain = _unqualified(record)
    with_nil = _unqualified(record, drop_nil=False)

    assert etree.tostring(plain) == b"<filing> <no>1</no><kept>v<y/></kept></filing>"
    assert etree.tostring(with_nil) == (
        b"<filing> <no>1</no><gone><x>1</x></gone><kept>v<y/></kept></filing>"
    )
    assert plain.getparent() is None and etree.tostring(answer) == before
