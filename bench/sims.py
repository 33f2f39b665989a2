"""The simulators in their own process, driven through their admin API only."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cpus import SIMS_CPU, on_processor
from bridge.sim.admin import SimAdmin

#: the size of every bulk-filed attachment: the same for the floor (whose
#: capture is bulk-filed too) and the bridge, and small enough that a backlog
#: of 100,000 cases is filed in minutes
ATTACHMENT_BYTES = 4096

LISTENING = re.compile(r"(center|oa|portal) simulator listening on (http://\S+)")


@dataclass
class SimProcess:
    """``govbridge sim all`` as a subprocess, with an admin client per system."""

    process: subprocess.Popen[bytes]
    urls: dict[str, str]
    state_dir: Path
    admins: dict[str, SimAdmin] = field(default_factory=dict)

    def admin(self, system: str) -> SimAdmin:
        if system not in self.admins:
            self.admins[system] = SimAdmin(self.urls[system], timeout=900.0)
        return self.admins[system]

    def pace(self, step_seconds: float) -> None:
        """Set the OA's pace: no refusals, no step-backs, so each case has one path."""
        self.admin("oa").post(
            "pace",
            {
                "step_seconds": step_seconds,
                "refuse_rate": 0.0,
                "stepback_rate": 0.0,
                "seed": 3,
            },
        )

    def latency(self, seconds: float) -> None:
        """Hold every SOAP request ``seconds`` in all three simulators."""
        for system in self.urls:
            self.admin(system).post("latency", {"seconds": seconds})

    def file_bulk(self, online: int, window: int) -> tuple[list[str], list[str]]:
        """File invented filings and window cases in bulk; their keys."""
        filings: list[str] = []
        numbers: list[str] = []
        if online:
            filings = self.admin("portal").post(
                "filings/bulk", {"count": online, "attachment_bytes": ATTACHMENT_BYTES}
            )["filings"]
        if window:
            numbers = self.admin("center").post("cases/bulk", {"count": window})[
                "cases"
            ]
        return filings, numbers

    def reset(self) -> None:
        """Empty all three simulators and restore their defaults."""
        for system in self.urls:
            self.admin(system).post("reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sims(state_dir: Path, timeout: float = 60.0) -> SimProcess:
    """Start the three simulators on free loopback ports in a new process, on
    the simulators' processor (bench/cpus.py)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    out_path = state_dir / "sim-stdout.log"
    # a child starts on the processors of the thread that started it
    with open(out_path, "wb") as out, on_processor(SIMS_CPU):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridge.cli",
                "sim",
                "all",
                "--state",
                str(state_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    urls: dict[str, str] = {}
    while len(urls) < 3:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"simulators did not start; see {out_path}")
        time.sleep(0.1)
        text = out_path.read_text(encoding="utf-8", errors="replace")
        urls = {name: url for name, url in LISTENING.findall(text)}
    return SimProcess(process=process, urls=urls, state_dir=state_dir)


@contextmanager
def running_sims(state_dir: Path) -> Iterator[SimProcess]:
    sims = start_sims(state_dir)
    try:
        yield sims
    finally:
        sims.stop()


class RequestTail:
    """Reads one operation's request log incrementally, by id."""

    def __init__(self, admin: SimAdmin, operation: str) -> None:
        self.admin = admin
        self.operation = operation
        self.last_id = 0

    def new(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.admin.get(
            "requests", operation=self.operation, since_id=self.last_id
        )["requests"]
        if rows:
            self.last_id = int(rows[-1]["id"])
        return rows
