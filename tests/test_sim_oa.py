"""The OA simulator over HTTP: SOAP side only, effects read through the admin API."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree

from bridge.sim.oa import OaSimulator
from bridge.sim.oa_flow import Pace, advance

AUTH = "http://impl.services.v3x.seeyon.com"
FLOW = "http://impl.flow.services.v3x.seeyon.com"
DOC = "http://impl.document.services.v3x.seeyon.com"
MSG = "http://impl.message.services.v3x.seeyon.com"
T = "http://services.v3x.seeyon.com/xsd"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
S12 = "http://www.w3.org/2003/05/soap-envelope"
SERVICE_OF = {
    AUTH: "authorityService",
    FLOW: "BPMService",
    DOC: "documentService",
    MSG: "messageService",
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaSimulator]:
    folder: Path = tmp_path_factory.mktemp("oa-sim")
    simulator = OaSimulator(folder / "oa.sqlite").start()
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def clean(sim: OaSimulator) -> None:
    requests.post(sim.url + "/admin/reset", timeout=5).raise_for_status()


def admin(sim: OaSimulator, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, sim.url + "/admin" + path, json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def envelope(ns: str, op: str, children: str, version: str = "1.2") -> bytes:
    env = S12 if version == "1.2" else S11
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="{env}"><e:Body>'
        f'<ns:{op} xmlns:ns="{ns}">{children}</ns:{op}></e:Body></e:Envelope>'
    ).encode()


def post(
    sim: OaSimulator,
    ns: str,
    op: str,
    children: str,
    *,
    version: str = "1.2",
    endpoint: str = "12",
    action: str | None = None,
) -> tuple[int, etree._Element]:
    svc = SERVICE_OF[ns]
    path = f"/seeyon/services/{svc}"
    if endpoint in ("11", "12"):
        path += f".{svc}HttpSoap{endpoint}Endpoint/"
    action = action or f"urn:{op}"
    if version == "1.2":
        headers = {
            "Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'
        }
    else:
        headers = {
            "Content-Type": "text/xml; charset=UTF-8",
            "SOAPAction": f'"{action}"',
        }
    body = envelope(ns, op, children, version)
    response = requests.post(sim.url + path, data=body, headers=headers, timeout=10)
    return response.status_code, etree.fromstring(response.content)


def el(name: str, value: str) -> str:
    return f"<ns:{name}>{escape(value)}</ns:{name}>"


def login(sim: OaSimulator) -> str:
    status, doc = post(
        sim,
        AUTH,
        "authenticate",
        el("userName", "service-admin") + el("password", "123456"),
    )
    assert status == 200
    return doc.findtext(f".//{{{T}}}id")


def form(case: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><formExport version="2.0">'
        '<summary id="" name="formmain_0101"/>'
        f'<values><column name="申办流水号"><value>{case}</value></column>'
        '<column name="项目名称"><value><![CDATA[翠湖花园 & 二期]]></value></column>'
        '<column name="联系人"><value>  </value></column>'
        '<column name="不存在的栏目"><value>x</value></column>'
        f"{extra}</values>"
        "<subForms><subForm><values>"
        '<row><column name="材料名称"><value>验收报告</value></column></row>'
        '<row><column name="别的"><value>y</value></column></row>'
        "</values></subForm><subForm><values>"
        '<row><column name="文件名称"><value>监测.pdf</value></column></row>'
        "</values></subForm></subForms></formExport>"
    )


def launch(
    sim: OaSimulator,
    token: str,
    case: str,
    *,
    template: str = "HBJ_SX01",
    sender: str = "service-admin",
    param: str = "0",
    subject: str = "验收",
    extra: str = "",
) -> tuple[int, etree._Element]:
    children = (
        el("token", token)
        + el("senderLoginName", sender)
        + el("templateCode", template)
        + el("subject", subject)
        + el("data", form(case, extra))
        + el("attachments", "42")
        + el("param", param)
    )
    return post(sim, FLOW, "launchFormCollaboration", children)


def launched_id(doc: etree._Element) -> int:
    assert doc.findtext(f".//{{{T}}}errorNumber") == "0"
    return int(doc.findtext(f".//{{{T}}}result"))


def flows(sim: OaSimulator) -> dict[int, dict[str, Any]]:
    return {flow["flow_id"]: flow for flow in admin(sim, "GET", "/flows")["flows"]}


def fault_number(doc: etree._Element, ns: str) -> int:
    inner = doc.find(f".//{{{ns}}}ServiceException/{{{ns}}}ServiceException")
    return int(inner.findtext(f"{{{T}}}errorNumber"))


def test_authenticate_issues_token_and_minus_one_for_bad_password(
    sim: OaSimulator,
) -> None:
    """Good credentials give an opaque token; bad ones give id -1 by default."""
    token = login(sim)

    status, doc = post(
        sim,
        AUTH,
        "authenticate",
        el("userName", "service-admin") + el("password", "wrong"),
    )

    assert len(token) == 32 and token != "-1"
    assert status == 200
    assert doc.findtext(f".//{{{T}}}id") == "-1"


def test_bad_login_can_be_a_typed_fault(sim: OaSimulator) -> None:
    """With bad_login_answer=fault, bad credentials give a ServiceException fault."""
    admin(sim, "POST", "/config", {"bad_login_answer": "fault"})

    status, doc = post(
        sim, AUTH, "authenticate", el("userName", "nobody") + el("password", "x")
    )

    assert status == 500
    assert fault_number(doc, AUTH) == 1001


def test_two_launches_of_one_form_make_two_flows(sim: OaSimulator) -> None:
    """The OA never de-duplicates: the same form sent twice is two flows, two logs."""
    token = login(sim)

    first = launched_id(launch(sim, token, "SB-0001")[1])
    second = launched_id(launch(sim, token, "SB-0001")[1])

    assert first != second
    assert set(flows(sim)) == {first, second}
    logged = admin(sim, "GET", "/requests?operation=launchFormCollaboration")[
        "requests"
    ]
    assert [(r["key"], r["outcome"]) for r in logged] == [
        ("SB-0001", f"launched:{first}"),
        ("SB-0001", f"launched:{second}"),
    ]


def test_form_is_parsed_by_display_name(sim: OaSimulator) -> None:
    """Unknown columns ignored, blanks skipped, CDATA read, subform rows flattened."""
    token = login(sim)

    flow_id = launched_id(launch(sim, token, "SB-0002")[1])

    stored = flows(sim)[flow_id]
    assert stored["form"]["master"] == {
        "申办流水号": "SB-0002",
        "项目名称": "翠湖花园 & 二期",
    }
    assert stored["form"]["rows"] == [
        {"材料名称": "验收报告"},
        {"文件名称": "监测.pdf"},
    ]
    assert stored["form"]["ignored"] == ["不存在的栏目"]
    assert stored["attachments"] == [42]
    assert stored["state"] == 3


def test_launch_checks_run_in_contract_order(sim: OaSimulator) -> None:
    """Unknown template beats unknown sender, which beats missing permission."""
    token = login(sim)

    both = launch(sim, token, "SB-3", template="NOPE", sender="ghost")[1]
    sender = launch(sim, token, "SB-3", sender="ghost")[1]
    permission = launch(sim, token, "SB-3", template="HBJ_NOAUTH")[1]

    assert both.findtext(f".//{{{T}}}errorNumber") == "2001"
    assert both.findtext(f".//{{{T}}}errorMessage") == "模板不存在:NOPE"
    assert sender.findtext(f".//{{{T}}}errorNumber") == "2002"
    assert permission.findtext(f".//{{{T}}}errorNumber") == "2006"
    assert flows(sim) == {}
    logged = admin(sim, "GET", "/requests?operation=launchFormCollaboration")[
        "requests"
    ]
    assert [r["outcome"] for r in logged] == ["error:2001", "error:2002", "error:2006"]


def test_bad_number_column_is_a_data_error(sim: OaSimulator) -> None:
    """A non-numeric 承诺时限 fails validation with formExportServiceDateInfoError."""
    token = login(sim)
    extra = '<column name="承诺时限"><value>十五</value></column>'

    doc = launch(sim, token, "SB-4", extra=extra)[1]

    assert doc.findtext(f".//{{{T}}}errorNumber") == "2007"


def test_param_one_drafts_and_blank_subject_is_built(sim: OaSimulator) -> None:
    """param 1 saves a draft (state 1) and a blank subject gets template + sender."""
    token = login(sim)

    flow_id = launched_id(launch(sim, token, "SB-5", param="1", subject=" ")[1])

    stored = flows(sim)[flow_id]
    assert stored["state"] == 1
    assert stored["subject"].startswith(
        '房地产(住宅)建设项目竣工环境保护"三同时"验收审批(接口管理员 '
    )


def test_relate_doc_eighth_child_is_accepted(sim: OaSimulator) -> None:
    """A newer client's relateDoc after param is read and stored."""
    token = login(sim)
    children = (
        el("token", token)
        + el("senderLoginName", "service-admin")
        + el("templateCode", "HBJ_SX02")
        + el("subject", "s")
        + el("data", form("SB-6"))
        + el("param", "0")
        + el("relateDoc", "col|1,2;")
    )

    doc = post(sim, FLOW, "launchFormCollaboration", children)[1]

    assert flows(sim)[launched_id(doc)]["relate_doc"] == "col|1,2;"


