"""Quirk cases 10, 15 and 16: token expiry mid-batch, already-done, launch errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from bridge.adapters.base import WriteOutcome
from bridge.adapters.center import CenterAdapter
from bridge.adapters.oa import OaAdapter
from bridge.errors import RejectedError, is_transient
from bridge.sim.center import CenterSimulator
from bridge.sim.oa import OaSimulator
from tests.quirkhelp import admin

MATTER = "370999001"
#: launches tried for a negative flow id; each is negative with odds 1/2
NEGATIVE_TRIES = 200


@pytest.fixture(scope="module")
def oa_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaSimulator]:
    """A private OA simulator for this module."""
    sim = OaSimulator(tmp_path_factory.mktemp("quirks-oa") / "oa.sqlite").start()
    yield sim
    sim.stop()


@pytest.fixture
def oa(oa_sim: OaSimulator) -> OaAdapter:
    """An OA adapter on the emptied simulator."""
    admin(oa_sim, "POST", "/reset")
    return OaAdapter(oa_sim.url, "service-admin", "123456", timeout=5, deadline=10)


def form(case: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><formExport version="2.0">'
        '<summary id="" name="formmain_0101"/><values>'
        f'<column name="申办流水号"><value>{case}</value></column>'
        "</values></formExport>"
    )


def launch_outcomes(sim: OaSimulator) -> list[str]:
    logged = admin(sim, "GET", "/requests?operation=launchFormCollaboration")
    return [entry["outcome"].split(":")[0] for entry in logged["requests"]]


@pytest.mark.parametrize("shape", ["typed_fault", "generic_fault", "error_number"])
def test_token_expiry_mid_batch_launches_each_flow_once(
    oa_sim: OaSimulator, oa: OaAdapter, shape: str
) -> None:
    """Case 10: the token dies mid-batch; one re-login, the batch goes on, no
    doubles."""
    if shape != "typed_fault":
        admin(oa_sim, "POST", "/config", {"launch_token_error": shape})
    cases = [f"TK-{shape}-{n}" for n in range(4)]
    flow_ids = []
    for number, case in enumerate(cases):
        if number == 2:
            admin(oa_sim, "DELETE", "/tokens")
            if shape == "typed_fault":
                assert oa.flow_state(flow_ids[0]) == 3
        flow_ids.append(oa.launch("HBJ_SX01", case, form(case), record=case))

    flows = admin(oa_sim, "GET", "/flows")["flows"]
    refused = {"typed_fault": [], "generic_fault": ["fault"], "error_number": ["error"]}
    assert sorted(flow["flow_id"] for flow in flows) == sorted(flow_ids)
    assert len(set(flow_ids)) == 4
    assert launch_outcomes(oa_sim) == (
        ["launched", "launched", *refused[shape], "launched", "launched"]
    )


def test_launch_error_number_is_permanent_with_both_texts(oa: OaAdapter) -> None:
    """Case 16: errorNumber ≠ 0 is a RejectedError carrying number and message."""
    with pytest.raises(RejectedError) as template:
        oa.launch("HBJ_NONE", "s", form("E-1"), record="E-1")
    oa.sender_login = "nobody-here"
    with pytest.raises(RejectedError) as sender:
        oa.launch("HBJ_SX01", "s", form("E-2"), record="E-2")

    assert (template.value.fault_code, template.value.fault_text) == (
        "2001",
        "模板不存在:HBJ_NONE",
    )
    assert sender.value.fault_code not in (None, "0")
    assert "nobody-here" in (sender.value.fault_text or "")
    assert not is_transient(template.value) and not is_transient(sender.value)
    assert (template.value.operation, template.value.record) == (
        "launchFormCollaboration",
        "E-1",
    )


def test_launch_negative_flow_id_is_success(oa_sim: OaSimulator, oa: OaAdapter) -> None:
    """Case 16: errorNumber 0 with a negative flow id is a launched flow.

    The simulator draws signed 64-bit ids, half of them negative; launching
    until one comes back (at most 200 times, a miss of 2**-200) always finds one.
    """
    flow_ids: list[int] = []
    while len(flow_ids) < NEGATIVE_TRIES and not any(n < 0 for n in flow_ids):
        case = f"N-{len(flow_ids)}"
        flow_ids.append(oa.launch("HBJ_SX01", "n", form(case), record=case))

    negative = [flow_id for flow_id in flow_ids if flow_id < 0]
    stored = {flow["flow_id"] for flow in admin(oa_sim, "GET", "/flows")["flows"]}
    assert negative, flow_ids
    assert negative[0] in stored
    assert launch_outcomes(oa_sim) == ["launched"] * len(flow_ids)
    assert oa.flow_state(negative[0]) == 3


@pytest.fixture(scope="module")
def center_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    """A private center simulator for this module."""
    path: Path = tmp_path_factory.mktemp("quirks-center") / "center.sqlite"
    sim = CenterSimulator(path).start()
    yield sim
    sim.stop()


def center_adapter(sim: CenterSimulator, statuses: list[str]) -> CenterAdapter:
    admin(sim, "POST", "/reset")
    return CenterAdapter(
        sim.url,
        "bridge",
        "bridge-secret",
        department_code="",
        region_code="",
        timeout=5,
        deadline=10,
        quirks={"already_done_statuses": statuses},
    )


def registration(filing: str) -> etree._Element:
    root = etree.Element("APPROVEDATAINFO")
    block = etree.SubElement(root, "SPSHENQIN")
    for tag, value in (("SXBM", MATTER), ("SQRMC", "示例置业有限公司"), ("SQRLX", "2")):
        etree.SubElement(block, tag).text = value
    etree.SubElement(root, "WSSBLSH").text = filing
    return root


def acceptance(number: str) -> etree._Element:
    root = etree.Element("APPROVEDATAINFO")
    etree.SubElement(root, "SBLSH_SHORT").text = number
    etree.SubElement(root, "SXBM").text = MATTER
    block = etree.SubElement(root, "SHOULI")
    for tag, value in (("YWSLSJ", "2024-03-05 10:02:11"), ("YWSLZT", "1")):
        etree.SubElement(block, tag).text = value
    return root


def accept_calls(sim: CenterSimulator) -> list[str]:
    logged = admin(sim, "GET", "/requests?operation=receiveBusinessAccept")
    return [entry["status"] for entry in logged["requests"]]


@pytest.mark.parametrize("status", ["200", "300"])
def test_already_done_under_the_declared_status(
    center_sim: CenterSimulator, status: str
) -> None:
    """Case 15: 当前业务已… under the profile's STATUS is ALREADY, sent once more
    only."""
    center = center_adapter(center_sim, [status])
    admin(center_sim, "POST", "/config", {"already_done_status": int(status)})
    number, _ = center.register_online_case(registration(f"WS-Q{status}"))

    first = center.accept(acceptance(number))
    again = center.accept(acceptance(number))

    assert (first, again) == (WriteOutcome.DONE, WriteOutcome.ALREADY)
    assert accept_calls(center_sim) == ["200", status]


def test_already_done_under_an_undeclared_status_is_rejected(
    center_sim: CenterSimulator,
) -> None:
    """Case 15: the same DESC under a STATUS the profile does not list is refused."""
    center = center_adapter(center_sim, ["200"])
    admin(center_sim, "POST", "/config", {"already_done_status": 300})
    number, _ = center.register_online_case(registration("WS-Q9"))
    center.accept(acceptance(number))

    with pytest.raises(RejectedError) as refused:
        center.accept(acceptance(number))

    assert refused.value.fault_code == "300"
    assert refused.value.fault_text == "当前业务已受理"
    assert accept_calls(center_sim) == ["200", "300"]


def test_other_status_300_is_permanent_with_desc(center_sim: CenterSimulator) -> None:
    """Case 15: any other STATUS 300 is a RejectedError carrying DESC, sent once."""
    center = center_adapter(center_sim, ["200", "300"])

    with pytest.raises(RejectedError) as refused:
        center.accept(acceptance("0999249999999"))

    assert refused.value.fault_code == "300"
    assert refused.value.fault_text
    assert not refused.value.fault_text.startswith("当前业务已")
    assert not is_transient(refused.value)
    assert len(accept_calls(center_sim)) == 1
