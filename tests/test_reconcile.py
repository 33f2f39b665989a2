"""Reconciliation against the simulators restarted on the demo's final state."""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.audit.reconcile import Holding, compare
from bridge.sim.admin import SimAdmin
from tests.conftest import DemoRun


def free_first_port() -> int:
    """A port with the three after it free too, for `govbridge sim all --port`."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first < 65000 and all(_free(first + n) for n in (1, 2, 3)):
            return first
    raise RuntimeError("no four free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def restarted(
    demo_run: DemoRun, tmp_path: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the demo's state, its simulators restarted on new ports and a
    configuration pointed at them."""
    assert demo_run.returncode == 0, demo_run.stdout
    state = tmp_path / "state"
    shutil.copytree(demo_run.state_dir, state)
    first = free_first_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "sim",
            "all",
            "--state",
            str(state / "sim"),
            "--port",
            str(first),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    urls = {
        name: f"http://127.0.0.1:{first + n}"
        for n, name in enumerate(("center", "oa", "portal", "bureaus.lyj.oa"))
    }
    for _ in range(4):  # the forestry OA too (sim all: the fourth port)
        assert process.stdout is not None and "listening" in process.stdout.readline()
    config = state / "govbridge.toml"
    text = config.read_text(encoding="utf-8")
    for name, url in urls.items():
        text = re.sub(rf'(\[{re.escape(name)}\]\nurl = )"[^"]*"', rf'\1"{url}"', text)
    config.write_text(text, encoding="utf-8")
    yield config, urls
    process.terminate()
    process.wait(10)


def run_reconcile(config: Path, day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "reconcile",
            "--config",
            str(config),
            "--day",
            day,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def demo_day_and_flow(config: Path) -> tuple[str, str, int]:
    """The demo's day in Asia/Shanghai, and one case number with its flow id."""
    with sqlite3.connect(config.parent / "govbridge.sqlite") as db:
        created, number, flow = db.execute(
            "SELECT created_at, case_number, flow_id FROM cases "
            "WHERE channel = 'window' AND bureau = 'hbj' ORDER BY id LIMIT 1"
        ).fetchone()
    moment = datetime.fromisoformat(created).replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat(), number, flow


def test_reconcile_agrees_then_names_a_deleted_flow(
    restarted: tuple[Path, dict[str, str]],
) -> None:
    """On the demo's final state reconcile exits 0; after the OA loses one case's
    flow it exits 1 and names that case."""
    config, urls = restarted
    day, number, flow_id = demo_day_and_flow(config)

    agreed = run_reconcile(config, day)
    SimAdmin(urls["oa"]).delete(f"flows/{flow_id}")
    time.sleep(0.1)
    missing = run_reconcile(config, day)

    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert "0 discrepancies" in agreed.stdout
    assert "center_completed=8" in agreed.stdout
    assert missing.returncode == 1
    problems = [
        line for line in missing.stdout.splitlines() if line.startswith("DISCREPANCY")
    ]
    expected = (
        f"DISCREPANCY bureau=hbj case={number} system=oa missing: "
        "no OA flow for an accepted case"
    )
    assert problems == [expected]


def test_a_day_without_cases_agrees(restarted: tuple[Path, dict[str, str]]) -> None:
    """A day long before the demo holds no cases and no discrepancy."""
    config, _urls = restarted

    result = run_reconcile(config, "2004-10-18")

    assert result.returncode == 0
    assert "0 cases, 0 discrepancies" in result.stdout


def test_state_behind_is_named() -> None:
    """A flow finished at the OA but only accepted at the center is the center behind,
    and the unpublished result is the portal missing."""
    held = Holding(
        "hbj",
        "0999260000009",
        "window",
        center="accepted",
        oa="finished",
        portal="missing",
    )

    found = compare(held)

    assert [(d.system, d.kind) for d in found] == [
        ("center", "behind"),
        ("portal", "missing"),
    ]
