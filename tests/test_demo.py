"""``govbridge demo`` and ``govbridge sim``, run as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from bridge.sim.admin import SimAdmin
from tests.conftest import DemoRun

ROW = re.compile(
    r"^(online WS\d+|window(?: lyj)?)\s+(\d{13})\s+(\S+)\s+(\d{9})\s+办结 (\S+)"
)


def _start_cli_sim(
    *args: str, expected: int = 1
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "sim", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    urls: dict[str, str] = {}
    assert process.stdout is not None
    while len(urls) < expected:
        line = process.stdout.readline()
        assert line, "simulator exited before listening"
        name, _, url = line.partition(" simulator listening on ")
        urls[name] = url.strip()
    return process, urls


def test_demo_prints_every_case_completed_in_all_three(demo_run: DemoRun) -> None:
    """The demo exits 0 and prints, per case, the same result at the center,
    the OA and the portal (forestry cases: center and forestry OA, forestry
    matters), and where its state lives."""
    rows = [ROW.match(line) for line in demo_run.stdout.splitlines()]
    found = [row for row in rows if row]
    forestry = [row for row in found if row.group(1) == "window lyj"]

    assert demo_run.returncode == 0, demo_run.stdout
    assert len(found) == 10
    assert sum(row.group(1).startswith("online") for row in found) == 4
    assert len(forestry) == 2
    assert all(row.group(4) in ("370999101", "370999102", "370999103")
               for row in forestry)
    for row in found:
        seen = 2 if row in forestry else 3
        assert row.string.count(row.group(5)) >= seen, row.string
    assert "10 of 10 cases completed" in demo_run.stdout
    assert str(demo_run.state_dir / "govbridge.sqlite") in demo_run.stdout
    assert (demo_run.state_dir / "logs" / "govbridge.log").is_file()


def test_sim_all_restarts_on_the_demo_state(demo_run: DemoRun) -> None:
    """``govbridge sim all --state DIR`` serves again what the demo left."""
    state = str(demo_run.state_dir / "sim")
    process, urls = _start_cli_sim("all", "--state", state, expected=4)
    try:
        center = SimAdmin(urls["center"]).state()
        flows = SimAdmin(urls["oa"]).state()["flows"]
        forestry_flows = SimAdmin(urls["oa-lyj"]).state()["flows"]
        publications = SimAdmin(urls["portal"]).state()["publications"]
    finally:
        process.terminate()
        process.wait(10)

    assert len(center["cases"]) == 10
    assert all(case["completion"] for case in center["cases"])
    assert len(flows) == 8
    assert len(forestry_flows) == 2
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
