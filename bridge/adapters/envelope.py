"""SOAP requests written and answers read off zeep's per-call path.

zeep still loads each bundled WSDL once, when an adapter starts; from it
:func:`operations_of` takes what a call needs (SOAP version, the request's
wrapper and its children in contract order, the SOAPAction, whether the
operation carries WS-Addressing actions). :func:`request` then writes the
envelope zeep would have written (as text, from a layout worked out once per
operation; :func:`built` makes the same bytes from an lxml tree), and
:func:`answer` reads the reply with lxml the way zeep's binding did: a fault
of either SOAP version is raised as a ``zeep.exceptions.Fault`` and an
unreadable or non-200 answer as zeep's ``TransportError`` (both for
``transport.translate``, the one mapping into govbridge errors); otherwise it
returns the response wrapper, whose values the adapters read by local name.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import zeep
import zeep.exceptions
from lxml import etree
from zeep.wsdl.bindings.soap import Soap12Binding

from bridge.adapters.transport import SOAP11_NS, SOAP12_NS, HttpAnswer, fault_error
from bridge.errors import ProtocolError, SecurityError

ENVELOPE_NS = {"1.1": SOAP11_NS, "1.2": SOAP12_NS}
WSA_NS = "http://www.w3.org/2005/08/addressing"
WSSE_NS = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
WSU_NS = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


@dataclass(frozen=True)
class Child:
    """One child of a request wrapper, as the WSDL declares it."""

    name: str
    tag: str  # Clark name; unqualified where the schema says so
    required: bool
    repeated: bool


@dataclass(frozen=True)
class Operation:
    """What one call of a bound operation needs, taken from the WSDL."""

    name: str
    version: str
    element: str
    response: str  # local name of the response wrapper
    children: tuple[Child, ...]
    action: str
    addressing: bool

    @property
    def namespace(self) -> str:
        return etree.QName(self.element).namespace or ""


def operations_of(
    client: zeep.Client, binding_name: str, names: tuple[str, ...]
) -> dict[str, Operation]:
    """The named operations of one binding of a zeep-loaded WSDL."""
    binding = client.wsdl.bindings[binding_name]
    version = "1.2" if isinstance(binding, Soap12Binding) else "1.1"
    found: dict[str, Operation] = {}
    for name in names:
        bound = binding.get(name)
        body = bound.input.body
        children = tuple(
            Child(
                name=child_name,
                tag=etree.QName(element.qname).text,
                required=element.min_occurs > 0,
                repeated=element.max_occurs == "unbounded" or element.max_occurs > 1,
            )
            for child_name, element in body.type.elements
        )
        found[name] = Operation(
            name=name,
            version=version,
            element=etree.QName(body.qname).text,
            response=etree.QName(bound.output.body.qname).localname,
            children=children,
            action=bound.soapaction or "",
            addressing=bool(bound.abstract.wsa_action),
        )
    return found


# -- requests ---------------------------------------------------------------------


def request(
    operation: Operation,
    values: dict[str, Any],
    *,
    address: str,
    security: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The serialised envelope and HTTP headers of one call of ``operation``;
    ``security`` is a header block's XML text (``username_token``).

    The envelope is written as text from the operation's layout, worked out
    once: the bytes lxml writes for the same tree, at a fraction of the cost
    of building it. An operation with a child in another namespace than its
    wrapper's is built as a tree (``built``).
    """
    layout = _layout(operation)
    if layout is None:
        return built(operation, values, address=address, security=security)

    parts = [layout.envelope]
    if operation.addressing or security is not None:
        parts.append(layout.header)
        if operation.addressing:
            parts += [
                "<wsa:Action>",
                _escaped(operation.action),
                "</wsa:Action><wsa:MessageID>urn:uuid:",
                str(uuid.uuid4()),
                "</wsa:MessageID><wsa:To>",
                _escaped(address),
                "</wsa:To>",
            ]
        if security is not None:
            parts.append(security)
        parts.append("</soap-env:Header>")
    written = []
    for child, items in _items(operation, values):
        opening, closing = layout.tags[child.name]
        for item in items:
            written += [opening, _escaped(_text(item)), closing]
    if written:
        parts += [layout.wrapper, ">", *written, layout.wrapper_end]
    else:
        parts += [layout.wrapper, "/>"]  # as lxml writes an empty element
    parts.append("</soap-env:Body></soap-env:Envelope>")
    return "".join(parts).encode("utf-8"), _headers(operation)


