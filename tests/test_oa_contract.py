"""Captured OA requests and answers against the SeeYon contract, written out by hand.

The table below is typed from seeyon-contract.md §2–§3, not taken from the
simulator: each entry is the QNames of a document's children, in order, with
"*" for an unwrapped repeated element and "?" for an optional one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin

from bridge.paths import WSDL_DIR
from bridge.sim.oa import OaSimulator

AUTH = "http://impl.services.v3x.seeyon.com"
FLOW = "http://impl.flow.services.v3x.seeyon.com"
DOC = "http://impl.document.services.v3x.seeyon.com"
MSG = "http://impl.message.services.v3x.seeyon.com"
T = "http://services.v3x.seeyon.com/xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
S12 = "http://www.w3.org/2003/05/soap-envelope"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"

REQUESTS: dict[str, tuple[str, list[str]]] = {
    "authenticate": (AUTH, ["userName", "password"]),
    "launchFormCollaboration": (
        FLOW,
        [
            "token",
            "senderLoginName",
            "templateCode",
            "subject",
            "data",
            "attachments*",
            "param",
            "relateDoc?",
        ],
    ),
    "getFlowState": (FLOW, ["token", "flowId"]),
    "getAllFormCollIdsByDateTime": (FLOW, ["token", "beginDateTime", "endDateTime"]),
    "getAllFormCollIdsByDateTimeAndState": (
        FLOW,
        ["token", "beginDateTime", "endDateTime", "state*"],
    ),
    "getFormCollIdsByDateTime": (
        FLOW,
        ["token", "templateCode*", "beginDateTime", "endDateTime"],
    ),
    "exportFlow": (DOC, ["token", "flowId"]),
    "sendMessageByLoginName": (MSG, ["token", "loginNames*", "content", "url*"]),
}

#: the return's shape: ("complex", children in t) or ("long" | "long*" | "string")
RETURNS: dict[str, tuple[str, list[str]]] = {
    "authenticate": ("complex", ["id", "nullToken"]),
    "launchFormCollaboration": ("complex", ["errorMessage", "errorNumber", "result"]),
    "getFlowState": ("long", []),
    "getAllFormCollIdsByDateTime": ("long*", []),
    "getAllFormCollIdsByDateTimeAndState": ("long*", []),
    "getFormCollIdsByDateTime": ("long*", []),
    "exportFlow": ("string", []),
    "sendMessageByLoginName": ("complex", ["errorMessage", "errorNumber", "result"]),
}

SERVICES = {
    AUTH: "authorityService",
    FLOW: "BPMService",
    DOC: "documentService",
    MSG: "messageService",
}

FORM = (
    '<?xml version="1.0" encoding="UTF-8"?><formExport version="2.0">'
    '<summary id="" name="formmain_0101"/><values>'
    '<column name="申办流水号"><value>CT-0001</value></column></values></formExport>'
)


def matches(children: list[str], pattern: list[str]) -> bool:
    """True when local names follow the table entry (in order, * and ? honoured)."""
    regex = "".join(
        f"({re.escape(p[:-1])},)*"
        if p.endswith("*")
        else f"({re.escape(p[:-1])},)?"
        if p.endswith("?")
        else f"{re.escape(p)},"
        for p in pattern
    )
    return re.fullmatch(regex, "".join(f"{c}," for c in children)) is not None


def child_names(element: etree._Element, namespace: str) -> list[str]:
    names = []
    for child in element:
        qname = etree.QName(child)
        assert qname.namespace == namespace, f"{child.tag} not in {namespace}"
        names.append(qname.localname)
    return names


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaSimulator]:
    folder: Path = tmp_path_factory.mktemp("oa-contract")
    simulator = OaSimulator(folder / "oa.sqlite").start()
    yield simulator
    simulator.stop()


class Captured:
    """zeep clients on the bundled WSDLs that keep every exchanged envelope."""

    def __init__(self, url: str) -> None:
        self.history = HistoryPlugin(maxlen=50)
        self.services: dict[str, Any] = {}
        for name in SERVICES.values():
            client = zeep.Client(
                str(WSDL_DIR / "seeyon" / f"{name}.wsdl"), plugins=[self.history]
            )
            self.services[name] = client.create_service(
                f"{{www.seeyon.com}}{name}Soap12Binding",
                f"{url}/seeyon/services/{name}.{name}HttpSoap12Endpoint/",
            )
        self.documents: dict[str, tuple[etree._Element, etree._Element]] = {}

    def call(self, service: str, operation: str, **kwargs: Any) -> Any:
        answer = getattr(self.services[service], operation)(**kwargs)
        sent = self.history.last_sent["envelope"]
        received = self.history.last_received["envelope"]
        self.documents[operation] = (sent, received)
        return answer


@pytest.fixture(scope="module")
def captured(sim: OaSimulator) -> Captured:
    capture = Captured(sim.url)
    token = capture.call(
        "authorityService", "authenticate", userName="service-admin", password="123456"
    ).id
    answer = capture.call(
        "BPMService",
        "launchFormCollaboration",
        token=token,
        senderLoginName="service-admin",
        templateCode="HBJ_SX01",
        subject="契约",
        data=FORM,
        attachments=[1, 2],
        param="0",
    )
    flow_id = answer.result
    capture.call("BPMService", "getFlowState", token=token, flowId=flow_id)
    window = {
        "beginDateTime": "2000-01-01 00:00:00",
        "endDateTime": "2100-01-01 00:00:00",
    }
    capture.call("BPMService", "getAllFormCollIdsByDateTime", token=token, **window)
    capture.call(
        "BPMService",
        "getAllFormCollIdsByDateTimeAndState",
        token=token,
        state=[3, 4],
        **window,
    )
    capture.call(
        "BPMService",
        "getFormCollIdsByDateTime",
        token=token,
        templateCode=["HBJ_SX09"],
        **window,
    )
    capture.call("documentService", "exportFlow", token=token, flowId=flow_id)
    capture.call(
        "messageService",
        "sendMessageByLoginName",
        token=token,
        loginNames=["zhangsl"],
        content="契约",
        url=[],
    )
    return capture


def body_root(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{S12}}}Body")
    assert body is not None and len(body) == 1
    return body[0]


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_request_children_follow_the_contract(
    captured: Captured, operation: str
) -> None:
    """The request root is {impl}op and its children are the contract's, in order."""
    namespace, pattern = REQUESTS[operation]

    root = body_root(captured.documents[operation][0])

    assert root.tag == f"{{{namespace}}}{operation}"
    assert matches(child_names(root, namespace), pattern)