def test_out_of_order_child_is_refused(sim: OaSimulator) -> None:
    """Like an ADB server, a child out of sequence gives a generic fault."""
    token = login(sim)

    status, doc = post(
        sim, FLOW, "getFlowState", el("flowId", "1") + el("token", token)
    )

    assert status == 500
    assert "Unexpected subelement token" in doc.findtext(f".//{{{S12}}}Text")


def advance_to_end(sim: OaSimulator, flow_id: int) -> None:
    for _ in range(4):
        admin(sim, "POST", f"/flows/{flow_id}/advance")


def test_flow_advanced_to_end_exports_four_nodes_and_result(sim: OaSimulator) -> None:
    """Four admin advances finish a flow: state 0, four nodes, 审批结果 filled."""
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-7")[1])

    advance_to_end(sim, flow_id)
    state = post(
        sim, FLOW, "getFlowState", el("token", token) + el("flowId", str(flow_id))
    )
    doc = post(sim, DOC, "exportFlow", el("token", token) + el("flowId", str(flow_id)))[
        1
    ]

    assert state[1].findtext(f".//{{{FLOW}}}return") == "0"
    exported = etree.fromstring(doc.findtext(f".//{{{DOC}}}return").encode("utf-8"))
    nodes = exported.findall("processRecord/node")
    assert [n.findtext("nodeCode") for n in nodes] == ["act1", "act2", "act3", "act4"]
    assert [n.findtext("seq") for n in nodes] == ["1", "2", "3", "4"]
    assert nodes[0].findtext("handlerLogin") == "zhangsl"
    assert nodes[3].findtext("action") == "同意"
    values = {
        c.get("name"): c.findtext("value")
        for c in exported.findall("formExport/values/column")
    }
    assert values["审批结果"] == "准予许可"
    assert values["批准文号"].startswith("环审〔")
    assert values["申办流水号"] == "SB-7"
    assert exported.findtext("summary/state") == "0"


