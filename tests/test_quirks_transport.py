"""Quirk cases 9, 12 and 14: call deadlines, WSDL bundles, UTC security stamps."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zeep

from bridge.adapters.center import CenterAdapter
from bridge.adapters.transport import make_transport
from bridge.errors import ConfigError, TimeoutError_, is_transient
from bridge.sim.center import CenterSimulator
from bridge.sim.portal import PortalSimulator
from tests.quirkhelp import Canned, admin, canned_server, fault

ROOT = Path(__file__).resolve().parent.parent


def test_trickling_answer_stops_at_the_call_deadline(tmp_path: Path) -> None:
    """Case 9: 40 bytes every 0.7 s is cut off by the total deadline, not waited out."""
    sim = CenterSimulator(tmp_path / "center.sqlite").start()
    try:
        admin(sim, "POST", "/cases", {})
        center = CenterAdapter(
            sim.url,
            "bridge",
            "bridge-secret",
            department_code="",
            region_code="",
            timeout=5,
            deadline=2,
        )
        center.query_window_cases("2000-01-01 00:00:00", None, 10)
        fault(sim, "trickle", "queryWindowCases")
        started = time.monotonic()
        with pytest.raises(TimeoutError_) as raised:
            center.query_window_cases("2000-01-01 00:00:00", None, 10)
        elapsed = time.monotonic() - started
    finally:
        sim.stop()

    assert 2.0 <= elapsed < 4.0
    assert "within 2 s" in raised.value.message
    assert raised.value.system == "center"
    assert raised.value.operation == "queryWindowCases"
    assert is_transient(raised.value)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any socket connection to an address other than 127.0.0.1."""
    refused: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        try:
            loopback = ipaddress.ip_address(host) == ipaddress.ip_address("127.0.0.1")
        except ValueError:
            loopback = False
        if not loopback:
            refused.append(address)
            raise OSError(f"test guard: connection to {address} refused")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield refused


TYPES_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:legacy:types" elementFormDefault="qualified">
  <xsd:include schemaLocation="/opt/legacy/tomcat/webapps/ws/xsd/common.xsd"/>
  <xsd:element name="echo"><xsd:complexType><xsd:sequence>
    <xsd:element name="word" type="xsd:string"/>
  </xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="echoResponse" type="Said"/>
</xsd:schema>
"""

COMMON_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:legacy:types" elementFormDefault="qualified">
  <xsd:complexType name="Said"><xsd:sequence>
    <xsd:element name="said" type="xsd:string"/>
  </xsd:sequence></xsd:complexType>
</xsd:schema>
"""

SERVICE_WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:t="urn:legacy:types" xmlns:tns="urn:legacy:svc"
    targetNamespace="urn:legacy:svc">
  <wsdl:types><xsd:schema targetNamespace="urn:legacy:svc">
    <xsd:import namespace="urn:legacy:types"
        schemaLocation="http://10.20.30.40:7001/ws/xsd/types.xsd"/>
  </xsd:schema></wsdl:types>
  <wsdl:message name="in"><wsdl:part name="p" element="t:echo"/></wsdl:message>
  <wsdl:message name="out"><wsdl:part name="p" element="t:echoResponse"/></wsdl:message>
  <wsdl:portType name="Echo"><wsdl:operation name="echo">
    <wsdl:input message="tns:in"/><wsdl:output message="tns:out"/>
  </wsdl:operation></wsdl:portType>
  <wsdl:binding name="EchoBinding" type="tns:Echo">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="echo"><soap:operation soapAction=""/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="EchoService"><wsdl:port name="p" binding="tns:EchoBinding">
    <soap:address location="http://10.20.30.40:7001/ws/services/Echo"/>
  </wsdl:port></wsdl:service>
