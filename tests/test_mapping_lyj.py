"""The forestry bureau's mapping against the forestry OA simulator, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from bridge.adapters.oa import OaAdapter
from bridge.interchange import get
from bridge.mapping import BureauMapping, load_bureau
from bridge.paths import mappings_dir
from bridge.sim.base import Simulator
from bridge.sim.runner import start_bureau_oa
from bridge.xmlutil import to_text

CASE = mappings_dir() / "lyj" / "samples" / "oa-launch-window" / "case.xml"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    folder = tmp_path_factory.mktemp("oa-lyj")
    simulator = start_bureau_oa("lyj", folder / "oa-lyj.sqlite")
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def lyj() -> BureauMapping:
    return load_bureau("lyj")


def test_forestry_oa_answers_in_gbk(sim: Simulator) -> None:
    """The forestry OA declares and uses GBK, and is named oa-lyj."""
    wsdl = requests.get(f"{sim.url}/seeyon/services/authorityService?wsdl")
    body = (
        '<soapenv:Envelope xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:a="http://impl.services.v3x.seeyon.com"><soapenv:Body>'
        "<a:authenticate><a:userName>x</a:userName><a:password>y</a:password>"
        "</a:authenticate></soapenv:Body></soapenv:Envelope>"
    )

    answer = requests.post(
        f"{sim.url}/seeyon/services/authorityService",
        data=body.encode(),
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"},
    )

    assert sim.name == "oa-lyj"
    assert wsdl.status_code == 200
    assert "charset=GBK" in answer.headers["content-type"]
    assert answer.content.startswith(b"<?xml version='1.0' encoding='GBK'?>")


def test_case_launched_and_decided_maps_back(
    sim: Simulator, lyj: BureauMapping
) -> None:
    """A case launched with the lyj mapping comes back as four steps and a result."""
    case = etree.parse(str(CASE)).getroot()
    message = lyj.outbound("oa", "launch", {"case": case})
    oa = OaAdapter(sim.url, "service-admin", "123456")
    flow_id = oa.launch(
        message.params["templateCode"],
        message.params["subject"],
        to_text(message.root, declaration=True),
    )

    for _ in range(4):
        sim.advance_flow(flow_id)  # type: ignore[attr-defined]
    exported = oa.export_flow(flow_id)
    docs = lyj.inbound("oa", "flow", exported)

    assert exported.findtext("summary/state") == "20"
    assert "/" in exported.findtext("summary/updateTime", "")
    assert len(docs["stepEvent"]) == 4
    assert get(docs["stepEvent"][0], "caseNumber") == get(case, "caseNumber")
    assert get(docs["result"][0], "resultCode") == "approved"
    assert get(docs["result"][0], "certificateNumber").startswith("林许")
    assert get(docs["result"][0], "completedTime").endswith("+08:00")


def test_default_oa_is_unchanged(tmp_path: Path) -> None:
    """Without a profile the OA keeps the hbj form, codes and UTF-8."""
    from bridge.sim.oa import OaSimulator

    simulator = OaSimulator(tmp_path / "oa.sqlite")

    assert simulator.name == "oa"
    assert simulator.states()["finished"] == 0
    assert "HBJ_SX01" in simulator.templates
