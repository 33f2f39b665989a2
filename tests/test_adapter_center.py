"""The center adapter against a real center simulator on a loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from bridge.adapters import envelope
from bridge.adapters.base import Cursor, WriteOutcome
from bridge.adapters.center import BINDING, WSDL_PATH, CenterAdapter
from bridge.errors import (
    ProtocolError,
    RejectedError,
    TokenExpiredError,
    UnavailableError,
)
from bridge.sim.center import CenterSimulator
from bridge.sim.seed import BUREAU
from tests.quirkhelp import Canned, canned_server

MATTER = "370999001"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    """A center simulator of this module's own."""
    path: Path = tmp_path_factory.mktemp("center-adapter") / "c.sqlite"
    sim = CenterSimulator(path).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator: CenterSimulator) -> CenterSimulator:
    """The simulator, emptied and back on its default settings."""
    admin(simulator, "POST", "/reset")
    return simulator


@pytest.fixture
def adapter(sim: CenterSimulator) -> Iterator[CenterAdapter]:
    """An adapter on the simulator's bare base URL."""
    center = CenterAdapter(
        sim.url,
        "bridge",
        "bridge-secret",
        department_code=str(BUREAU["credit_code"]),
        region_code=str(BUREAU["region"]),
        timeout=5,
        deadline=10,
    )
    yield center
    center.close()