</wsdl:definitions>
"""

ECHO_ANSWER = (
    '<?xml version="1.0" encoding="GBK"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<echoResponse xmlns="urn:legacy:types"><said>收到</said></echoResponse>'
    "</s:Body></s:Envelope>"
).encode("gbk")


def write_bundle(folder: Path) -> Path:
    (folder / "xsd").mkdir(parents=True)
    (folder / "xsd" / "types.xsd").write_text(TYPES_XSD, encoding="utf-8")
    (folder / "xsd" / "common.xsd").write_text(COMMON_XSD, encoding="utf-8")
    wsdl = folder / "Echo.wsdl"
    wsdl.write_text(SERVICE_WSDL, encoding="utf-8")
    return wsdl


def test_absolute_includes_resolve_inside_the_bundle(
    tmp_path: Path, loopback_only: list[Any]
) -> None:
    """Case 12: absolute URL and path includes load from the bundle; no network."""
    bundle = tmp_path / "bundle"
    wsdl = write_bundle(bundle)
    canned = Canned(body=ECHO_ANSWER, content_type="text/xml; charset=GBK")
    with canned_server(canned) as url:
        transport = make_transport("legacy", 3, 5, bundle=bundle)
        client = zeep.Client(str(wsdl), transport=transport)
        service = client.create_service("{urn:legacy:svc}EchoBinding", url + "/ws")
        said = service.echo(word="你好")

    assert said == "收到"
    assert client.get_type("{urn:legacy:types}Said").name == "Said"
    assert canned.paths == ["/ws"]
    assert loopback_only == []


def test_location_outside_the_bundle_is_refused(
    tmp_path: Path, loopback_only: list[Any]
) -> None:
    """Case 12: a location the bundle lacks is a ConfigError, never a download."""
    bundle = tmp_path / "bundle"
    wsdl = write_bundle(bundle)
    (bundle / "xsd" / "common.xsd").unlink()
    transport = make_transport("legacy", 3, 5, bundle=bundle)

    with pytest.raises(ConfigError) as refused:
        zeep.Client(str(wsdl), transport=transport)

    assert "common.xsd" in refused.value.message
    assert loopback_only == []


def test_guard_refuses_other_addresses(loopback_only: list[Any]) -> None:
    """The guard used above does refuse a connection to another address."""
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("10.20.30.40", 7001), timeout=1)

    assert loopback_only == [("10.20.30.40", 7001)]


CHILD = """
import sys, time
from datetime import UTC, datetime
from lxml import etree
from bridge.adapters.portal import PortalAdapter
from zeep.wsse.username import UsernameToken
WSU = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-wssecurity-utility-1.0.xsd")
env = etree.fromstring(
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">'
    '<e:Header/><e:Body/></e:Envelope>')
UsernameToken("u", "p", use_digest=True, zulu_timestamp=True).apply(env, {})
print("OUT", time.strftime("%z"))
print("OUT", env.findtext(".//{%s}Created" % WSU))
page = PortalAdapter(sys.argv[1], "bridge", "bridge-secret").list_filings(
    "2000-01-01 00:00:00", None, 10)
print("OUT", len(page.records))
"""


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
def test_wsse_timestamps_are_utc_whatever_tz(tmp_path: Path, zone: str) -> None:
    """Case 14: Created is UTC under another TZ; a strict portal accepts the call."""
    sim = PortalSimulator(tmp_path / "portal.sqlite").start()
    try:
        admin(sim, "POST", "/config", {"max_skew_seconds": 60})
        admin(sim, "POST", "/filings", {})
        env = {**os.environ, "TZ": zone, "PYTHONPATH": str(ROOT)}
        child = subprocess.run(
            [sys.executable, "-c", CHILD, sim.url],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        sim.stop()

    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    offset, created, count = [line[4:] for line in lines if line.startswith("OUT ")]
    stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert offset in ("-0500", "-0400", "+1400")
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert count == "1"


def test_calls_are_pooled_per_counterpart() -> None:
    """One transport keeps one bounded connection pool per counterpart, with the
    connect and read timeouts of the counterpart's settings."""
    transport = make_transport("center", timeout=8.0, pool_size=3)

    assert transport.pool.size == 3
    assert (transport.pool.connect_timeout, transport.pool.read_timeout) == (5.0, 8.0)
    assert transport.pool.idle("http://127.0.0.1:8080/") == 0
    assert transport.session.trust_env is False
