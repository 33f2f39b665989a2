"""Several ``govbridge run`` processes on one PostgreSQL database: a killed
process's routes move to the survivor within the lease time, and a frozen one
that lost its claims gives up instead of sending; every case is written once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from bridge.store import open_store
from bridge.store.leases import lease_rows
from bridge.store.schema import deliveries
from tests.bridgerun import Flow
from tests.test_e2e import assert_each_case_once
from tests.test_service_daemon import wait_for

LEASE = 3.0
ROUTES = {"poll:portal", "poll:center", "sweep:oa"}


def _flow(root: Path, pg_url: str) -> Flow:
    return Flow.start(root, step_seconds=0.15, store=pg_url, overrides={
        "service": {"health_port": 0, "lease_seconds": LEASE, "grace_seconds": 3},
    })


def _holders(pg_url: str) -> dict[str, str]:
    store = open_store(pg_url)
    try:
        return {row.name: row.holder for row in lease_rows(store)
                if row.expires_at.timestamp() > time.time()}
    finally:
        store.dispose()


def _held_by(pg_url: str, process: subprocess.Popen[bytes]) -> set[str]:
    return {name for name, holder in _holders(pg_url).items()
            if f":{process.pid}:" in holder}


def _done(pg_url: str) -> dict[int, str | None]:
    store = open_store(pg_url)
    try:
        with store.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.claim_owner)
                .where(deliveries.c.status == "done")
            )
            return {row.id: row.claim_owner for row in rows}
    finally:
        store.dispose()


def test_survivor_takes_over_a_killed_process_within_the_lease(
    tmp_path: Path, pg_url: str
) -> None:
    """SIGKILL of the process holding every poll lease: the other holds them all
    within the lease time plus one poll interval, and every case is written once."""
    flow = _flow(tmp_path, pg_url)
    try:
        flow.file(online=2, window=2)
        first = flow.launch()
        assert wait_for(lambda: _held_by(pg_url, first) == ROUTES, 20)
        second = flow.launch()
        assert wait_for(lambda: _started(flow, second), 30)
        assert wait_for(lambda: len(_done(pg_url)) >= 2, 30)
        assert _held_by(pg_url, second) == set()

        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        assert wait_for(lambda: _held_by(pg_url, second) == ROUTES, LEASE + 5)
        took = time.monotonic() - killed

        assert took <= LEASE + 1.0
        assert flow.wait_finished(timeout=60)
        assert_each_case_once(flow)
    finally:
        flow.close()


def test_frozen_claimer_rechecks_its_token_and_gives_up(
    tmp_path: Path, pg_url: str
) -> None:
    """A process held right after claiming deliveries and frozen with SIGSTOP past
    its lease loses them to the other process; resumed, it finds its fencing
    token stale, sends nothing, and each delivery reaches its target once."""
    flow = _flow(tmp_path, pg_url)
    marker = tmp_path / "held.json"
    try:
        flow.file(online=2, window=1)
        frozen = flow.launch({"GOVBRIDGE_HOLD_AT": "deliver.after_claim",
                              "GOVBRIDGE_HOLD_FILE": str(marker)})
        assert wait_for(marker.exists, 30)
        claimed = set(json.loads(marker.read_text())["report"])
        os.kill(frozen.pid, signal.SIGSTOP)
        marker.unlink()
        other = flow.launch()

        assert wait_for(lambda: claimed <= set(_done(pg_url)), 40)
        os.kill(frozen.pid, signal.SIGCONT)
        assert flow.wait_finished(timeout=60)
        assert wait_for(lambda: _gave_up(flow) >= claimed, 10)

        owners = {_done(pg_url)[i] for i in claimed}
        assert all(f":{other.pid}:" in str(owner) for owner in owners)
        assert frozen.poll() is None
        assert_each_case_once(flow)
    finally:
        flow.close()


def _events(flow: Flow) -> list[dict[str, object]]:
    log = flow.root / "logs" / "bridge.log"
    return [json.loads(line) for line in log.read_text().splitlines()
            if line.startswith("{")]


def _started(flow: Flow, process: subprocess.Popen[bytes]) -> bool:
    """The process has started its schedule (and so contends for the leases)."""
    return any(e.get("event") == "bridge.started"
               and f":{process.pid}:" in str(e.get("holder")) for e in _events(flow))


def _gave_up(flow: Flow) -> set[int]:
    return {int(str(e["delivery"])) for e in _events(flow)
            if e.get("event") == "delivery.gave_up" and "delivery" in e}
