"""The crash soak (``make soak``): 2,000 cases, the bridge killed with SIGKILL
twenty times, at injected points and at random moments, and restarted; every
case still reaches every system exactly once. ``make test`` runs the small
round in tests/test_e2e.py."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.bridgerun import Flow
from tests.counts import report
from tests.test_e2e import assert_each_case_once, wait_for_work
from tests.test_faults import FAST

POINTS = [
    "poll.before_commit@3",
    "deliver.before_send@50",
    "deliver.after_send:center.register@40",
    "deliver.after_send:center.accept@60",
    "deliver.after_send:oa.launch@80",
    "deliver.after_send:center.step@200",
    "deliver.after_send:portal.progress@150",
    "deliver.after_send:center.finish@70",
    "deliver.after_send:portal.publish@90",
    "deliver.after_send@500",
]


@pytest.mark.soak
@pytest.mark.timeout(5400)
def test_crash_soak_two_thousand_cases_twenty_kills(tmp_path: Path) -> None:
    """Twenty SIGKILLs (ten at injected points, ten at random moments of work)
    during a 2,000-case flow; at the end each case was registered, accepted,
    launched, completed and published exactly once."""
    flow = Flow.start(tmp_path, step_seconds=0.05, overrides=FAST)
    chooser = random.Random(7)
    try:
        flow.file(online=1000, window=1000)
        for round_number in range(20):
            if round_number % 2 == 0:
                process = flow.spawn(POINTS[round_number // 2])
                try:
                    process.wait(600)
                except Exception:  # noqa: BLE001 - the point was never reached
                    process.kill()
                    process.wait()
            else:
                process = flow.spawn()
                wait_for_work(flow, process)
                time.sleep(chooser.uniform(0.5, 5.0))
                process.kill()
                process.wait()
            flow.process = None

        flow.spawn()
        finished = flow.wait_finished(timeout=3600)
        flow.stop()
        counts = report(flow, "crash-soak")

        assert finished, counts
        assert_each_case_once(flow)
    finally:
        flow.close()
