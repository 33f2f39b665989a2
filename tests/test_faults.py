"""Delivery guarantees under injected faults: transient failures of every kind
on all three simulators, and each case still reaches each system exactly once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import audit_log
from tests.bridgerun import Flow
from tests.counts import report
from tests.test_e2e import assert_each_case_once as assert_exactly_once

#: Test-scale timeouts: an injected hang outlasts the read timeout.
FAST = {
    "center": {"timeout": 0.3, "deadline": 0.8},
    "oa": {"timeout": 0.3, "deadline": 0.8},
    "portal": {"timeout": 0.3, "deadline": 0.8},
    "delivery": {
        "workers": 32,
        "backoff_base_seconds": 0.1,
        "backoff_max_seconds": 1.0,
        "max_attempts": 60,
    },
    "poll": {
        "interval_seconds": 0.3,
        "sweep_interval_seconds": 0.3,
        "sweep_batch": 200,
        "page_size": 50,
    },
}

KINDS = [
    {"kind": "http500_html", "phase": "before"},
    {"kind": "http500_html", "phase": "after"},
    {"kind": "soap_fault_busy", "phase": "before"},
    {"kind": "timeout", "phase": "after", "seconds": 0.5},
    {"kind": "close", "phase": "after"},
    {"kind": "trickle", "phase": "before"},
]


def fault_rules(total_rate: float) -> list[dict[str, Any]]:
    """Rules whose combined chance of hitting one request is ``total_rate``."""
    each = 1 - (1 - total_rate) ** (1 / len(KINDS))
    return [{"operation": "*", "rate": each, **kind} for kind in KINDS]


def failed_attempts_audited(flow: Flow) -> int:
    """How many failed attempts the audit log records, each naming its try."""
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        details = (
            conn.execute(
                select(audit_log.c.detail).where(audit_log.c.outcome == "failed")
            )
            .scalars()
            .all()
        )
    store.dispose()
    assert all(detail.startswith("attempt ") for detail in details)
    return len(details)


def run_with_faults(root: Path, online: int, window: int, rate: float) -> Flow:
    flow = Flow.start(root, step_seconds=0.05, overrides=FAST)
    for sim in flow.sims.all():
        SimAdmin(sim.url).post("faults", {"rules": fault_rules(rate), "seed": 99})
    flow.file(online=online, window=window)
    flow.spawn()
    return flow


def test_thirty_percent_transient_faults_deliver_every_case_once(
    tmp_path: Path,
) -> None:
    """With 30% of all SOAP requests failing (HTML 500s before and after
    processing, busy faults, hangs past the timeout, dropped connections,
    trickles), 300 cases are each delivered exactly once."""
    size = int(os.environ.get("GOVBRIDGE_FAULT_CASES", "300"))
    flow = run_with_faults(tmp_path, size // 2, size - size // 2, rate=0.3)
    try:
        finished = flow.wait_finished(timeout=240)
        for sim in flow.sims.all():
            SimAdmin(sim.url).delete("faults")
        flow.stop()
        counts = report(flow, "faults")

        assert finished, counts
        assert counts["lost"] == 0 and counts["duplicates"] == 0
        assert_exactly_once(flow)
        assert failed_attempts_audited(flow) > 0
    finally:
        flow.close()


@pytest.mark.soak
@pytest.mark.timeout(5400)
def test_soak_faults_two_thousand_cases(tmp_path: Path) -> None:
    """The fault round at soak size: 2,000 cases under 30% transient faults."""
    flow = run_with_faults(tmp_path, 1000, 1000, rate=0.3)
    try:
        finished = flow.wait_finished(timeout=3600)
        flow.stop()
        counts = report(flow, "soak-faults")

        assert finished, counts
        assert_exactly_once(flow)
    finally:
        flow.close()
        time.sleep(0.1)