@pytest.mark.parametrize("operation", sorted(RETURNS))
def test_response_children_follow_the_contract(
    captured: Captured, operation: str
) -> None:
    """The answer is {impl}opResponse holding only {impl}return of the right shape."""
    namespace, _ = REQUESTS[operation]
    kind, children = RETURNS[operation]

    root = body_root(captured.documents[operation][1])

    assert root.tag == f"{{{namespace}}}{operation}Response"
    assert root.prefix == "ns"
    returns = list(root)
    assert all(r.tag == f"{{{namespace}}}return" for r in returns)
    if kind == "complex":
        assert len(returns) == 1
        assert child_names(returns[0], T) == children
        assert all(c.prefix == "ax21" for c in returns[0])
        assert returns[0].get(f"{{{XSI}}}type", "").split(":")[-1] in (
            "UserToken",
            "ServiceResponse",
        )
    elif kind == "long":
        assert len(returns) == 1 and re.fullmatch(r"-?\d+", returns[0].text)
    elif kind == "long*":
        assert all(re.fullmatch(r"-?\d+", r.text or "") for r in returns)
    else:
        assert len(returns) == 1 and returns[0].text.startswith("<?xml")


def test_nil_is_written_true_and_empty_array_has_no_elements(
    captured: Captured,
) -> None:
    """Nil values carry xsi:nil="true"; an empty long[] answer has zero returns."""
    token_answer = body_root(captured.documents["authenticate"][1])
    launch_answer = body_root(captured.documents["launchFormCollaboration"][1])
    empty = body_root(captured.documents["getFormCollIdsByDateTime"][1])

    null_token = token_answer.find(f"{{{AUTH}}}return/{{{T}}}nullToken")
    assert null_token.get(f"{{{XSI}}}nil") == "true"
    message = launch_answer.find(f"{{{FLOW}}}return/{{{T}}}errorMessage")
    assert message.get(f"{{{XSI}}}nil") == "true"
    assert launch_answer.findtext(f"{{{FLOW}}}return/{{{T}}}errorNumber") == "0"
    assert len(empty) == 0