def test_refusal_terminates_with_state_15(sim: OaSimulator) -> None:
    """With refuse_rate 1 the last node refuses: state 15 and 不予许可."""
    admin(sim, "POST", "/pace", {"refuse_rate": 1.0})
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-8")[1])

    advance_to_end(sim, flow_id)

    stored = flows(sim)[flow_id]
    assert stored["state"] == 15
    assert stored["form"]["master"]["审批结果"] == "不予许可"
    assert stored["record"][-1]["action"] == "不同意"


def test_step_back_recurs_node_with_new_seq(sim: OaSimulator) -> None:
    """With stepback_rate 1 the second node steps back (state 6); act1 recurs, seq 3."""
    admin(sim, "POST", "/pace", {"stepback_rate": 1.0})
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-9")[1])

    admin(sim, "POST", f"/flows/{flow_id}/advance")
    admin(sim, "POST", f"/flows/{flow_id}/advance")
    stepped = flows(sim)[flow_id]
    admin(sim, "POST", f"/flows/{flow_id}/advance")

    assert stepped["state"] == 6
    assert stepped["record"][1]["action"] == "回退"
    record = flows(sim)[flow_id]["record"]
    assert [(n["seq"], n["nodeCode"]) for n in record] == [
        (1, "act1"),
        (2, "act2"),
        (3, "act1"),
    ]


