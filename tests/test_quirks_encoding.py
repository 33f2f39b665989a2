"""Quirk cases 1-5 and 11: encodings, error pages, SOAP 1.2 faults, entities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.adapters.center import CenterAdapter
from bridge.adapters.oa import OaAdapter
from bridge.errors import (
    BusyError,
    DecodeError,
    SecurityError,
    UnavailableError,
    is_transient,
)
from bridge.sim.center import CenterSimulator
from bridge.sim.oa import OaSimulator
from bridge.sim.seed import BUREAU
from tests.quirkhelp import Canned, admin, canned_server, fault

SINCE = "2000-01-01 00:00:00"
NAME = "王镕"  # 镕 is in GBK, not in GB2312


@pytest.fixture(scope="module")
def center_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    """A private center simulator for this module."""
    path: Path = tmp_path_factory.mktemp("quirks-enc") / "center.sqlite"
    sim = CenterSimulator(path).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(center_sim: CenterSimulator) -> CenterSimulator:
    """The center simulator, emptied, holding one case whose applicant is 王镕."""
    admin(center_sim, "POST", "/reset")
    admin(center_sim, "POST", "/cases", {"SQRMC": NAME})
    return center_sim


@pytest.fixture
def center(sim: CenterSimulator) -> Iterator[CenterAdapter]:
    """A center adapter with short timeouts."""
    adapter = CenterAdapter(
        sim.url,
        "bridge",
        "bridge-secret",
        department_code=str(BUREAU["credit_code"]),
        region_code=str(BUREAU["region"]),
        timeout=3,
        deadline=5,
    )
    yield adapter
    adapter.close()


def names(center: CenterAdapter) -> list[str]:
    page = center.query_window_cases(SINCE, None, 10)
    return [record.findtext("SQRMC") for record in page.records]


def test_gb2312_declared_gbk_bytes_read_as_gb18030(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """Case 1: an answer declared gb2312 holding 镕 is read with GB18030, intact."""
    fault(sim, "gbk_declared_gb2312", "queryWindowCases")

    assert names(center) == [NAME]


def test_charset_only_in_http_header(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """Case 2: no XML declaration, charset=GBK in Content-Type: decoded as GBK."""
    fault(sim, "charset_header_only", "queryWindowCases")

    assert names(center) == [NAME]


def test_byte_order_mark_is_honoured(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """A UTF-8 byte order mark before the declaration does not disturb decoding."""
    fault(sim, "bom_utf8", "queryWindowCases")

    assert names(center) == [NAME]


def test_declared_utf8_with_gbk_bytes_is_permanent(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """Case 3: declared UTF-8 with GBK bytes is a DecodeError naming the offset."""
    fault(sim, "utf8_declared_gbk_bytes", "queryWindowCases")

    with pytest.raises(DecodeError) as raised:
        center.query_window_cases(SINCE, None, 10)

    error = raised.value
    assert error.system == "center"
    assert error.operation == "queryWindowCases"
    assert not is_transient(error)
    assert "byte offset" in error.message
    offset = int(error.message.rsplit(" ", 1)[-1])
    assert error.field == f"byte {offset}"
    assert offset > 100
    assert "\ufffd" not in str(error)


def test_html_maintenance_page_is_transient_then_retried(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """Case 4: HTTP 500 with a GBK HTML page is transient; the retry succeeds."""
    fault(sim, "http500_html", "queryWindowCases", count=1)

    with pytest.raises(UnavailableError) as raised:
        center.query_window_cases(SINCE, None, 10)

    error = raised.value
    assert is_transient(error)
    assert error.http_status == 500
    assert error.detail is not None
    assert error.detail.startswith("text/html; charset=GBK")
    assert "系统正在维护" in error.detail
    assert names(center) == [NAME]


@pytest.mark.parametrize("kind", ["soap12_busy", "soap12_busy_200"])
def test_soap12_busy_fault_is_transient_at_the_center(
    sim: CenterSimulator, center: CenterAdapter, kind: str
) -> None:
    """Case 5: a SOAP 1.2 Receiver/Busy fault (HTTP 500 or 200) is a BusyError."""
    fault(sim, kind, "queryWindowCases")

    with pytest.raises(BusyError) as raised:
        center.query_window_cases(SINCE, None, 10)

    assert raised.value.fault_code == "Receiver:Busy"
    assert raised.value.fault_text == "系统繁忙"
    assert raised.value.operation == "queryWindowCases"
    assert is_transient(raised.value)


@pytest.mark.parametrize("kind", ["soap12_busy", "soap12_busy_200"])
def test_soap12_busy_fault_is_transient_at_the_oa(tmp_path: Path, kind: str) -> None:
    """Case 5 on the SOAP 1.2 OA: the same fault under 500 or 200 is a BusyError."""
    sim = OaSimulator(tmp_path / "oa.sqlite").start()
    try:
        oa = OaAdapter(sim.url, "service-admin", "123456", timeout=3, deadline=5)
        oa.list_flow_ids("2001-01-01 00:00:00", "2001-01-02 00:00:00")
        fault(sim, kind, "getAllFormCollIdsByDateTime")

        with pytest.raises(BusyError) as raised:
            oa.list_flow_ids("2001-01-01 00:00:00", "2001-01-02 00:00:00")
    finally:
        sim.stop()

    assert raised.value.fault_code == "Receiver:Busy"
    assert raised.value.fault_text == "系统繁忙"
    assert raised.value.system == "oa"


def test_entity_declaration_from_the_simulator_is_refused(
    sim: CenterSimulator, center: CenterAdapter
) -> None:
    """Case 11: an answer with entity declarations is a SecurityError."""
    fault(sim, "entity_declaration", "queryWindowCases")

    with pytest.raises(SecurityError) as raised:
        center.query_window_cases(SINCE, None, 10)

    assert raised.value.system == "center"
    assert raised.value.operation == "queryWindowCases"


def test_external_entity_reads_nothing(tmp_path: Path) -> None:
    """Case 11: external entities (file and URL) are refused and never fetched."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER", encoding="utf-8")
    canned = Canned()
    with canned_server(canned) as url:
        canned.body = (
            '<?xml version="1.0"?>\n<!DOCTYPE r [\n'
            f'<!ENTITY file SYSTEM "file://{secret}">\n'
            f'<!ENTITY net SYSTEM "{url}/leak">\n'
            '<!ENTITY a "xxxxxxxxxx"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
            'envelope/"><soapenv:Body><r>&file;&net;&b;</r></soapenv:Body>'
            "</soapenv:Envelope>"
        ).encode()
        center = CenterAdapter(
            url, "k", "s", department_code="d", region_code="r", timeout=3
        )
        with pytest.raises(SecurityError) as raised:
            center.query_window_cases(SINCE, None, 10)

    assert raised.value.operation == "getXmlToken"
    assert "TOP-SECRET-MARKER" not in str(raised.value)
    assert canned.paths == ["/center/services/ApproveService"]