def test_nil_one_is_accepted_on_input(sim: OaSimulator) -> None:
    """A stub's xsi:nil="1" on a string child is read as nil, not as text."""
    body = (
        f'<e:Envelope xmlns:e="{S12}" xmlns:xsi="{XSI}"><e:Body>'
        f'<ns:authenticate xmlns:ns="{AUTH}"><ns:userName xsi:nil="1"/>'
        "<ns:password>123456</ns:password></ns:authenticate></e:Body></e:Envelope>"
    )

    response = requests.post(
        sim.url + "/seeyon/services/authorityService",
        data=body.encode(),
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"},
        timeout=5,
    )

    assert etree.fromstring(response.content).findtext(f".//{{{T}}}id") == "-1"


@pytest.mark.parametrize(("version", "env"), [("1.2", S12), ("1.1", S11)])
def test_fault_detail_follows_the_contract(
    sim: OaSimulator, version: str, env: str
) -> None:
    """A ServiceException fault: detail {impl}ServiceException > {impl}ServiceException
    (xsi:type ServiceException) > t:errorNumber, t:message; HTTP 500."""
    content_type = (
        "application/soap+xml; charset=UTF-8"
        if version == "1.2"
        else "text/xml; charset=UTF-8"
    )
    body = (
        f'<e:Envelope xmlns:e="{env}"><e:Body><ns:getFlowState xmlns:ns="{FLOW}">'
        "<ns:token>not-a-token</ns:token><ns:flowId>1</ns:flowId>"
        "</ns:getFlowState></e:Body></e:Envelope>"
    )

    response = requests.post(
        sim.url + "/seeyon/services/BPMService",
        data=body.encode(),
        headers={"Content-Type": content_type},
        timeout=5,
    )

    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(f"{{{env}}}Body/{{{env}}}Fault")
    detail = fault.find(f"{{{env}}}Detail" if version == "1.2" else "detail")
    outer = detail[0]
    assert outer.tag == f"{{{FLOW}}}ServiceException" and outer.prefix == "ns"
    assert [c.tag for c in outer] == [f"{{{FLOW}}}ServiceException"]
    inner = outer[0]
    assert inner.get(f"{{{XSI}}}type") == "ax21:ServiceException"
    assert child_names(inner, T) == ["errorNumber", "message"]
    assert re.fullmatch(r"-?\d+", inner.findtext(f"{{{T}}}errorNumber"))
    if version == "1.2":
        code = fault.findtext(f"{{{env}}}Code/{{{env}}}Value")
        assert code.endswith("Receiver")
    else:
        assert fault.findtext("faultcode") == "soapenv:Server"


@pytest.mark.parametrize("service", sorted(SERVICES.values()))
def test_each_wsdl_loads_in_zeep(service: str) -> None:
    """Each bundled WSDL loads, has targetNamespace www.seeyon.com and both bindings."""
    path = WSDL_DIR / "seeyon" / f"{service}.wsdl"

    client = zeep.Client(str(path))

    assert etree.parse(str(path)).getroot().get("targetNamespace") == "www.seeyon.com"
    assert set(client.wsdl.bindings) == {
        f"{{www.seeyon.com}}{service}Soap11Binding",
        f"{{www.seeyon.com}}{service}Soap12Binding",
    }
    ports = client.wsdl.services[service].ports
    assert set(ports) == {
        f"{service}HttpSoap11Endpoint",
        f"{service}HttpSoap12Endpoint",
    }


def test_wsdl_soap_actions_are_urn_operation() -> None:
    """Every binding operation's soapAction is urn: plus the operation name."""
    for service in SERVICES.values():
        doc = etree.parse(str(WSDL_DIR / "seeyon" / f"{service}.wsdl"))
        operations = doc.xpath(
            "//wsdl:binding/wsdl:operation",
            namespaces={"wsdl": "http://schemas.xmlsoap.org/wsdl/"},
        )
        assert operations
        for operation in operations:
            actions = operation.xpath("*[local-name()='operation']/@soapAction")
            assert actions == [f"urn:{operation.get('name')}"]