@dataclass(frozen=True)
class _Layout:
    """The fixed text of one operation's envelope, around what each call fills."""

    envelope: str  # the declaration and the Envelope's start tag
    header: str  # the Header's start tag
    wrapper: str  # the Body's start tag and the wrapper's, without its ">"
    tags: dict[str, tuple[str, str]]  # each child's start and end tag, by name
    wrapper_end: str


@functools.lru_cache(maxsize=256)
def _layout(operation: Operation) -> _Layout | None:
    """``operation``'s layout; None when a child is in a namespace of its own
    (lxml would declare it on the child, with a prefix counted per document)."""
    namespace = operation.namespace
    if not namespace:
        return None
    tags = {}
    for child in operation.children:
        qualified = etree.QName(child.tag)
        if qualified.namespace is None:
            name = qualified.localname
        elif qualified.namespace == namespace:
            name = f"ns0:{qualified.localname}"
        else:
            return None
        tags[child.name] = (f"<{name}>", f"</{name}>")
    soap = ENVELOPE_NS[operation.version]
    wrapper = f"ns0:{etree.QName(operation.element).localname}"
    wsa = f' xmlns:wsa="{WSA_NS}"' if operation.addressing else ""
    return _Layout(
        envelope=(
            "<?xml version='1.0' encoding='utf-8'?>\n"
            f'<soap-env:Envelope xmlns:soap-env="{_attribute(soap)}">'
        ),
        header=f"<soap-env:Header{wsa}>",
        wrapper=f'<soap-env:Body><{wrapper} xmlns:ns0="{_attribute(namespace)}"',
        tags=tags,
        wrapper_end=f"</{wrapper}>",
    )


#: characters XML 1.0 does not allow (lxml refuses them as well); a lone
#: surrogate passes here and fails the UTF-8 encoding, as it does in lxml
_NOT_XML = re.compile("[^\t\n\r\x20-\ufffd\U00010000-\U0010ffff]")


def _escaped(text: str) -> str:
    """``text`` as lxml writes element text."""
    if _NOT_XML.search(text):
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes "
            "or control characters"
        )
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\r", "&#13;")


def _attribute(text: str) -> str:
    """``text`` as lxml writes an attribute value (here: a namespace name)."""
    return _escaped(text).replace('"', "&quot;").replace("\n", "&#10;").replace(
        "\t", "&#9;"
    )