def test_outcomes_are_seeded_and_reproducible() -> None:
    """The same seed and flow give the same decisions; the draw depends on the seed."""
    flow = {
        "flow_id": -5,
        "record": [],
        "form": {"master": {}, "rows": []},
        "node_index": 1,
        "node_start": "2024-03-05 10:00:00",
        "step_backs": 0,
        "state": 4,
    }
    codes = {"partly_done": 4, "stepped_back": 6, "terminated": 15, "finished": 0}
    pace = Pace(stepback_rate=0.5, seed=11)

    runs = [
        advance(flow, pace, "2024-03-05 11:00:00", codes)["record"] for _ in range(3)
    ]

    assert runs[0] == runs[1] == runs[2]
    assert runs[0][0]["startTime"] == "2024-03-05 10:00:00"


def test_flows_move_by_themselves(sim: OaSimulator) -> None:
    """With step_seconds 0.1 the background finishes a sent flow unaided."""
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-10")[1])

    admin(sim, "POST", "/pace", {"step_seconds": 0.1})
    deadline = time.monotonic() + 5
    while flows(sim)[flow_id]["state"] != 0 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert flows(sim)[flow_id]["state"] == 0
    assert len(flows(sim)[flow_id]["record"]) == 4


def list_ids(
    sim: OaSimulator,
    token: str,
    op: str,
    begin: str,
    end: str,
    extra: str = "",
    before: str = "",
) -> tuple[list[int], etree._Element]:
    children = el("token", token) + before + el("beginDateTime", begin)
    children += el("endDateTime", end) + extra
    doc = post(sim, FLOW, op, children)[1]
    returns = doc.findall(f".//{{{FLOW}}}return")
    return [int(r.text) for r in returns], doc


def test_listings_filter_by_window_state_and_template(sim: OaSimulator) -> None:
    """The three listing ops filter by creation window, state and template code."""
    token = login(sim)
    one = launched_id(launch(sim, token, "SB-11")[1])
    two = launched_id(launch(sim, token, "SB-12", template="HBJ_SX03")[1])
    admin(sim, "POST", f"/flows/{two}/advance")
    today = admin(sim, "GET", "/health")["now"][:10]

    every = list_ids(sim, token, "getAllFormCollIdsByDateTime", today, today)[0]
    partly = list_ids(
        sim,
        token,
        "getAllFormCollIdsByDateTimeAndState",
        f"{today} 00:00",
        f"{today} 23:59:59",
        el("state", "4"),
    )[0]
    by_template = list_ids(
        sim,
        token,
        "getFormCollIdsByDateTime",
        f"{today} 00:00:00",
        f"{today} 23:59:59",
        before=el("templateCode", "HBJ_SX03"),
    )[0]
    empty, doc = list_ids(
        sim,
        token,
        "getAllFormCollIdsByDateTime",
        "2001-01-01 00:00:00",
        "2001-01-02 00:00:00",
    )

    assert sorted(every) == sorted([one, two])
    assert partly == [two]
    assert by_template == [two]
    assert empty == []
    assert len(doc.find(f".//{{{FLOW}}}getAllFormCollIdsByDateTimeResponse")) == 0


def test_listing_can_select_by_last_change(sim: OaSimulator) -> None:
    """With listing_selects_by=change an old flow changed now is in today's window."""
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-13")[1])
    admin(sim, "POST", "/clock", {"advance_seconds": 3 * 86400})
    token = login(sim)
    admin(sim, "POST", f"/flows/{flow_id}/advance")
    today = admin(sim, "GET", "/health")["now"][:10]

    by_create = list_ids(sim, token, "getAllFormCollIdsByDateTime", today, today)[0]
    admin(sim, "POST", "/config", {"listing_selects_by": "change"})
    by_change = list_ids(sim, token, "getAllFormCollIdsByDateTime", today, today)[0]
    admin(sim, "POST", "/clock", {"offset_seconds": 0})

    assert by_create == []
    assert by_change == [flow_id]


