"""The main job end to end: portal, center and OA simulators over real HTTP, the
bridge as a real subprocess on a SQLite file, every claim checked from the
simulators' own state and request logs."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.service.demo import DemoCase
from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import audit_log, dead_letters
from tests.bridgerun import Flow, agreement_problems, duplicates, write_counts
from tests.counts import report


def assert_each_case_once(flow: Flow) -> None:
    """Every case: one registration and acceptance (online), one flow, one
    completion, one publication; no write took effect twice, and only progress
    posts were ever repeated; the three systems agree."""
    counts = write_counts(flow.sims, outcomes=("done", "launched"))
    absorbed = write_counts(flow.sims, outcomes=("already",))
    snap = flow.snapshot()

    assert duplicates(counts) == {}
    # the portal's progress has no read-back in its contract: a progress post
    # whose answer was lost is posted again, and the portal absorbs it
    assert set(absorbed) <= {"portal.postProgress"}, absorbed
    for case in flow.cases:
        number = snap.number(case)
        assert number, f"{case.key} was never numbered by the center"
        if case.channel == "online":
            assert counts["center.registerOnlineCase"][case.key] == 1
            assert counts["center.receiveBusinessAccept"][number] == 1
        assert counts["oa.launchFormCollaboration"][number] == 1
        assert counts["center.receiveBusinessFinish"][number] == 1
        assert counts["portal.publishResult"][number] == 1
    assert agreement_problems(snap, flow.cases) == []


@pytest.fixture(scope="module")
def finished_flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """One uninterrupted run of 4 online and 4 window cases plus one bad filing."""
    flow = Flow.start(tmp_path_factory.mktemp("e2e"))
    flow.file(online=4, window=4)
    bad = SimAdmin(flow.sims.portal.url).post("filings", {"submitTime": "上周三下午"})
    flow.spawn()
    finished = flow.wait_finished(timeout=90)
    flow.stop()
    flow.bad_filing = bad["filingNo"]  # type: ignore[attr-defined]
    flow.finished = finished  # type: ignore[attr-defined]
    yield flow
    flow.close()


def test_every_case_reaches_every_system_once(finished_flow: Flow) -> None:
    """Online and window cases are each registered, launched, completed and
    published exactly once, and agree on number, applicant and result."""
    assert finished_flow.finished  # type: ignore[attr-defined]

    assert_each_case_once(finished_flow)


def test_online_case_steps_reach_center_and_portal(finished_flow: Flow) -> None:
    """Every step of an online case's flow is recorded at the center and posted
    as progress on its filing."""
    snap = finished_flow.snapshot()
    portal = SimAdmin(finished_flow.sims.portal.url).state()
    online = [case for case in finished_flow.cases if case.channel == "online"]

    for case in online:
        number = snap.number(case)
        flow = snap.flows[number][0]
        steps = snap.center_by_number[number]["steps"]
        progress = [p for p in portal["progress"] if p["filingNo"] == case.key]
        assert len(steps) == len(flow["record"]) >= 4
        assert len(progress) == len(steps)


def test_bad_record_waits_in_dead_letters_and_others_go_on(finished_flow: Flow) -> None:
    """A filing whose submit time cannot be read is dead-lettered with system,
    record and field named, while every other case flows."""
    store = open_store(f"sqlite:///{finished_flow.root / 'govbridge.sqlite'}")
    bad = finished_flow.bad_filing  # type: ignore[attr-defined]

    with store.begin() as conn:
        letters = conn.execute(
            select(dead_letters).where(dead_letters.c.record_key == bad)
        ).all()
        audits = conn.execute(
            select(audit_log).where(
                audit_log.c.record_key == bad, audit_log.c.outcome == "dead-lettered"
            )
        ).all()
    store.dispose()

    assert len(letters) == 1
    assert letters[0].system == "portal"
    assert letters[0].field and "submitTime" in letters[0].field
    assert "上周三下午" in letters[0].payload
    assert len(audits) == 1
    assert "portal" in audits[0].detail and bad in audits[0].detail
    assert "submitTime" in audits[0].detail
    assert all(finished_flow.snapshot().finished(c) for c in finished_flow.cases)


def _run_until_killed(flow: Flow, crash_at: str, timeout: float = 30.0) -> int:
    process = flow.spawn(crash_at)
    try:
        return process.wait(timeout)
    finally:
        flow.stop()


def wait_for_work(flow: Flow, process: object, timeout: float = 30.0) -> None:
    """Wait until the bridge process logs a delivery, so that a kill lands on a
    process at work rather than one still importing."""
    log = flow.root / "logs" / "bridge.log"
    start = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and b"delivery.done" in log.read_bytes()[start:]:
            return
        time.sleep(0.05)


def test_sigkill_at_injected_points_and_random_moments(tmp_path: Path) -> None:
    """Killed after a target took each kind of write and before the bridge noted
    it, between a poll and its commit, and at random moments of work, the bridge
    restarts and still delivers every case exactly once (two new cases are filed
    before each injected kill, so every kind of write is pending)."""
    flow = Flow.start(tmp_path, step_seconds=0.15)
    try:
        points = [
            "poll.before_commit@1",
            "deliver.before_send@2",
            "deliver.after_send:center.register@1",
            "deliver.after_send:center.accept@1",
            "deliver.after_send:oa.launch@2",
            "deliver.after_send:center.step@3",
            "deliver.after_send:portal.progress@2",
            "deliver.after_send:center.finish@1",
            "deliver.after_send:portal.publish@1",
            "deliver.after_send@10",
        ]
        for point in points:
            flow.file(online=1, window=1)
            assert _run_until_killed(flow, point, timeout=60) == -9, point
        chooser = random.Random(20041018)
        for _ in range(3):
            process = flow.spawn()
            wait_for_work(flow, process)
            time.sleep(chooser.uniform(0.1, 1.0))
            process.kill()
            process.wait()
            flow.process = None

        flow.spawn()
        finished = flow.wait_finished(timeout=90)
        flow.stop()
        counts = report(flow, "sigkill")

        assert finished, counts
        assert counts["lost"] == counts["duplicates"] == 0
        assert_each_case_once(flow)
    finally:
        flow.close()


def test_demo_cases_are_numbered_by_the_center(finished_flow: Flow) -> None:
    """Online filings get their case number from the center, which the OA form
    and the portal publication carry too."""
    snap = finished_flow.snapshot()
    online: list[DemoCase] = [c for c in finished_flow.cases if c.channel == "online"]

    for case in online:
        number = snap.number(case)
        assert number is not None and len(number) == 13 and number.isdigit()
        assert snap.publications[number]["filingNo"] == case.key


def test_audit_log_shows_each_step_of_an_exchange(finished_flow: Flow) -> None:
    """For every online filing the audit log holds, in order, its mapping, its
    validation, its routing and its registration at the center."""
    store = open_store(f"sqlite:///{finished_flow.root / 'govbridge.sqlite'}")
    online = [c.key for c in finished_flow.cases if c.channel == "online"]

    with store.begin() as conn:
        trails = {
            key: [
                (row.system, row.outcome)
                for row in conn.execute(
                    select(audit_log.c.system, audit_log.c.outcome)
                    .where(audit_log.c.record_key == key)
                    .order_by(audit_log.c.id)
                )
            ]
            for key in online
        }
    store.dispose()

    for key, trail in trails.items():
        assert trail[:4] == [
            ("portal", "mapped"),
            ("portal", "validated"),
            ("portal", "routed"),
            ("center", "delivered"),
        ], key