def built(
    operation: Operation,
    values: dict[str, Any],
    *,
    address: str,
    security: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """``request`` by building the envelope as an lxml tree: any operation."""
    soap = ENVELOPE_NS[operation.version]
    envelope = etree.Element(f"{{{soap}}}Envelope", nsmap={"soap-env": soap})
    if operation.addressing or security is not None:
        nsmap = {"wsa": WSA_NS} if operation.addressing else None
        header = etree.SubElement(envelope, f"{{{soap}}}Header", nsmap=nsmap)
        if operation.addressing:
            _addressing(header, operation.action, address)
        if security is not None:
            header.append(etree.fromstring(security))

    body = etree.SubElement(envelope, f"{{{soap}}}Body")
    wrapper = etree.SubElement(
        body, operation.element, nsmap={"ns0": operation.namespace}
    )
    _fill(wrapper, operation, values)

    payload = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return payload, _headers(operation)


def _fill(
    wrapper: etree._Element, operation: Operation, values: dict[str, Any]
) -> None:
    """Write the values in contract order as children of ``wrapper``."""
    for child, items in _items(operation, values):
        for item in items:
            etree.SubElement(wrapper, child.tag).text = _text(item)


def _items(
    operation: Operation, values: dict[str, Any]
) -> list[tuple[Child, list[Any]]]:
    """Each child with its values, in contract order; None and [] leave a
    child out (an error for a required one), an unknown name is a TypeError."""
    unknown = set(values) - {child.name for child in operation.children}
    if unknown:
        raise TypeError(
            f"{operation.name}() got an unexpected keyword argument "
            f"{min(unknown)!r}"
        )
    found = []
    for child in operation.children:
        value = values.get(child.name)
        items = list(value or []) if child.repeated else [value]
        items = [item for item in items if item is not None]
        if not items and child.required:
            raise ProtocolError(
                f"request breaks the contract: missing element {child.name}",
                operation=operation.name,
            )
        found.append((child, items))
    return found


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _addressing(header: etree._Element, action: str, address: str) -> None:
    """The WS-Addressing block zeep adds for an operation with a wsaw:Action."""
    for name, text in (
        ("Action", action),
        ("MessageID", f"urn:uuid:{uuid.uuid4()}"),
        ("To", address),
    ):
        etree.SubElement(header, f"{{{WSA_NS}}}{name}").text = text


def _headers(operation: Operation) -> dict[str, str]:
    action = f'"{operation.action}"'
    if operation.version == "1.2":
        content_type = f"application/soap+xml; charset=utf-8; action={action}"
    else:
        content_type = "text/xml; charset=utf-8"
    return {"SOAPAction": action, "Content-Type": content_type}


def username_token(username: str, password: str) -> str:
    """A wsse:Security header with a UsernameToken (password digest, UTC
    Created), as the XML text ``request`` puts in the envelope's header."""
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{_escaped(username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">'
        f"{base64.b64encode(digest).decode('ascii')}</wsse:Password>"
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">'
        f"{base64.b64encode(nonce).decode('ascii')}</wsse:Nonce>"
        f'<wsu:Created xmlns:wsu="{WSU_NS}">{created}</wsu:Created>'
        "</wsse:UsernameToken></wsse:Security>"
    )


# -- answers ----------------------------------------------------------------------


def answer(
    response: HttpAnswer, operation: Operation, *, huge: bool = False
) -> etree._Element | None:
    """The response wrapper of a plain answer; None for an empty 201 or 202.

    Faults (either SOAP version) are raised as zeep Faults, a non-XML or
    empty error answer as zeep's TransportError, as zeep's binding did.
    """
    status = response.status_code
    if status in (201, 202) and not response.content:
        return None
    if status != 200 and not response.content:
        raise zeep.exceptions.TransportError(
            f"Server returned HTTP status {status} (no content available)",
            status_code=status,
        )

    root = _parse(response, huge)
    soap = ENVELOPE_NS[operation.version]
    for version, namespace in ENVELOPE_NS.items():
        fault = root.find(f"{{{namespace}}}Body/{{{namespace}}}Fault")
        if fault is not None:
            raise fault_error(fault, version)
    if status != 200:
        raise zeep.exceptions.Fault(
            message="Unknown fault occured",
            code=None,
            detail=etree.tostring(root, encoding="unicode"),
        )
    if root.tag != f"{{{soap}}}Envelope":
        raise ProtocolError(
            f"answer is not well-formed XML: no {{{soap}}}Envelope root element, "
            f"found {root.tag}"
        )

    body = root.find(f"{{{soap}}}Body")
    wrapper = None if body is None else first(body, operation.response)
    if wrapper is None:
        raise ProtocolError(f"answer has no {operation.response} element")
    return wrapper


def _parse(response: HttpAnswer, huge: bool) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge
    )
    try:
        root = etree.fromstring(response.content, parser)
    except etree.XMLSyntaxError as exc:
        raise zeep.exceptions.TransportError(
            f"Server returned response ({response.status_code}) with invalid XML: "
            f"{exc}",
            status_code=response.status_code,
            content=response.content,
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise SecurityError("answer declares a DTD or entities; refused unread")
    return root


def local_name(element: etree._Element) -> str | None:
    """The local part of an element's tag; None for comments and the like."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    return tag.rsplit("}", 1)[-1]


def first(parent: etree._Element, name: str) -> etree._Element | None:
    """The first child of ``parent`` with local name ``name``."""
    for child in parent:
        if local_name(child) == name:
            return child
    return None


def is_nil(element: etree._Element) -> bool:
    return element.get(XSI_NIL, "").strip() in ("true", "1")


def value(element: etree._Element | None) -> str | None:
    """The text of an element; None when it is absent, nil or empty."""
    if element is None or is_nil(element):
        return None
    return element.text


def values(parent: etree._Element, name: str) -> list[str | None]:
    """The texts of every child named ``name`` (an unwrapped array)."""
    return [value(child) for child in parent if local_name(child) == name]


def fields(
    element: etree._Element, declared: tuple[str, ...], where: str
) -> dict[str, str | None]:
    """The children of a complex value by local name; an undeclared one breaks
    the contract (zeep's strict parsing refused those too)."""
    found: dict[str, str | None] = dict.fromkeys(declared)
    for child in element:
        name = local_name(child)
        if name is None:
            continue
        if name not in found:
            raise ProtocolError(
                f"answer breaks the contract: unexpected element {name!r} in {where}"
            )
        found[name] = value(child)
    return found


def long_or_none(text: str | None) -> int | None:
    """An xs:long or xs:int as zeep read it: None when absent or unreadable."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def binary(text: str | None, where: str) -> bytes:
    """An xs:base64Binary value; empty when absent."""
    if not text:
        return b""
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{where} is not base64: {exc}") from exc