def test_unknown_flow_is_typed_fault(sim: OaSimulator) -> None:
    """getFlowState of an unknown id is the documentExportFlowExist ServiceException."""
    token = login(sim)

    status, doc = post(
        sim, FLOW, "getFlowState", el("token", token) + el("flowId", "-77")
    )

    assert status == 500
    assert fault_number(doc, FLOW) == 3001


def test_export_flow_list_and_template_definition(sim: OaSimulator) -> None:
    """exportFlowList wraps each flow; getTemplateDefinition answers two strings."""
    token = login(sim)
    ids = [launched_id(launch(sim, token, f"SB-2{n}")[1]) for n in range(2)]

    listed = post(
        sim,
        DOC,
        "exportFlowList",
        el("token", token) + "".join(el("flowIdArray", str(i)) for i in ids),
    )[1]
    definition = post(
        sim,
        FLOW,
        "getTemplateDefinition",
        el("token", token) + el("templateCode", "HBJ_SX04"),
    )[1]

    document = etree.fromstring(listed.findtext(f".//{{{DOC}}}return").encode())
    assert [int(x) for x in document.xpath("flowExport/summary/flowId/text()")] == ids
    parts = definition.findall(f".//{{{FLOW}}}return")
    assert len(parts) == 2
    assert (
        etree.fromstring(parts[0].text.encode()).findtext("title")
        == "建设项目环境影响报告书审批"
    )
    assert etree.fromstring(parts[1].text.encode()).tag == "formExport"


def test_expired_token_is_typed_fault_in_called_namespace(sim: OaSimulator) -> None:
    """After its lifetime a token gets a ServiceException in the called namespace."""
    admin(sim, "POST", "/config", {"token_ttl_seconds": 60})
    token = login(sim)
    admin(sim, "POST", "/clock", {"advance_seconds": 61})

    status, doc = post(sim, DOC, "exportFlow", el("token", token) + el("flowId", "1"))
    admin(sim, "POST", "/clock", {"offset_seconds": 0})

    assert status == 500
    assert fault_number(doc, DOC) == 1001
    assert token in doc.findtext(f".//{{{T}}}message")


def test_launch_with_bad_token_is_generic_fault_or_error_number(
    sim: OaSimulator,
) -> None:
    """A bad launch token: a generic fault naming it, or errorNumber if configured."""
    status, generic = launch(sim, "stale-token", "SB-30")
    admin(sim, "POST", "/config", {"launch_token_error": "error_number"})
    status2, numbered = launch(sim, "stale-token", "SB-30")

    assert status == 500
    assert "stale-token" in generic.findtext(f".//{{{S12}}}Text")
    assert generic.find(f".//{{{S12}}}Detail") is None
    assert status2 == 200
    assert numbered.findtext(f".//{{{T}}}errorNumber") == "1001"
    assert "stale-token" in numbered.findtext(f".//{{{T}}}errorMessage")
    assert flows(sim) == {}


@pytest.mark.parametrize("endpoint", ["11", "12", "bare"])
def test_soap11_and_12_on_every_endpoint(sim: OaSimulator, endpoint: str) -> None:
    """Both SOAP versions work at the 1.1, 1.2 and bare endpoint URLs."""
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-31")[1])
    children = el("token", token) + el("flowId", str(flow_id))

    s11 = post(sim, FLOW, "getFlowState", children, version="1.1", endpoint=endpoint)
    s12 = post(sim, FLOW, "getFlowState", children, version="1.2", endpoint=endpoint)

    assert s11[1].tag == f"{{{S11}}}Envelope"
    assert s12[1].tag == f"{{{S12}}}Envelope"
    assert s11[1].findtext(f".//{{{FLOW}}}return") == "3"
    assert s12[1].findtext(f".//{{{FLOW}}}return") == "3"


def test_soap11_fault_uses_server_code(sim: OaSimulator) -> None:
    """A SOAP 1.1 typed fault has faultcode soapenv:Server and the same detail."""
    token = login(sim)

    status, doc = post(
        sim, FLOW, "getFlowState", el("token", token) + el("flowId", "5"), version="1.1"
    )

    assert status == 500
    assert doc.findtext(".//faultcode") == "soapenv:Server"
    assert fault_number(doc, FLOW) == 3001


