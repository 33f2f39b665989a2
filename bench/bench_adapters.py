"""Client CPU per SOAP call: zeep's request and answer handling against lxml.

    .venv/bin/python -m bench.bench_adapters [--calls 200] [--records 100]
        [--pages 30]

Three calls, each made both ways in the same run against in-process
simulators: one OA launch (launchFormCollaboration), one center write
(receiveCourseInfo, a replayed step, so every call is the same write), and
one portal page (listFilings). The zeep path is a zeep service bound to the
adapter's own transport, called as the adapters did before; the lxml path is
the adapter's public method. ``client cpu`` is the calling thread's CPU time
(the simulators answer on threads of their own); ``process cpu`` adds the
simulator's side, so only its difference is the client's.

A fourth line compares the HTTP client alone: one getXmlToken envelope posted
through a requests session (how the transport sent before) and through the
adapter's transport (urllib3), both read to the end; the transport also applies
its deadline, size cap and re-encoding, which the bare session does not.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import structlog
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from bridge.adapters import envelope
from bridge.adapters.center import BINDING as CENTER_BINDING
from bridge.adapters.center import PROLOG, CenterAdapter
from bridge.adapters.center import WSDL_PATH as CENTER_WSDL
from bridge.adapters.oa import OaAdapter
from bridge.adapters.portal import BINDING as PORTAL_BINDING
from bridge.adapters.portal import WSDL_PATH as PORTAL_WSDL
from bridge.adapters.portal import PortalAdapter
from bridge.adapters.transport import make_session, zeep_settings
from bridge.paths import WSDL_DIR
from bridge.sim.center import CenterSimulator
from bridge.sim.oa import OaSimulator
from bridge.sim.portal import PortalSimulator

SINCE = "2000-01-01 00:00:00"
MATTER = "370999001"
FORM = (
    '<?xml version="1.0" encoding="UTF-8"?><formExport version="2.0">'
    '<summary id="" name="formmain_0101"/><values>'
    '<column name="申办流水号"><value>BENCH-1</value></column>'
    '<column name="项目名称"><value>松风里三期住宅项目</value></column>'
    "</values></formExport>"
)


@dataclass(frozen=True)
class Cost:
    """Mean cost of one call, in milliseconds."""

    wall: float
    client: float
    process: float


def _measure(calls: int, call: Callable[[], object]) -> Cost:
    for _ in range(3):
        call()
    wall, client, process = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(calls):
        call()
    return Cost(
        (time.perf_counter() - wall) / calls * 1000,
        (time.thread_time() - client) / calls * 1000,
        (time.process_time() - process) / calls * 1000,
    )


def _oa_launch(folder: Path, calls: int) -> tuple[Cost, Cost]:
    sim = OaSimulator(folder / "oa.sqlite").start()
    try:
        oa = OaAdapter(sim.url, "service-admin", "123456")
        name = "BPMService"
        service = zeep.Client(
            str(WSDL_DIR / "seeyon" / f"{name}.wsdl"),
            transport=oa._transport,
            settings=zeep_settings(oa.quirks),
        ).create_service(
            f"{{www.seeyon.com}}{name}Soap12Binding",
            f"{sim.url}/seeyon/services/{name}.{name}HttpSoap12Endpoint/",
        )
        arguments = {
            "senderLoginName": oa.sender_login,
            "templateCode": "HBJ_SX01",
            "subject": "性能",
            "data": FORM,
            "attachments": [],
            "param": "0",
        }

        def by_zeep() -> int:
            answer = service.launchFormCollaboration(
                token=oa._ensure_token(), **arguments
            )
            assert answer.errorNumber == 0 and answer.result is not None
            return int(answer.result)

        def by_lxml() -> int:
            return oa.launch("HBJ_SX01", "性能", FORM)

        return _measure(calls, by_zeep), _measure(calls, by_lxml)
    finally:
        sim.stop()


def _center_write(folder: Path, calls: int) -> tuple[Cost, Cost]:
    sim = CenterSimulator(folder / "center.sqlite").start()
    try:
        center = CenterAdapter(
            sim.url, "bridge", "bridge-secret", department_code="", region_code=""
        )
        number = _center_case(center)
        step = _step(number)
        service = zeep.Client(
            str(CENTER_WSDL),
            transport=center._transport,
            settings=zeep_settings(center.quirks),
        ).create_service(CENTER_BINDING, center.address)
        xml_str = PROLOG + etree.tostring(step, encoding="unicode")

        def by_zeep() -> object:
            raw = service.receiveCourseInfo(center._current_token(), xml_str)
            return center._outcome("receiveCourseInfo", center._reply("x", raw), None)

        def by_lxml() -> object:
            return center.record_step(step)

        return _measure(calls, by_zeep), _measure(calls, by_lxml)
    finally:
        sim.stop()


def _center_case(center: CenterAdapter) -> str:
    """A registered and accepted case, ready for process steps."""
    doc = etree.Element("APPROVEDATAINFO")
    block = etree.SubElement(doc, "SPSHENQIN")
    for tag, value in (("SXBM", MATTER), ("SQRMC", "示例置业有限公司"), ("SQRLX", "2")):
        etree.SubElement(block, tag).text = value
    etree.SubElement(doc, "WSSBLSH").text = "WS-BENCH-1"
    number, _ = center.register_online_case(doc)

    accept = _command(number, "SHOULI")
    for tag, value in (("YWSLSJ", "2024-03-05 10:02:11"), ("YWSLZT", "1")):
        etree.SubElement(accept[2], tag).text = value
    center.accept(accept)
    return number


def _step(number: str) -> etree._Element:
    doc = _command(number, "GDBSSPCL")
    for tag, value in (("SPHJXH", "1"), ("SPHJDM", "act2"), ("SPYJ", "同意")):
        etree.SubElement(doc[2], tag).text = value
    return doc


def _command(number: str, block: str) -> etree._Element:
    doc = etree.Element("APPROVEDATAINFO")
    etree.SubElement(doc, "SBLSH_SHORT").text = number
    etree.SubElement(doc, "SXBM").text = MATTER
    etree.SubElement(doc, block)
    return doc


def _portal_page(folder: Path, records: int, pages: int) -> tuple[Cost, Cost]:
    sim = PortalSimulator(folder / "portal.sqlite").start()
    try:
        for number in range(records):
            minute, second = divmod(number, 60)
            filing = {
                "changeTime": f"2024-03-05 09:{minute:02d}:{second:02d}",
                "attachments": [{"materialName": "报告", "size": 64}],
            }
            answer = requests.post(f"{sim.url}/admin/filings", json=filing, timeout=5)
            answer.raise_for_status()
        portal = PortalAdapter(sim.url, "bridge", "bridge-secret")
        token = UsernameToken(
            "bridge", "bridge-secret", use_digest=True, zulu_timestamp=True
        )
        service = zeep.Client(
            str(PORTAL_WSDL),
            transport=portal._transport,
            wsse=token,
            settings=zeep_settings(portal.quirks),
        ).create_service(PORTAL_BINDING, portal.address)

        def by_zeep() -> object:
            return service.listFilings(since=SINCE, pageSize=records)

        def by_lxml() -> object:
            return portal.list_filings(SINCE, None, records)

        return _measure(pages, by_zeep), _measure(pages, by_lxml)
    finally:
        sim.stop()


def _transport_post(folder: Path, calls: int) -> tuple[Cost, Cost]:
    sim = CenterSimulator(folder / "center-post.sqlite").start()
    try:
        center = CenterAdapter(
            sim.url, "bridge", "bridge-secret", department_code="", region_code=""
        )
        bound = center._operations["getXmlToken"]
        names = [child.name for child in bound.children]
        credentials = dict(zip(names, ("bridge", "bridge-secret"), strict=True))
        payload, headers = envelope.request(bound, credentials, address="")
        session = make_session()

        def by_requests() -> bytes:
            answer = session.post(
                center.address, data=payload, headers=headers, timeout=(5, 10)
            )
            return answer.content

        def by_urllib3() -> bytes:
            answer = center._transport.post(center.address, payload, headers)
            return bytes(answer.content)

        return _measure(calls, by_requests), _measure(calls, by_urllib3)
    finally:
        sim.stop()


def _report(
    title: str, first: Cost, second: Cost, names: tuple[str, str] = ("zeep", "lxml")
) -> None:
    print(title)
    for name, cost in zip(names, (first, second), strict=True):
        print(
            f"  {name}: {cost.wall:7.2f} ms wall {cost.client:7.2f} ms client cpu "
            f"{cost.process:7.2f} ms process cpu"
        )
    ratio = first.client / second.client if second.client else float("inf")
    print(f"  client cpu {names[0]}/{names[1]}: {ratio:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    level = structlog.make_filtering_bound_logger(logging.WARNING)
    structlog.configure(wrapper_class=level)

    folder = Path(tempfile.mkdtemp(prefix="bench-adapters-"))
    launch = _oa_launch(folder, args.calls)
    write = _center_write(folder, args.calls)
    page = _portal_page(folder, args.records, args.pages)
    post = _transport_post(folder, args.calls)

    _report(f"OA launch, mean of {args.calls} calls", *launch)
    _report(f"center write (receiveCourseInfo), mean of {args.calls} calls", *write)
    _report(f"portal page of {args.records} filings, mean of {args.pages}", *page)
    _report(
        f"HTTP client, one getXmlToken post, mean of {args.calls}",
        *post,
        names=("requests", "urllib3"),
    )


if __name__ == "__main__":
    main()
