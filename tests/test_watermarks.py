"""Watermarks that do not skip: equal timestamps across a page boundary, a
record committed late with an older timestamp, and counterparts whose clocks
are five minutes off the bridge's. Counted from the simulators' request logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import load_config
from bridge.engine import poll
from bridge.engine.bridge import Bridge
from bridge.sim.admin import SimAdmin
from tests.bridgerun import Flow, write_counts
from tests.counts import report

SMALL_PAGES = {
    "poll": {"page_size": 3, "overlap_seconds": 600, "overlap_every_seconds": 1.0}
}


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    started = Flow.start(tmp_path, step_seconds=0.05, overrides=SMALL_PAGES)
    yield started
    started.close()


def run_until_finished(flow: Flow, bridge: Bridge, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bridge.run_once()
        snap = flow.snapshot()
        if all(snap.finished(case) for case in flow.cases):
            return True
        time.sleep(0.1)
    return False


def launches(flow: Flow) -> dict[str, int]:
    report(flow, "watermarks")
    return dict(write_counts(flow.sims).get("oa.launchFormCollaboration", {}))


def numbers(flow: Flow) -> list[str]:
    snap = flow.snapshot()
    return [snap.number(case) or case.key for case in flow.cases]


def test_equal_timestamps_across_a_page_boundary(flow: Flow) -> None:
    """Seven window cases sharing one GXSJ, read in pages of three, are each
    launched exactly once."""
    center = SimAdmin(flow.sims.center.url)
    center.post("clock", {"frozen": True})
    flow.file(online=0, window=7)
    gxsj = {case["GXSJ"] for case in center.state()["cases"]}
    center.post("clock", {"frozen": False})
    bridge = Bridge(load_config(flow.config_path))

    try:
        finished = run_until_finished(flow, bridge)
    finally:
        bridge.close()

    assert len(gxsj) == 1
    assert finished
    assert launches(flow) == {number: 1 for number in numbers(flow)}


def test_late_commit_with_an_older_timestamp(flow: Flow) -> None:
    """A window case that appears after the watermark passed its time (committed
    late, stamped two minutes earlier) is picked up by the next read over the
    overlap window, once."""
    center = SimAdmin(flow.sims.center.url)
    flow.file(online=0, window=2)
    bridge = Bridge(load_config(flow.config_path))
    try:
        bridge.run_once()
        center.post("clock", {"advance_seconds": -120})
        flow.file(online=0, window=1)
        center.post("clock", {"offset_seconds": 0})

        finished = run_until_finished(flow, bridge)
    finally:
        bridge.close()

    assert finished
    assert launches(flow) == {number: 1 for number in numbers(flow)}


@pytest.mark.parametrize("skew", [300, -300])
def test_counterpart_clocks_five_minutes_off(flow: Flow, skew: int) -> None:
    """With the center and the portal five minutes ahead of (or behind) the
    bridge, every case still goes through exactly once."""
    for sim in (flow.sims.center, flow.sims.portal, flow.sims.oa):
        SimAdmin(sim.url).post("clock", {"offset_seconds": skew})
    flow.file(online=2, window=2)
    bridge = Bridge(load_config(flow.config_path))

    try:
        finished = run_until_finished(flow, bridge)
        flow.file(online=1, window=1)
        finished_later = run_until_finished(flow, bridge)
    finally:
        bridge.close()

    assert finished and finished_later
    assert launches(flow) == {number: 1 for number in numbers(flow)}
    counts = write_counts(flow.sims)
    assert all(n == 1 for n in counts["center.registerOnlineCase"].values())


def test_a_full_outbox_holds_further_pages_back(tmp_path: Path) -> None:
    """With four launches of new cases waiting for their first attempt, a poll reads no
    further page (two pages of three window cases, not three); once they are
    sent, the next poll goes on from the watermark and every case is launched
    once."""
    held = {"poll": {**SMALL_PAGES["poll"], "max_waiting_writes": 4}}
    flow = Flow.start(tmp_path, step_seconds=0.05, overrides=held)
    try:
        flow.file(online=0, window=8)
        bridge = Bridge(load_config(flow.config_path))
        try:
            poll_center = bridge.jobs()["poll_center"]
            routed_first = poll_center(bridge.rt)
            routed_while_full = poll_center(bridge.rt)
            bridge.deliver()
            routed_after = poll_center(bridge.rt)
            finished = run_until_finished(flow, bridge)
        finally:
            bridge.close()
        assert (routed_first, routed_while_full, routed_after) == (6, 0, 2)
        assert finished
        assert launches(flow) == {number: 1 for number in numbers(flow)}
    finally:
        flow.close()


def test_a_window_case_the_store_holds_is_not_mapped_again_when_relisted(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step the bridge writes to the center lists the window case again,
    with a new digest. Such a case is known to the store and is an echo: it is
    mapped once, when it is new, not again ahead of each page that lists it."""
    flow.file(online=0, window=3)
    bridge = Bridge(load_config(flow.config_path))
    mapping = bridge.rt.bureau(None).mapping
    mapped: list[str] = []
    inbound = mapping.inbound

    def counted(system: str, kind: str, record: Any) -> Any:
        if (system, kind) == ("center", "windowCase"):
            mapped.append(record.findtext("SBLSH_SHORT") or "")
        return inbound(system, kind, record)

    monkeypatch.setattr(mapping, "inbound", counted)
    relisted: list[str] = []
    numbered = poll._numbered_cases

    def known(conn: Any, keys: list[str]) -> set[str]:
        found = numbered(conn, keys)
        relisted.extend(found)
        return found

    monkeypatch.setattr(poll, "_numbered_cases", known)
    try:
        finished = run_until_finished(flow, bridge)
    finally:
        bridge.close()

    assert finished
    assert sorted(mapped) == sorted(numbers(flow))
    # the center did list known cases again, with their new digests
    assert set(relisted) <= set(numbers(flow)) and relisted
