"""A clean stop (SIGTERM) takes back the attempts its claims noted for writes
it never sent: the next run does not take them for retries."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sim.admin import SimAdmin
from tests.bridgerun import Flow, write_counts

#: every outcome a write request can have in the simulators' request logs
EVERY_OUTCOME = ("done", "already", "launched", "error", "rejected", "fault")


@pytest.fixture
def slow_flow(tmp_path: Path) -> Iterator[Flow]:
    flow = Flow.start(
        tmp_path, step_seconds=0.05, overrides={"delivery": {"workers": 32}}
    )
    try:
        yield flow
    finally:
        flow.close()


def test_sigterm_leaves_no_attempt_for_a_write_never_sent(slow_flow: Flow) -> None:
    slow_flow.file(online=0, window=120)
    for sim in (slow_flow.sims.center, slow_flow.sims.oa, slow_flow.sims.portal):
        SimAdmin(sim.url).post("latency", {"seconds": 0.05})
    process = slow_flow.spawn()
    time.sleep(5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0

    counts = write_counts(slow_flow.sims, outcomes=EVERY_OUTCOME)
    sent = sum(sum(per_key.values()) for per_key in counts.values())
    with sqlite3.connect(slow_flow.root / "govbridge.sqlite") as db:
        noted = db.execute(
            "SELECT coalesce(sum(attempts), 0) FROM deliveries"
        ).fetchone()[0]
        left = db.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'inflight'"
            " AND claim_until IS NOT NULL"
        ).fetchone()[0]
    assert sent > 0, "the bridge sent nothing before it was stopped"
    assert noted == sent
    assert left == 0
