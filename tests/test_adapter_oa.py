"""The OA adapter against a running OA simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from bridge.adapters import envelope
from bridge.adapters.oa import OaAdapter
from bridge.errors import (
    ConfigError,
    ProtocolError,
    RejectedError,
    TokenExpiredError,
    UnavailableError,
)
from bridge.paths import WSDL_DIR
from bridge.sim.oa import OaSimulator
from tests.quirkhelp import Canned, canned_server


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaSimulator]:
    folder: Path = tmp_path_factory.mktemp("oa-adapter")
    simulator = OaSimulator(folder / "oa.sqlite").start()
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def clean(sim: OaSimulator) -> None:
    requests.post(sim.url + "/admin/reset", timeout=5).raise_for_status()


@pytest.fixture
def oa(sim: OaSimulator) -> OaAdapter:
    return OaAdapter(sim.url, "service-admin", "123456", timeout=5, deadline=10)


def admin(sim: OaSimulator, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, sim.url + "/admin" + path, json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def form(case: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><formExport version="2.0">'
        '<summary id="" name="formmain_0101"/><values>'
        f'<column name="申办流水号"><value>{case}</value></column>'
        '<column name="项目名称"><value>松风里三期住宅项目</value></column>'
        "</values></formExport>"
    )


def launches(sim: OaSimulator) -> list[str]:
    logged = admin(sim, "GET", "/requests?operation=launchFormCollaboration")
    return [entry["outcome"] for entry in logged["requests"]]


def test_launch_returns_flow_id_and_state(sim: OaSimulator, oa: OaAdapter) -> None:
    """launch answers the new flow id; flow_state reads 3 (sent, no action)."""
    flow_id = oa.launch("HBJ_SX01", "验收申请", form("AD-1"), record="AD-1")

    state = oa.flow_state(flow_id)

    assert state == 3
    assert oa.state_name(state) == "sent"
    assert launches(sim) == [f"launched:{flow_id}"]
    stored = admin(sim, "GET", "/flows")["flows"]
    assert [(f["flow_id"], f["case_key"]) for f in stored] == [(flow_id, "AD-1")]


def test_list_flow_ids_with_and_without_templates(
    sim: OaSimulator, oa: OaAdapter
) -> None:
    """list_flow_ids lists by window, and by template codes when given."""
    one = oa.launch("HBJ_SX01", "a", form("AD-2"))
    two = oa.launch("HBJ_SX05", "b", form("AD-3"))
    today = admin(sim, "GET", "/health")["now"][:10]

    every = oa.list_flow_ids(f"{today} 00:00:00", f"{today} 23:59:59")
    sx05 = oa.list_flow_ids(f"{today} 00:00:00", f"{today} 23:59:59", ["HBJ_SX05"])
    none = oa.list_flow_ids("2001-01-01 00:00:00", "2001-01-01 23:59:59")

    assert sorted(every) == sorted([one, two])
    assert sx05 == [two]
    assert none == []


def test_export_flow_is_parsed_document(sim: OaSimulator, oa: OaAdapter) -> None:
    """export_flow returns the flowExport element with the processing record."""
    flow_id = oa.launch("HBJ_SX02", "c", form("AD-4"))
    for _ in range(4):
        admin(sim, "POST", f"/flows/{flow_id}/advance")

    document = oa.export_flow(flow_id)

    assert document.tag == "flowExport"
    assert document.findtext("summary/flowId") == str(flow_id)
    assert len(document.findall("processRecord/node")) == 4
    assert oa.flow_state(flow_id) == 0


def test_upload_and_launch_with_attachment(sim: OaSimulator, oa: OaAdapter) -> None:
    """upload answers the servlet's id, which launch passes on to the flow."""
    attachment_id = oa.upload("验收报告.pdf", b"%PDF-1.4 report", "application/pdf")

    flow_id = oa.launch("HBJ_SX01", "d", form("AD-5"), [attachment_id])

    stored = admin(sim, "GET", "/state")
    assert [a["file_name"] for a in stored["attachments"]] == ["验收报告.pdf"]
    assert stored["flows"][0]["flow_id"] == flow_id
    assert stored["flows"][0]["attachments"] == [attachment_id]


def test_notify_sends_message(sim: OaSimulator, oa: OaAdapter) -> None:
    """notify delivers one message to the named logins; an unknown login is refused."""
    oa.notify(["zhangsl", "zhaosp"], "申请人已撤件，请知悉")

    with pytest.raises(RejectedError) as refused:
        oa.notify(["ghost"], "x")

    messages = admin(sim, "GET", "/state")["messages"]
    assert [m["login_names"] for m in messages] == [["zhangsl", "zhaosp"]]
    assert refused.value.fault_code == "4001"


