"""An applicant's withdrawal (撤件) filed at the portal reaches the center as a
returned completion and the OA flow's handlers as a notice; the flow's later
steps and result are no longer carried."""

from __future__ import annotations

import time
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select

from bridge.config import load_config
from bridge.engine.bridge import Bridge
from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import dead_letters
from tests.bridgerun import Flow, write_counts


def run(bridge: Bridge, until: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bridge.run_once()
        if until():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_withdrawal_after_launch_returns_the_case_and_notifies_handlers(
    tmp_path: Path,
) -> None:
    """A filing withdrawn while its flow runs: the center records BJJGDM 1 with
    申请人撤回 once, the OA's handlers get a message naming the case, no later
    step or result is sent, nothing is dead-lettered; the other case finishes."""
    flow = Flow.start(tmp_path, step_seconds=1.0)
    portal = SimAdmin(flow.sims.portal.url)
    oa = SimAdmin(flow.sims.oa.url)
    bridge = Bridge(load_config(flow.config_path))
    try:
        kept, gone = flow.file(online=2, window=0)
        launched = run(bridge, lambda: len(oa.state()["flows"]) == 2)
        portal.post(f"filings/{gone.key}/withdraw")
        oa.post("pace", {"step_seconds": 0.05})
        center_done = run(bridge, lambda: flow.snapshot().finished(kept), timeout=60)
        for _ in range(10):
            bridge.run_once()
            time.sleep(0.1)
    finally:
        bridge.close()
    snap = flow.snapshot()
    number = snap.number(gone)
    held = snap.center_by_number[number]
    messages = oa.state()["messages"]
    counts = write_counts(flow.sims)
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
    store.dispose()
    flow.close()

    assert launched and center_done
    assert held["completion"]["BJJGDM"] == "1"
    assert held["completion"]["ZFHTHYY"] == "申请人撤回"
    assert counts["center.receiveBusinessFinish"][number] == 1
    assert number not in snap.publications
    assert any(number in message["content"] for message in messages)
    assert dead == 0


def test_withdrawal_before_launch_sends_no_workflow(tmp_path: Path) -> None:
    """A filing withdrawn after the bridge took it in but before its workflow
    was sent: the center records the withdrawal and the OA never sees a launch."""
    flow = Flow.start(tmp_path, step_seconds=0.05)
    portal = SimAdmin(flow.sims.portal.url)
    bridge = Bridge(load_config(flow.config_path))
    try:
        (gone,) = flow.file(online=1, window=0)
        from bridge.engine.poll import poll_portal

        poll_portal(bridge.rt)
        portal.post(f"filings/{gone.key}/withdraw")
        poll_portal(bridge.rt)
        done = run(
            bridge,
            lambda: bool(
                (
                    flow.snapshot().center_by_number.get(
                        flow.snapshot().number(gone) or ""
                    )
                    or {}
                ).get("completion")
            ),
        )
    finally:
        bridge.close()
    counts = write_counts(flow.sims)
    flows = SimAdmin(flow.sims.oa.url).state()["flows"]
    flow.close()

    assert done
    assert flows == []
    assert "oa.launchFormCollaboration" not in counts


def _withdraw_at_window(flow: Flow, number: str, matter: str) -> None:
    """What a window clerk does: complete the case at the center as returned at
    the applicant's request."""
    from bridge.adapters.center import CenterAdapter

    center = CenterAdapter(
        flow.sims.center.url,
        "bridge",
        "bridge-secret",
        department_code="",
        region_code="",
    )
    center.finish(
        etree.fromstring(
            f"<APPROVEDATAINFO><SBLSH_SHORT>{number}</SBLSH_SHORT><SXBM>{matter}</SXBM>"
            "<SPBANJIE><BJJGDM>1</BJJGDM><BJJGMS>退回</BJJGMS><ZFHTHYY>申请人撤回"
            "</ZFHTHYY><BJSJ>2024-03-08 15:30:00</BJSJ></SPBANJIE></APPROVEDATAINFO>"
        )
    )


def test_withdrawal_recorded_at_the_center_reaches_the_oa_and_the_portal(
    tmp_path: Path,
) -> None:
    """A withdrawal a window clerk records at the center (completion 退回,
    申请人撤回) is carried to the flow's handlers at the OA and published on the
    portal as withdrawn, for an online and a window case; the bridge writes no
    completion of its own, later steps are not carried, nothing dead-letters."""
    flow = Flow.start(tmp_path, step_seconds=1.5)
    oa = SimAdmin(flow.sims.oa.url)
    bridge = Bridge(load_config(flow.config_path))
    try:
        flow.file(online=1, window=1)
        launched = run(bridge, lambda: len(oa.state()["flows"]) == 2)
        snap = flow.snapshot()
        numbers = [snap.number(case) for case in flow.cases]
        for number in numbers:
            matter = snap.center_by_number[number]["application"]["SXBM"]
            _withdraw_at_window(flow, number, matter)
        oa.post("pace", {"step_seconds": 0.05})
        published = run(
            bridge,
            lambda: all(n in flow.snapshot().publications for n in numbers),
        )
        for _ in range(10):
            bridge.run_once()
            time.sleep(0.1)
    finally:
        bridge.close()
    snap = flow.snapshot()
    messages = oa.state()["messages"]
    counts = write_counts(flow.sims)
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
    store.dispose()
    flow.close()

    assert launched and published
    for number in numbers:
        assert snap.publications[number]["resultCode"] == "3"
        assert counts["center.receiveBusinessFinish"][number] == 1
        assert any(number in message["content"] for message in messages)
    assert dead == 0
