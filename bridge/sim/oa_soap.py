"""The SeeYon A8 wire shapes: namespaces, request reading and answer building."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from bridge.sim.base import XSI_NS, Response, soap_fault, soap_response

T_NS = "http://services.v3x.seeyon.com/xsd"
WSDL_TNS = "www.seeyon.com"

#: the impl namespace of each service the simulator serves
SERVICE_NS = {
    "authorityService": "http://impl.services.v3x.seeyon.com",
    "BPMService": "http://impl.flow.services.v3x.seeyon.com",
    "documentService": "http://impl.document.services.v3x.seeyon.com",
    "messageService": "http://impl.message.services.v3x.seeyon.com",
}

#: request children of each operation, in order: (name, kind)
OPERATIONS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "authorityService": {
        "authenticate": [("userName", "s"), ("password", "s")],
    },
    "BPMService": {
        "launchFormCollaboration": [
            ("token", "s"),
            ("senderLoginName", "s"),
            ("templateCode", "s"),
            ("subject", "s"),
            ("data", "s"),
            ("attachments", "long[]"),
            ("param", "s"),
            ("relateDoc", "s"),
        ],
        "getFlowState": [("token", "s"), ("flowId", "long")],
        "getAllFormCollIdsByDateTime": [
            ("token", "s"),
            ("beginDateTime", "s"),
            ("endDateTime", "s"),
        ],
        "getAllFormCollIdsByDateTimeAndState": [
            ("token", "s"),
            ("beginDateTime", "s"),
            ("endDateTime", "s"),
            ("state", "int[]"),
        ],
        "getFormCollIdsByDateTime": [
            ("token", "s"),
            ("templateCode", "string[]"),
            ("beginDateTime", "s"),
            ("endDateTime", "s"),
        ],
        "getTemplateDefinition": [("token", "s"), ("templateCode", "s")],
    },
    "documentService": {
        "exportFlow": [("token", "s"), ("flowId", "long")],
        "exportFlow2": [("token", "s"), ("flowId", "long")],
        "exportFlowList": [("token", "s"), ("flowIdArray", "long[]")],
    },
    "messageService": {
        "sendMessageByLoginName": [
            ("token", "s"),
            ("loginNames", "string[]"),
            ("content", "s"),
            ("url", "string[]"),
        ],
    },
}

_PATH = re.compile(
    r"/seeyon/services/(?P<svc>\w+)(?:\.(?P=svc)HttpSoap1[12]Endpoint)?/?"
)


class WireError(Exception):
    """A request that breaks the contract; answered as a generic SOAP fault."""


@dataclass
class ServiceFault(Exception):
    """A typed ServiceException to send back in the called service's namespace."""

    number: int
    message: str


def service_of(path: str) -> str | None:
    """The service named by one of the three endpoint URL forms, or None."""
    found = _PATH.fullmatch(path)
    if found is None or found.group("svc") not in SERVICE_NS:
        return None
    return found.group("svc")


def _is_nil(element: etree._Element) -> bool:
    return element.get(f"{{{XSI_NS}}}nil", "").strip() in ("true", "1")


def _scalar(element: etree._Element, kind: str) -> Any:
    if _is_nil(element):
        if kind in ("long", "int", "long[]", "int[]"):
            raise WireError(f"{etree.QName(element).localname} may not be nil")
        return None
    value = element.text or ""
    if kind in ("s", "string[]"):
        return value
    try:
        return int(value.strip())
    except ValueError as exc:
        raise WireError(f"{etree.QName(element).localname} is not a number") from exc


def read_request(
    body: etree._Element, namespace: str, spec: list[tuple[str, str]]
) -> dict[str, Any]:
    """Read the children of a request in order, as an ADB server does."""
    values: dict[str, Any] = {
        name: [] if kind.endswith("[]") else None for name, kind in spec
    }
    position = 0
    for child in body:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        while position < len(spec) and (
            qname.namespace != namespace or qname.localname != spec[position][0]
        ):
            position += 1
        if position == len(spec):
            raise WireError(f"Unexpected subelement {qname.localname}")
        name, kind = spec[position]
        if kind.endswith("[]"):
            values[name].append(_scalar(child, kind))
        else:
            values[name] = _scalar(child, kind)
            position += 1
    return values


def _root(namespace: str, operation: str) -> etree._Element:
    return etree.Element(f"{{{namespace}}}{operation}Response", nsmap={"ns": namespace})


def _return(root: etree._Element, namespace: str, type_name: str | None = None) -> Any:
    nsmap = {"ax21": T_NS, "xsi": XSI_NS} if type_name else None
    element = etree.SubElement(root, f"{{{namespace}}}return", nsmap=nsmap)
    if type_name:
        element.set(f"{{{XSI_NS}}}type", f"ax21:{type_name}")
    return element


def _t_child(parent: etree._Element, name: str, value: str | None) -> None:
    child = etree.SubElement(parent, f"{{{T_NS}}}{name}")
    if value is None:
        child.set(f"{{{XSI_NS}}}nil", "true")
    else:
        child.text = value


def user_token(namespace: str, operation: str, token: str) -> etree._Element:
    """An authenticate answer: UserToken{id, nullToken nil}."""
    root = _root(namespace, operation)
    value = _return(root, namespace, "UserToken")
    _t_child(value, "id", token)
    _t_child(value, "nullToken", None)
    return root


def service_response(
    namespace: str, operation: str, number: int, message: str | None, result: int
) -> etree._Element:
    """A ServiceResponse answer: errorMessage, errorNumber, result."""
    root = _root(namespace, operation)
    value = _return(root, namespace, "ServiceResponse")
    _t_child(value, "errorMessage", message)
    _t_child(value, "errorNumber", str(number))
    _t_child(value, "result", str(result))
    return root


def scalar_return(namespace: str, operation: str, value: int) -> etree._Element:
    """A long answer."""
    root = _root(namespace, operation)
    _return(root, namespace).text = str(value)
    return root


def list_return(namespace: str, operation: str, values: list[Any]) -> etree._Element:
    """An unwrapped array answer: one return per item, none when empty."""
    root = _root(namespace, operation)
    for value in values:
        element = _return(root, namespace)
        if value is None:
            element.set(f"{{{XSI_NS}}}nil", "true")
        else:
            element.text = str(value)
    return root


def string_return(namespace: str, operation: str, value: str | None) -> etree._Element:
    """A string answer, nil when None."""
    return list_return(namespace, operation, [value])


def typed_fault(version: str, namespace: str, fault: ServiceFault) -> Response:
    """The ServiceException fault of the called service, with HTTP 500."""
    outer = etree.Element(
        f"{{{namespace}}}ServiceException", nsmap={"ns": namespace, "xsi": XSI_NS}
    )
    inner = etree.SubElement(
        outer, f"{{{namespace}}}ServiceException", nsmap={"ax21": T_NS}
    )
    inner.set(f"{{{XSI_NS}}}type", "ax21:ServiceException")
    _t_child(inner, "errorNumber", str(fault.number))
    _t_child(inner, "message", fault.message)
    return soap_fault(version, fault.message, code="Receiver", detail=outer)


def generic_fault(version: str, text: str, code: str = "Receiver") -> Response:
    """An Axis2 fault with a reason and no typed detail."""
    return soap_fault(version, text, code=code)


def answer(payload: etree._Element, version: str) -> Response:
    """Wrap an answer element in the envelope of the request's version."""
    return soap_response(payload, version)