def test_launch_errors_are_rejected_errors(oa: OaAdapter) -> None:
    """errorNumber ≠ 0 becomes RejectedError with the number and message."""
    with pytest.raises(RejectedError) as missing:
        oa.launch("HBJ_NONE", "e", form("AD-6"), record="AD-6")
    with pytest.raises(RejectedError) as forbidden:
        oa.launch("HBJ_NOAUTH", "e", form("AD-6"), record="AD-6")

    assert missing.value.fault_code == "2001"
    assert missing.value.fault_text == "模板不存在:HBJ_NONE"
    assert missing.value.record == "AD-6"
    assert forbidden.value.fault_code == "2006"


def test_unknown_flow_state_is_typed_rejection(oa: OaAdapter) -> None:
    """flow_state of an unknown flow raises RejectedError with the fault number."""
    with pytest.raises(RejectedError) as unknown:
        oa.flow_state(-12345)

    assert unknown.value.fault_code == "3001"
    assert unknown.value.record == "-12345"


def test_typed_token_fault_reauthenticates_once(
    sim: OaSimulator, oa: OaAdapter
) -> None:
    """A typed token fault makes the adapter log in again and repeat the call."""
    flow_id = oa.launch("HBJ_SX01", "f", form("AD-7"))
    admin(sim, "DELETE", "/tokens")

    state = oa.flow_state(flow_id)

    assert state == 3


def test_upload_token_refusal_reauthenticates(sim: OaSimulator, oa: OaAdapter) -> None:
    """The servlet's 401 for a stale token leads to one re-login and one upload."""
    oa.list_flow_ids("2001-01-01", "2001-01-02")
    admin(sim, "DELETE", "/tokens")

    attachment_id = oa.upload("a.txt", b"abc", "text/plain")

    logged = admin(sim, "GET", "/requests?operation=upload")["requests"]
    assert [r["outcome"] for r in logged] == [
        "error:token",
        f"uploaded:{attachment_id}",
    ]


@pytest.mark.parametrize("shape", ["generic_fault", "error_number"])
def test_launch_token_refusal_relaunches_once(
    sim: OaSimulator, oa: OaAdapter, shape: str
) -> None:
    """Both launch token shapes lead to one re-login and exactly one flow."""
    admin(sim, "POST", "/config", {"launch_token_error": shape})
    oa.list_flow_ids("2001-01-01", "2001-01-02")
    admin(sim, "DELETE", "/tokens")

    flow_id = oa.launch("HBJ_SX03", "g", form("AD-8"))

    outcomes = launches(sim)
    refused = "fault:token" if shape == "generic_fault" else "error:1001"
    assert outcomes == [refused, f"launched:{flow_id}"]
    assert len(admin(sim, "GET", "/flows")["flows"]) == 1


def test_second_token_refusal_is_token_expired(sim: OaSimulator, oa: OaAdapter) -> None:
    """When even a fresh token is refused the adapter raises TokenExpiredError."""
    admin(sim, "POST", "/config", {"token_ttl_seconds": -1})

    with pytest.raises(TokenExpiredError) as expired:
        oa.launch("HBJ_SX01", "h", form("AD-9"), record="AD-9")

    assert expired.value.record == "AD-9"
    assert launches(sim) == ["fault:token", "fault:token"]


@pytest.mark.parametrize("answer", ["minus_one", "fault"])
def test_bad_login_is_config_error(sim: OaSimulator, answer: str) -> None:
    """A -1 token or a login fault is a ConfigError naming the account only."""
    admin(sim, "POST", "/config", {"bad_login_answer": answer})
    oa = OaAdapter(sim.url, "service-admin", "wrong-secret")

    with pytest.raises(ConfigError) as refused:
        oa.flow_state(1)

    assert "service-admin" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


def test_http500_page_is_unavailable(sim: OaSimulator, oa: OaAdapter) -> None:
    """An injected HTML 500 page surfaces as the transient UnavailableError."""
    oa.list_flow_ids("2001-01-01", "2001-01-02")
    admin(
        sim,
        "POST",
        "/faults",
        {"rules": [{"operation": "getFlowState", "kind": "http500_html", "count": 1}]},
    )

    with pytest.raises(UnavailableError):
        oa.flow_state(1)


SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
FLOW_NS = "http://impl.flow.services.v3x.seeyon.com"
AUTH_NS = "http://impl.services.v3x.seeyon.com"
T_NS = "http://services.v3x.seeyon.com/xsd"
WSA = "http://www.w3.org/2005/08/addressing"


def canned_oa(flow_answer: Canned) -> Callable[[str], Canned | None]:
    """authorityService answers a token; every other service ``flow_answer``."""
    token = (
        f'<e:Envelope xmlns:e="{SOAP12}"><e:Body>'
        f'<ns:authenticateResponse xmlns:ns="{AUTH_NS}"><ns:return xmlns:t="{T_NS}">'
        "<t:id>T-1</t:id></ns:return></ns:authenticateResponse></e:Body></e:Envelope>"
    ).encode()

    def answer(path: str) -> Canned | None:
        if "authorityService" in path:
            return Canned(body=token, content_type="application/soap+xml")
        return flow_answer

    return answer


