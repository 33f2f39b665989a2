"""``govbridge run`` as a service on SQLite: SIGTERM within the grace period,
health and metrics while it runs, SIGHUP reloads only a valid configuration."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from bridge.sim.admin import SimAdmin
from bridge.store import open_store
from bridge.store.schema import audit_log, deliveries
from tests.bridgerun import Flow, duplicates, write_counts
from tests.test_e2e import assert_each_case_once

#: the writes a delivery makes, as the simulators log them
DELIVERY_WRITES = (
    "center.registerOnlineCase", "center.receiveBusinessAccept",
    "center.receiveCourseInfo", "center.receiveBusinessFinish",
    "oa.launchFormCollaboration", "portal.postProgress", "portal.publishResult",
)
GRACE = 6.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def delivery_writes(flow: Flow) -> int:
    counts = write_counts(flow.sims)
    return sum(sum(counts.get(name, {}).values()) for name in DELIVERY_WRITES)


def done_deliveries(flow: Flow) -> int:
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        done = conn.execute(
            select(func.count()).where(deliveries.c.status == "done")
        ).scalar_one()
    store.dispose()
    return int(done)


def wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_sigterm_exits_in_grace_and_restart_delivers_the_rest(tmp_path: Path) -> None:
    """SIGTERM mid-flow: exit 0 within the grace period; the restarted process
    delivers the rest with no duplicate, answers /healthz and /metrics with 200,
    and its delivered count equals the writes the simulators logged meanwhile."""
    port = free_port()
    flow = Flow.start(tmp_path, step_seconds=0.15, overrides={
        "service": {"health_port": port, "grace_seconds": GRACE, "lease_seconds": 4},
    })
    try:
        flow.file(online=2, window=2)
        process = flow.spawn()
        assert wait_for(lambda: done_deliveries(flow) >= 3, 40)

        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(GRACE + 5)
        took = time.monotonic() - stopped_at
        flow.process = None
        assert code == 0
        assert took < GRACE
        before = delivery_writes(flow)
        assert not all(flow.snapshot().finished(case) for case in flow.cases)

        flow.spawn()
        assert flow.wait_finished(timeout=60)
        assert wait_for(lambda: done_deliveries(flow) == delivery_writes(flow), 10)
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert flow.stop() == 0

        assert health.status_code == 200
        report = health.json()
        assert report["database"] == "ok"
        assert all(route["last_success"] for route in report["routes"].values())
        assert report["calendar"]["today"] in ("override", "file", "chinesecalendar",
                                               "holidays")
        assert scraped.status_code == 200
        delivered = metric(scraped.text, "govbridge_deliveries_total",
                           outcome="delivered")
        assert delivered == delivery_writes(flow) - before
        assert metric(scraped.text, "govbridge_polls_total", source="portal") >= 1
        assert duplicates(write_counts(flow.sims)) == {}
        assert_each_case_once(flow)
    finally:
        flow.close()


def _events(flow: Flow) -> list[dict[str, object]]:
    log = flow.root / "logs" / "bridge.log"
    return [json.loads(line) for line in log.read_text().splitlines()
            if line.startswith("{")]


def test_sighup_applies_only_a_valid_configuration(tmp_path: Path) -> None:
    """SIGHUP with a broken file keeps the running settings and says why; with a
    valid change it applies it, and the process goes on answering."""
    port = free_port()
    flow = Flow.start(tmp_path, overrides={
        "service": {"health_port": port, "grace_seconds": 2.0},
    })
    try:
        process = flow.spawn()
        url = f"http://127.0.0.1:{port}/healthz"
        assert wait_for(lambda: _answers(url), 20)
        good = flow.config_path.read_text()

        flow.config_path.write_text(good.replace("[poll]", "[poll]\nintervall = 3"))
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: _logged(flow, "bridge.reload_refused"), 10)
        flow.config_path.write_text(
            good.replace("interval_seconds = 0.5", "interval_seconds = 0.7")
        )
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: _logged(flow, "bridge.reloaded"), 10)

        refused = next(
            e for e in _events(flow) if e["event"] == "bridge.reload_refused"
        )
        assert "poll.intervall: unknown setting" in str(refused["error"])
        assert _answers(url)
        assert process.poll() is None
        assert flow.stop() == 0
        changes = _configuration_audit(flow)
        assert [outcome for outcome, _ in changes] == ["loaded", "refused", "changed"]
        assert "poll.intervall: unknown setting" in changes[1][1]
        digest = hashlib.sha256(flow.config_path.read_bytes()).hexdigest()[:16]
        assert f"config={digest}" in changes[2][1]
        assert "hbj/oa.yaml=" in changes[0][1]
    finally:
        flow.close()


def _configuration_audit(flow: Flow) -> list[tuple[str, str]]:
    """The audit entries of configuration loads and changes, in order."""
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        rows = conn.execute(
            select(audit_log.c.outcome, audit_log.c.detail)
            .where(audit_log.c.operation == "configuration")
            .order_by(audit_log.c.id)
        ).all()
    store.dispose()
    return [(row.outcome, row.detail or "") for row in rows]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.ConnectionError:
        return False


def _logged(flow: Flow, event: str) -> bool:
    return any(entry.get("event") == event for entry in _events(flow))


def test_healthz_is_503_when_a_route_is_stale(tmp_path: Path) -> None:
    """With the portal down longer than the staleness threshold, /healthz answers
    503 and names the stale route."""
    port = free_port()
    flow = Flow.start(tmp_path, overrides={
        "service": {"health_port": port, "stale_after_seconds": 2.0,
                    "grace_seconds": 2.0},
    })
    try:
        SimAdmin(flow.sims.portal.url).post(
            "faults", {"rules": [{"kind": "http502_text", "rate": 1.0}]}
        )
        flow.spawn()
        url = f"http://127.0.0.1:{port}/healthz"
        assert wait_for(lambda: _status(url) == 503, 15)

        report = requests.get(url, timeout=5).json()
        assert report["status"] == "stale"
        assert report["routes"]["poll:portal"]["stale"] is True
        assert report["routes"]["poll:center"]["stale"] is False
    finally:
        flow.close()


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.ConnectionError:
        return 0
