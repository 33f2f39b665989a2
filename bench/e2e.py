"""govbridge end to end on a backlog: records/s, and peak RSS of the bridge alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cpus import SIMS_CPU, on_processor
from bench.setup import bridge_config
from bench.sims import RequestTail, SimProcess
from bench.stats import cpu_seconds

#: the writes that mark a case carried through to its result in every system
FINAL_WRITES = (("portal", "publishResult"), ("center", "receiveBusinessFinish"))
TAKEN = ("done", "already")
#: the event the bridge logs once its jobs are scheduled
STARTED = b'"bridge.started"'
#: request-log outcomes of writes that took effect
EFFECTIVE = re.compile(r"^(done|already|launched:.*|uploaded:.*)$")


@dataclass
class BacklogRun:
    """One bridge run over a backlog filed before it started.

    A run stopped at its time cap counts its progress in case equivalents: the
    writes that took effect in the targets over the writes one case needs.
    """

    cases: int
    finished: int
    seconds: float
    peak_rss_mb: float
    equivalents: float
    error: str = ""  # why the bridge stopped by itself, when it did
    bridge_cpu: float = 0.0  # CPU seconds of the bridge process while timed
    sims_cpu: float = 0.0  # CPU seconds of the simulators' process meanwhile

    @property
    def complete(self) -> bool:
        return self.finished >= self.cases

    @property
    def rate(self) -> float:
        return self.equivalents / self.seconds if self.seconds else 0.0

    def cpu_ms_per_case(self) -> tuple[float, float]:
        """CPU milliseconds per case (equivalent): (the bridge, the simulators)."""
        if not self.equivalents:
            return 0.0, 0.0
        per_case = 1000 / self.equivalents
        return self.bridge_cpu * per_case, self.sims_cpu * per_case


def spawn_bridge(config: Path, root: Path) -> subprocess.Popen[bytes]:
    """``govbridge run --config`` as a subprocess of its own."""
    env = {k: v for k, v in os.environ.items() if k != "GOVBRIDGE_CRASH_AT"}
    with open(root / "bridge-stderr.log", "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop_bridge(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` s: its store is thrown away anyway."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BridgeExited(RuntimeError):
    """The bridge process ended by itself; carries the end of its stderr."""

    def __init__(self, process: subprocess.Popen[bytes], root: Path) -> None:
        stderr = root / "bridge-stderr.log"
        tail = stderr.read_text(errors="replace").strip().splitlines()[-3:]
        super().__init__(f"bridge exited with {process.returncode}: {' / '.join(tail)}")


def wait_started(
    process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0
) -> float:
    """When the bridge logged that it started (or, failing that, the timeout)."""
    spawned = time.monotonic()
    while time.monotonic() - spawned < timeout:
        if process.poll() is not None:
            raise BridgeExited(process, log.parent)
        if log.exists() and STARTED in log.read_bytes():
            return time.monotonic()
        time.sleep(0.05)
    return spawned


class Finished:
    """Counts cases whose final writes reached both targets."""

    def __init__(self, sims: SimProcess) -> None:
        self.tails = [RequestTail(sims.admin(s), op) for s, op in FINAL_WRITES]
        self.keys: list[set[str]] = [set() for _ in FINAL_WRITES]

    def count(self) -> int:
        for tail, keys in zip(self.tails, self.keys, strict=True):
            keys.update(
                str(row["key"]) for row in tail.new() if row["outcome"] in TAKEN
            )
        return len(self.keys[0] & self.keys[1])


def effective_writes(sims: SimProcess) -> int:
    """Writes that took effect in the three targets, from their request logs."""
    return sum(
        1
        for system in sims.urls
        for row in sims.admin(system).requests()
        if EFFECTIVE.match(str(row["outcome"]))
    )


def run_backlog(
    sims: SimProcess,
    root: Path,
    backlog: tuple[int, int],
    timeout: float,
    writes_per_case: float,
) -> BacklogRun:
    """File the backlog, start the bridge, wait until every case is through.

    ``backlog`` is (online filings, window cases); the run stops at ``timeout``
    seconds whether or not every case is through.
    """
    online, window = backlog
    sims.file_bulk(online, window)
    total = online + window
    config = bridge_config(root, sims.urls)
    finished = Finished(sims)
    process = spawn_bridge(config, root)
    done = 0
    try:
        started = wait_started(process, root / "govbridge.log")
        cpu_before = cpu_seconds(process.pid), cpu_seconds(sims.process.pid)
        # watching is not the bridge's work: it runs beside the simulators,
        # whose request logs it reads, and leaves the bridge its processor
        with on_processor(SIMS_CPU):
            while done < total and time.monotonic() - started < timeout:
                if process.poll() is not None:
                    raise BridgeExited(process, root)
                time.sleep(0.2)
                done = finished.count()
        seconds = time.monotonic() - started
        peak = peak_rss_mb(process.pid)
        bridge_cpu = cpu_seconds(process.pid) - cpu_before[0]
        sims_cpu = cpu_seconds(sims.process.pid) - cpu_before[1]
    finally:
        stop_bridge(process)
    equivalents = float(done)
    if done < total:
        equivalents = effective_writes(sims) / writes_per_case
    return BacklogRun(
        cases=total,
        finished=done,
        seconds=seconds,
        peak_rss_mb=peak,
        equivalents=equivalents,
        bridge_cpu=bridge_cpu,
        sims_cpu=sims_cpu,
    )
