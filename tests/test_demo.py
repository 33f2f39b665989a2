"""``govbridge demo`` and ``govbridge sim``, run as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from bridge.sim.admin import SimAdmin
from tests.conftest import DemoRun

ROW = re.compile(r"^(online WS\d+|window)\s+(\d{13})\s+(\S+)\s+(\d{9})\s+办结 (\S+)")


def _start_cli_sim(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "sim", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    urls: dict[str, str] = {}
    expected = 3 if args[0] == "all" else 1
    assert process.stdout is not None
    while len(urls) < expected:
        line = process.stdout.readline()
        assert line, "simulator exited before listening"
        name, _, url = line.partition(" simulator listening on ")
        urls[name] = url.strip()
    return process, urls


def test_demo_prints_every_case_completed_in_all_three(demo_run: DemoRun) -> None:
    """The demo exits 0 and prints, per case, the same result at the center,
    the OA and the portal, and where its state lives."""
    rows = [ROW.match(line) for line in demo_run.stdout.splitlines()]
    found = [row for row in rows if row]

    assert demo_run.returncode == 0, demo_run.stdout
    assert len(found) == 8
    assert sum(row.group(1).startswith("online") for row in found) == 4
    for line in demo_run.stdout.splitlines():
        if ROW.match(line):
            result = ROW.match(line).group(5)  # type: ignore[union-attr]
            assert line.count(result) >= 3, line
    assert "8 of 8 cases completed" in demo_run.stdout
    assert str(demo_run.state_dir / "govbridge.sqlite") in demo_run.stdout
    assert (demo_run.state_dir / "logs" / "govbridge.log").is_file()


def test_sim_all_restarts_on_the_demo_state(demo_run: DemoRun) -> None:
    """``govbridge sim all --state DIR`` serves again what the demo left."""
    process, urls = _start_cli_sim("all", "--state", str(demo_run.state_dir / "sim"))
    try:
        center = SimAdmin(urls["center"]).state()
        flows = SimAdmin(urls["oa"]).state()["flows"]
        publications = SimAdmin(urls["portal"]).state()["publications"]
    finally:
        process.terminate()
        process.wait(10)

    assert len(center["cases"]) == 8
    assert all(case["completion"] for case in center["cases"])
    assert len(flows) == 8
    assert len(publications) == 8


def test_one_simulator_starts_alone_on_its_port_and_file(tmp_path: Path) -> None:
    """``govbridge sim center --port N --db PATH`` listens there and keeps its
    state in that file."""
    db = tmp_path / "center.sqlite"
    process, urls = _start_cli_sim("center", "--port", "0", "--db", str(db))
    try:
        admin = SimAdmin(urls["center"])
        number = admin.post("cases")["SBLSH_SHORT"]
        health = admin.get("health")
    finally:
        process.terminate()
        process.wait(10)
    time.sleep(0.1)

    assert health["system"] == "center"
    assert db.is_file()
    assert len(number) == 13