def test_action_mismatch_is_refused(sim: OaSimulator) -> None:
    """A urn: action that names another operation gives a Sender fault."""
    token = login(sim)

    status, doc = post(
        sim,
        FLOW,
        "getFlowState",
        el("token", token) + el("flowId", "5"),
        action="urn:exportFlow",
    )

    assert status == 500
    assert doc.findtext(f".//{{{S12}}}Code/{{{S12}}}Value") == "soapenv:Sender"


def test_chunked_request_body(sim: OaSimulator) -> None:
    """A chunked SOAP request is read whole and answered."""
    body = envelope(
        AUTH, "authenticate", el("userName", "service-admin") + el("password", "123456")
    )
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)

    connection.request(
        "POST",
        "/seeyon/services/authorityService",
        body=iter([body[:50], body[50:]]),
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    doc = etree.fromstring(response.read())
    connection.close()

    assert response.status == 200
    assert len(doc.findtext(f".//{{{T}}}id")) == 32


def test_upload_servlet_returns_long_id(sim: OaSimulator) -> None:
    """The upload servlet stores the file part and answers its id as text."""
    token = login(sim)
    url = sim.url + "/seeyon/uploadService.do"
    params = {
        "method": "processUploadService",
        "token": token,
        "senderLoginName": "service-admin",
    }

    response = requests.post(
        url,
        params=params,
        timeout=5,
        files={"file": ("监测报告.pdf", b"%PDF-1.4", "application/pdf")},
    )
    refused = requests.post(
        url,
        params={**params, "token": "bad"},
        timeout=5,
        files={"file": ("a.txt", b"a", "text/plain")},
    )

    attachment_id = int(response.text)
    stored = admin(sim, "GET", "/state")["attachments"]
    assert [(a["id"], a["file_name"], a["size"]) for a in stored] == [
        (attachment_id, "监测报告.pdf", 8)
    ]
    assert refused.status_code == 401
    logged = admin(sim, "GET", "/requests?operation=upload")["requests"]
    assert [r["outcome"] for r in logged] == [
        f"uploaded:{attachment_id}",
        "error:token",
    ]


def test_send_message_by_login_name(sim: OaSimulator) -> None:
    """sendMessageByLoginName stores the message; unknown logins are an errorNumber."""
    token = login(sim)

    good = post(
        sim,
        MSG,
        "sendMessageByLoginName",
        el("token", token)
        + el("loginNames", "zhangsl")
        + el("loginNames", "lics")
        + el("content", "申请人已撤件"),
    )[1]
    bad = post(
        sim,
        MSG,
        "sendMessageByLoginName",
        el("token", token) + el("loginNames", "ghost") + el("content", "x"),
    )[1]

    assert good.findtext(f".//{{{T}}}errorNumber") == "0"
    assert bad.findtext(f".//{{{T}}}errorNumber") == "4001"
    messages = admin(sim, "GET", "/state")["messages"]
    assert [(m["login_names"], m["content"]) for m in messages] == [
        (["zhangsl", "lics"], "申请人已撤件")
    ]
    logged = admin(sim, "GET", "/requests?operation=sendMessageByLoginName")
    assert [r["outcome"].split(":")[0] for r in logged["requests"]][-2:] == [
        "sent",
        "error",
    ]


def test_wsdl_served_with_simulator_address(sim: OaSimulator) -> None:
    """?wsdl serves the bundled WSDL with the address rewritten to the simulator."""
    response = requests.get(
        sim.url + "/seeyon/services/documentService?wsdl", timeout=5
    )

    doc = etree.fromstring(response.content)
    assert doc.get("targetNamespace") == "www.seeyon.com"
    locations = doc.xpath("//@location")
    assert (
        sim.url + "/seeyon/services/documentService.documentServiceHttpSoap12Endpoint/"
        in locations
    )


def test_delete_flow_removes_it(sim: OaSimulator) -> None:
    """DELETE /admin/flows/{id} removes a flow; getFlowState then faults."""
    token = login(sim)
    flow_id = launched_id(launch(sim, token, "SB-40")[1])

    admin(sim, "DELETE", f"/flows/{flow_id}")
    status, doc = post(
        sim, FLOW, "getFlowState", el("token", token) + el("flowId", str(flow_id))
    )

    assert status == 500
    assert fault_number(doc, FLOW) == 3001