def admin(sim: CenterSimulator, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(method, f"{sim.url}/admin{path}", timeout=5, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def requests_of(sim: CenterSimulator, operation: str) -> list[dict[str, Any]]:
    return admin(sim, "GET", f"/requests?operation={operation}")["requests"]


def case_state(sim: CenterSimulator, number: str) -> dict[str, Any]:
    cases = admin(sim, "GET", "/state")["cases"]
    return next(case for case in cases if case["SBLSH_SHORT"] == number)


def build(number: str | None, block: str, **fields: str) -> etree._Element:
    """An APPROVEDATAINFO document with one payload block, as the mapping builds it."""
    root = etree.Element("APPROVEDATAINFO")
    if number is not None:
        etree.SubElement(root, "SBLSH_SHORT").text = number
        etree.SubElement(root, "SXBM").text = MATTER
    payload = etree.SubElement(root, block)
    for tag, value in fields.items():
        etree.SubElement(payload, tag).text = value
    return root


def registration(filing: str) -> etree._Element:
    doc = build(None, "SPSHENQIN", SXBM=MATTER, SQRMC="示例置业有限公司", SQRLX="2")
    etree.SubElement(doc, "WSSBLSH").text = filing
    return doc


def acceptance(number: str) -> etree._Element:
    return build(
        number, "SHOULI", YWSLSJ="2024-03-05 10:02:11", YWSLRMC="吴示范", YWSLZT="1"
    )


def step(number: str, serial: str) -> etree._Element:
    return build(
        number, "GDBSSPCL", SPHJXH=serial, SPHJDM="act2", SPHJMC="审核", SPYJ="同意"
    )


def suspension_start(number: str) -> etree._Element:
    doc = build(number, "SPTEBIESHENQING", XH="1", TBCXZL="B", SQNR="暂停计时")
    doc.insert(2, etree.Element("SUSPENDTYPE"))
    doc[2].text = "0"
    return doc


def completion(number: str) -> etree._Element:
    return build(number, "SPBANJIE", BJJGDM="6", BJJGMS="准予许可")


def registered(adapter: CenterAdapter, filing: str) -> str:
    number, _ = adapter.register_online_case(registration(filing))
    return number


def test_register_returns_the_center_number(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """register_online_case returns DATA/SBLSH_SHORT and DONE, then ALREADY."""
    number, first = adapter.register_online_case(registration("WS-A1"))
    again, second = adapter.register_online_case(registration("WS-A1"))

    assert len(number) == 13 and number.startswith("0999")
    assert (again, first, second) == (number, WriteOutcome.DONE, WriteOutcome.ALREADY)
    assert case_state(sim, number)["WSSBLSH"] == "WS-A1"


def test_every_write_is_done(adapter: CenterAdapter, sim: CenterSimulator) -> None:
    """accept, record_step, suspend and finish each answer DONE and land."""
    number = registered(adapter, "WS-A2")

    outcomes = [
        adapter.accept(acceptance(number)),
        adapter.record_step(step(number, "1")),
        adapter.suspend(suspension_start(number)),
        adapter.finish(completion(number)),
    ]

    state = case_state(sim, number)
    assert outcomes == [WriteOutcome.DONE] * 4
    assert state["acceptance"]["BLRXM"] == "吴示范"
    assert state["steps"][0]["SPHJXH"] == "1"
    assert state["suspensions"][0]["XH"] == "1"
    assert state["completion"]["BJJGDM"] == "6"


def test_sent_document_has_the_exact_prolog(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """xmlStr goes out with the exact utf-8 prolog fragile receivers need."""
    registered(adapter, "WS-A3")

    body = requests_of(sim, "registerOnlineCase")[0]["body"]

    assert body.startswith('<?xml version="1.0" encoding="utf-8"?><APPROVEDATAINFO>')


@pytest.mark.parametrize("status", [200, 300])
def test_already_done_under_either_status(
    adapter: CenterAdapter, sim: CenterSimulator, status: int
) -> None:
    """A replayed write is ALREADY whether the center says 200 or 300."""
    admin(sim, "POST", "/config", json={"already_done_status": status})
    number = registered(adapter, f"WS-S{status}")
    adapter.accept(acceptance(number))
    adapter.record_step(step(number, "1"))

    again = adapter.record_step(step(number, "1"))
    accepted_again = adapter.accept(acceptance(number))
    repeat_number, registered_again = adapter.register_online_case(
        registration(f"WS-S{status}")
    )

    assert (again, accepted_again) == (WriteOutcome.ALREADY, WriteOutcome.ALREADY)
    assert (repeat_number, registered_again) == (number, WriteOutcome.ALREADY)
    assert requests_of(sim, "receiveCourseInfo")[-1]["status"] == str(status)


def test_rejected_write_carries_desc(adapter: CenterAdapter) -> None:
    """A step before acceptance raises RejectedError with the center's DESC."""
    number = registered(adapter, "WS-A4")

    with pytest.raises(RejectedError) as caught:
        adapter.record_step(step(number, "1"))

    error = caught.value
    assert error.fault_text == "该办件尚未受理，不能接收审批过程信息"
    assert (error.system, error.operation, error.record) == (
        "center",
        "receiveCourseInfo",
        number,
    )
    assert not error.transient


def test_get_apply_info_by_number_and_filing(adapter: CenterAdapter) -> None:
    """get_apply_info returns DATA by number or by filing id, None when unknown."""
    number = registered(adapter, "WS-A5")
    adapter.accept(acceptance(number))
    adapter.record_step(step(number, "7"))

    by_number = adapter.get_apply_info(case_number=number, matter_code=MATTER)
    by_filing = adapter.get_apply_info(filing_id="WS-A5")
    missing = adapter.get_apply_info(case_number="0999249999999")

    assert by_number is not None and by_filing is not None
    assert by_number.tag == "DATA"
    assert by_number.findtext("SPSHENQIN/SBLSH_SHORT") == number
    assert by_filing.findtext("GDBSSPCL/SPHJXH") == "7"
    assert by_filing.findtext("SPSHOULI/SLZTDM") == "1"
    assert missing is None


def test_get_apply_info_wrong_matter_is_rejected(adapter: CenterAdapter) -> None:
    """A case number with another matter's code raises RejectedError."""
    number = registered(adapter, "WS-A6")

    with pytest.raises(RejectedError) as caught:
        adapter.get_apply_info(case_number=number, matter_code="370999005")

    assert caught.value.fault_text.startswith("该事项编码与根据申报流水号")


def test_query_pages_with_cursor(adapter: CenterAdapter, sim: CenterSimulator) -> None:
    """query_window_cases pages by cursor and sees every case exactly once."""
    filed = {admin(sim, "POST", "/cases", json={})["SBLSH_SHORT"] for _ in range(5)}
    filed.add(registered(adapter, "WS-A7"))

    seen: list[str] = []
    cursor: Cursor | None = None
    while True:
        page = adapter.query_window_cases("2000-01-01 00:00:00", cursor, page_size=2)
        seen += [record.findtext("SBLSH_SHORT") for record in page.records]
        cursor = page.cursor
        if not page.has_more:
            break

    assert sorted(seen) == sorted(filed)
    assert cursor is not None and cursor.key == seen[-1]
    assert len(cursor.time) == 19


def test_query_record_is_flat_native(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """A listed RECORD is the center's flat element with TJFS and GXSJ."""
    number = admin(sim, "POST", "/cases", json={"SQRMC": "周测试"})["SBLSH_SHORT"]

    page = adapter.query_window_cases("2000-01-01 00:00:00", None)

    record = page.records[0]
    assert record.tag == "RECORD"
    assert record.findtext("SBLSH_SHORT") == number
    assert record.findtext("SQRMC") == "周测试"
    assert record.findtext("TJFS") == "0"
    assert page.has_more is False


def test_token_is_refreshed_after_expiry(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """An expired token is replaced once and the write goes through."""
    admin(sim, "POST", "/config", json={"token_ttl_seconds": 60})
    number = registered(adapter, "WS-A8")
    admin(sim, "POST", "/clock", json={"advance_seconds": 120})

    try:
        outcome = adapter.accept(acceptance(number))
    finally:
        admin(sim, "POST", "/clock", json={"offset_seconds": 0})

    outcomes = [r["outcome"] for r in requests_of(sim, "receiveBusinessAccept")]
    assert outcome is WriteOutcome.DONE
    assert outcomes == ["error:接口令牌不存在", "done"]


def test_token_refused_twice_is_token_expired(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """When even a fresh token is refused the adapter raises TokenExpiredError."""
    number = registered(adapter, "WS-A9")
    admin(sim, "POST", "/config", json={"token_ttl_seconds": 0.000001})
    admin(sim, "POST", "/clock", json={"advance_seconds": 3600})

    try:
        with pytest.raises(TokenExpiredError) as caught:
            adapter.accept(acceptance(number))
    finally:
        admin(sim, "POST", "/clock", json={"offset_seconds": 0})

    assert caught.value.transient
    assert caught.value.record == number


def test_wrong_secret_is_rejected(sim: CenterSimulator) -> None:
    """Bad credentials raise RejectedError from getXmlToken."""
    center = CenterAdapter(
        sim.url, "bridge", "wrong", department_code="x", region_code="y"
    )

    with pytest.raises(RejectedError) as caught:
        center.get_apply_info(case_number="0999240000001")

    assert caught.value.operation == "getXmlToken"
    center.close()


def test_server_error_is_transient(
    adapter: CenterAdapter, sim: CenterSimulator
) -> None:
    """An HTML 500 maintenance page becomes a transient UnavailableError."""
    number = registered(adapter, "WS-A10")
    rule = {"kind": "http500_html", "operation": "receiveBusinessAccept", "count": 1}
    admin(sim, "POST", "/faults", json={"rules": [rule]})

    with pytest.raises(UnavailableError) as caught:
        adapter.accept(acceptance(number))

    assert caught.value.transient
    assert adapter.accept(acceptance(number)) is WriteOutcome.DONE


def test_get_apply_info_needs_a_key(adapter: CenterAdapter) -> None:
    """Asking for a case with neither number nor filing id is a ValueError."""
    with pytest.raises(ValueError, match="case number or a filing id"):
        adapter.get_apply_info()


def test_envelopes_equal_what_zeep_wrote() -> None:
    """A center request (SOAP 1.1, no header) is the body and headers zeep built."""
    center = CenterAdapter(
        "http://127.0.0.1:9", "k", "s", department_code="d", region_code="r"
    )
    client = zeep.Client(str(WSDL_PATH))
    binding = client.wsdl.bindings[BINDING]
    xml_str = '<?xml version="1.0" encoding="utf-8"?><APPROVEDATAINFO/>'
    values = {"accessToken": "T", "xmlStr": xml_str}

    made, made_headers = binding._create(
        "receiveCourseInfo", (), values, client=client, options={"address": "x"}
    )
    ours, headers = envelope.request(
        center._operations["receiveCourseInfo"], values, address="x"
    )

    expected = etree.tostring(made, method="c14n")
    assert etree.tostring(etree.fromstring(ours), method="c14n") == expected
    assert headers == dict(made_headers) == {
        "SOAPAction": '""',
        "Content-Type": "text/xml; charset=utf-8",
    }


def test_answer_without_response_element_is_protocol_error() -> None:
    """A 200 envelope whose body lacks the response element is a ProtocolError."""
    body = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<e:Body><other/></e:Body></e:Envelope>"
    )
    with canned_server(Canned(body=body)) as url:
        center = CenterAdapter(
            url, "k", "s", department_code="d", region_code="r", timeout=3
        )
        with pytest.raises(ProtocolError) as broken:
            center.get_apply_info(case_number="0999240000001")

    assert broken.value.operation == "getXmlToken"
    assert broken.value.system == "center"


#: values whose escaping a written envelope must get right
AWKWARD = [
    "",
    "plain",
    "a & b < c > d \"q\" 'a' ]]> end",
    "line\r\nbreak\ttab",
    "全角 ＡＢＣ and 😀 beyond the basic plane",
    '<?xml version="1.0" encoding="UTF-8"?><A B="1">值 &amp; text</A>',
]


def _bundled_operations() -> Iterator[envelope.Operation]:
    for wsdl in sorted(WSDL_PATH.parent.parent.rglob("*.wsdl")):
        client = zeep.Client(str(wsdl))
        for name, binding in client.wsdl.bindings.items():
            names = tuple(binding._operations)  # the loaded WSDL's operations
            yield from envelope.operations_of(client, name, names).values()


def test_written_envelopes_are_the_bytes_of_the_built_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every operation of every bundled WSDL, with awkward values, repeated
    children and a security header: the envelope ``request`` writes as text
    is, byte for byte, the one lxml serialises from the built tree."""
    fixed = uuid.UUID(int=7)
    monkeypatch.setattr(envelope.uuid, "uuid4", lambda: fixed)
    security = envelope.username_token("窗口 & bridge", "secret")
    operations = list(_bundled_operations())
    assert len(operations) >= 30

    for operation in operations:
        assert envelope._layout(operation) is not None, operation.name
        for round_, text in enumerate(AWKWARD):
            values = {
                child.name: [text, f"{text}#2"] if child.repeated else text
                for child in operation.children
            }
            signed = security if round_ % 2 else None
            written = envelope.request(
                operation, values, address="http://h/x?a=1&b=<2>", security=signed
            )
            tree = envelope.built(
                operation, values, address="http://h/x?a=1&b=<2>", security=signed
            )
            assert written == tree, (operation.name, text)
        if not any(child.required for child in operation.children):
            # a wrapper without children is written as an empty element
            empty = envelope.request(operation, {}, address="x", security=security)
            assert empty == envelope.built(
                operation, {}, address="x", security=security
            ), operation.name


def test_written_envelopes_refuse_what_lxml_refuses() -> None:
    """A value XML cannot carry is the same ValueError either way (a lone
    surrogate the UnicodeEncodeError), and a missing required child the
    contract error, before anything is written."""
    operation = next(
        op
        for op in _bundled_operations()
        if any(child.required for child in op.children)
    )
    good = {child.name: "x" for child in operation.children}
    for bad in ("nul\x00", "bell\x07", "\ufffe", "lone \ud800"):
        values = {**good, operation.children[0].name: bad}
        with pytest.raises(ValueError) as written:
            envelope.request(operation, values, address="x")
        with pytest.raises(ValueError) as built:
            envelope.built(operation, values, address="x")
        assert type(written.value) is type(built.value)  # UnicodeEncodeError too
    with pytest.raises(ProtocolError, match="missing element"):
        envelope.request(operation, {}, address="x")
