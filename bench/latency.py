"""Latency from a change in a source to its arrival in a target, under steady load.

Paged sources: a filing at the portal until the center registers it, a window
case at the center until the OA launches its flow. The OA sweep: a flow step
the harness makes (the OA's own pace is stopped) until the center records it.
Arrivals are read from the simulators' request logs every ``TICK`` seconds, so
each figure may be late by up to one tick.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e import spawn_bridge, stop_bridge
from bench.setup import bridge_config
from bench.sims import RequestTail, SimProcess

TICK = 0.05
STEP_SERIAL = re.compile(r"<SPHJXH>(\d+)</SPHJXH>")
STEPS_PER_FLOW = 3  # the fourth would finish the flow


@dataclass
class LatencyRun:
    """Seconds from change to arrival, per kind of source."""

    paged: list[float] = field(default_factory=list)
    sweep: list[float] = field(default_factory=list)
    pending: int = 0


@dataclass
class _Flow:
    flow_id: str
    steps: int = 0
    waiting_since: float | None = None  # monotonic time of the unseen step
    ready_at: float = 0.0


class _Probe:
    """Files cases, steps flows and matches arrivals, one tick at a time."""

    def __init__(self, sims: SimProcess, rate: float) -> None:
        self.sims = sims
        self.interval = 1.0 / rate
        self.next_filing = time.monotonic()
        self.online_next = True
        self.filed: dict[str, float] = {}
        self.flows: dict[str, _Flow] = {}
        self.run = LatencyRun()
        self.registered = RequestTail(sims.admin("center"), "registerOnlineCase")
        self.launched = RequestTail(sims.admin("oa"), "launchFormCollaboration")
        self.stepped = RequestTail(sims.admin("center"), "receiveCourseInfo")

    def file_due(self, now: float) -> None:
        while self.next_filing <= now:
            online, window = (1, 0) if self.online_next else (0, 1)
            filings, numbers = self.sims.file_bulk(online, window)
            for key in filings + numbers:
                self.filed[key] = time.monotonic()
            self.online_next = not self.online_next
            self.next_filing += self.interval

    def read_arrivals(self) -> None:
        now = time.monotonic()
        for row in self.registered.new():
            self._arrived(str(row["key"]), now)
        for row in self.launched.new():
            outcome = str(row["outcome"])
            key = str(row["key"])
            self._arrived(key, now)
            if outcome.startswith("launched:") and key not in self.flows:
                self.flows[key] = _Flow(outcome.split(":", 1)[1], ready_at=now + 0.5)
        for row in self.stepped.new():
            flow = self.flows.get(str(row["key"]))
            serial = STEP_SERIAL.search(str(row["body"] or ""))
            if (
                flow
                and serial
                and flow.waiting_since is not None
                and int(serial.group(1)) == flow.steps
            ):
                self.run.sweep.append(now - flow.waiting_since)
                flow.waiting_since = None
                flow.ready_at = now + 0.3

    def _arrived(self, key: str, now: float) -> None:
        filed = self.filed.pop(key, None)
        if filed is not None:
            self.run.paged.append(now - filed)

    def step_flows(self, now: float) -> None:
        for flow in self.flows.values():
            if (
                flow.waiting_since is None
                and flow.steps < STEPS_PER_FLOW
                and now >= flow.ready_at
            ):
                self.sims.admin("oa").post(f"flows/{flow.flow_id}/advance")
                flow.steps += 1
                flow.waiting_since = time.monotonic()

    def pending(self) -> int:
        waiting = sum(f.waiting_since is not None for f in self.flows.values())
        return len(self.filed) + waiting


def run_latency(
    sims: SimProcess, root: Path, seconds: float, rate: float, drain: float = 10.0
) -> LatencyRun:
    """Steady load of ``rate`` cases/s for ``seconds``; the latencies seen."""
    sims.pace(3600.0)
    process = spawn_bridge(bridge_config(root, sims.urls), root)
    probe = _Probe(sims, rate)
    try:
        _warm_up(probe)
        probe.run = LatencyRun()
        probe.next_filing = time.monotonic()
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            probe.file_due(time.monotonic())
            probe.read_arrivals()
            probe.step_flows(time.monotonic())
            time.sleep(TICK)
        drained = time.monotonic() + drain
        while probe.pending() and time.monotonic() < drained:
            probe.read_arrivals()
            time.sleep(TICK)
        probe.run.pending = probe.pending()
    finally:
        stop_bridge(process)
    return probe.run


def _warm_up(probe: _Probe, timeout: float = 60.0) -> None:
    """One case of each route through, so the bridge is up before timing starts."""
    probe.next_filing = time.monotonic()
    probe.file_due(time.monotonic() + probe.interval)
    deadline = time.monotonic() + timeout
    while probe.filed and time.monotonic() < deadline:
        probe.read_arrivals()
        time.sleep(TICK)
    if probe.filed:
        raise RuntimeError("latency: the bridge did not take the warm-up cases")