def test_envelopes_equal_what_zeep_wrote() -> None:
    """Each OA request body and its HTTP headers are the ones zeep's binding built."""
    oa = OaAdapter("http://127.0.0.1:9", "service-admin", "123456")
    calls = {
        "BPMService": {
            "launchFormCollaboration": {
                "token": "T",
                "senderLoginName": "s",
                "templateCode": "HBJ_SX01",
                "subject": "",
                "data": form("Z-1"),
                "attachments": [1, -2],
                "param": "0",
            },
            "getFlowState": {"token": "T", "flowId": -7},
            "getFormCollIdsByDateTime": {
                "token": "T",
                "templateCode": ["A", "B"],
                "beginDateTime": "2024-01-01 00:00:00",
                "endDateTime": "2024-01-02 00:00:00",
            },
        },
        "documentService": {"exportFlowList": {"token": "T", "flowIdArray": [1, 2]}},
        "messageService": {
            "sendMessageByLoginName": {
                "token": "T",
                "loginNames": ["a"],
                "content": "通知",
                "url": [],
            }
        },
        "authorityService": {"authenticate": {"userName": "u", "password": "p"}},
    }
    for service, operations in calls.items():
        client = zeep.Client(str(WSDL_DIR / "seeyon" / f"{service}.wsdl"))
        binding = client.wsdl.bindings[f"{{www.seeyon.com}}{service}Soap12Binding"]
        address = oa._address(service)
        for operation, values in operations.items():
            options = {"address": address}
            made, made_headers = binding._create(
                operation, (), values, client=client, options=options
            )
            ours, headers = envelope.request(
                oa._operation(service, operation), values, address=address
            )

            root = etree.fromstring(ours)
            body = root.find(f"{{{SOAP12}}}Body")
            expected = made.find(f"{{{SOAP12}}}Body")
            assert etree.tostring(body, method="c14n") == etree.tostring(
                expected, method="c14n"
            )
            assert headers == dict(made_headers)
            assert root.findtext(f".//{{{WSA}}}Action") == f"urn:{operation}"
            assert root.findtext(f".//{{{WSA}}}To") == address


def test_soap11_typed_fault_keeps_its_number() -> None:
    """A SOAP 1.1 ServiceException fault is the same RejectedError as a 1.2 one."""
    fault = (
        f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><e:Fault>'
        "<faultcode>e:Server</faultcode><faultstring>流程不存在:5</faultstring><detail>"
        f'<ns:ServiceException xmlns:ns="{FLOW_NS}"><ns:ServiceException '
        f'xmlns:t="{T_NS}"><t:errorNumber>3001</t:errorNumber>'
        "<t:message>流程不存在:5</t:message></ns:ServiceException>"
        "</ns:ServiceException></detail></e:Fault></e:Body></e:Envelope>"
    ).encode()
    canned = Canned(status=500, body=fault)
    with canned_server(canned, canned_oa(canned)) as url:
        oa = OaAdapter(url, "service-admin", "123456", timeout=3, deadline=5)
        with pytest.raises(RejectedError) as refused:
            oa.flow_state(5)

    assert refused.value.fault_code == "3001"
    assert refused.value.fault_text == "流程不存在:5"
    assert refused.value.record == "5"


@pytest.mark.parametrize(
    ("operation", "returns"),
    [
        (
            "launchFormCollaboration",
            f'<ns:return xmlns:t="{T_NS}"><t:result>5</t:result></ns:return>',
        ),
        (
            "getAllFormCollIdsByDateTime",
            "<ns:return>1</ns:return><ns:return>x</ns:return>",
        ),
        ("getFlowState", ""),
    ],
)
def test_incomplete_answers_are_protocol_errors(operation: str, returns: str) -> None:
    """No errorNumber, a non-numeric id, a missing state: each a ProtocolError."""
    body = (
        f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><ns:{operation}Response '
        f'xmlns:ns="{FLOW_NS}">{returns}</ns:{operation}Response></e:Body></e:Envelope>'
    ).encode()
    canned = Canned(body=body, content_type="application/soap+xml")
    with canned_server(canned, canned_oa(canned)) as url:
        oa = OaAdapter(url, "service-admin", "123456", timeout=3, deadline=5)
        with pytest.raises(ProtocolError) as broken:
            if operation == "launchFormCollaboration":
                oa.launch("HBJ_SX01", "s", form("P-1"))
            elif operation == "getFlowState":
                oa.flow_state(5)
            else:
                oa.list_flow_ids("2024-01-01", "2024-01-02")

    assert broken.value.system == "oa"
    assert broken.value.operation in (operation, None)
