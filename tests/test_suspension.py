"""A suspension of the deadline clock (特别程序) marked in the OA's processing
record reaches the center as a start and an end with the node's serial number,
between the steps around it."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from bridge.config import load_config
from bridge.engine.bridge import Bridge
from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import dead_letters
from tests.bridgerun import Flow, write_counts


def test_expert_review_pause_reaches_the_center_once(tmp_path: Path) -> None:
    """Every flow pauses once for an expert review; each case at the center gets
    exactly one suspension start and end, with XH = the pausing node's seq, and
    all its steps; nothing is dead-lettered."""
    flow = Flow.start(tmp_path, step_seconds=0.05)
    SimAdmin(flow.sims.oa.url).post("pace", {"suspend_rate": 1.0})
    flow.file(online=2, window=1)
    bridge = Bridge(load_config(flow.config_path))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            bridge.run_once()
            snap = flow.snapshot()
            if all(snap.finished(case) for case in flow.cases):
                break
            time.sleep(0.1)
    finally:
        bridge.close()
    snap = flow.snapshot()
    counts = write_counts(flow.sims)
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
    store.dispose()
    flow.close()

    assert all(snap.finished(case) for case in flow.cases)
    assert dead == 0
    for case in flow.cases:
        number = snap.number(case)
        held = snap.center_by_number[number]
        record = snap.flows[number][0]["record"]
        paused = [node["seq"] for node in record if node["action"] == "暂停计时"]
        assert len(paused) == 1
        assert len(held["suspensions"]) == 1
        suspension = held["suspensions"][0]
        assert str(suspension["XH"]) == str(paused[0])
        assert (
            suspension.get("end")
            or suspension.get("TBCXJSRQ")
            or suspension.get("finish")
        ), suspension
        assert len(held["steps"]) == len(record)
    assert all(n == 2 for n in counts["center.getSuspendInfo"].values())
