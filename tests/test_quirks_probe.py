"""``govbridge probe``: interchange XML on success, exit 3 transient, 4 permanent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sim.center import CenterSimulator
from tests.quirkhelp import admin, fault

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterSimulator]:
    """A private center simulator holding one window case of 王镕."""
    path: Path = tmp_path_factory.mktemp("probe") / "center.sqlite"
    simulator = CenterSimulator(path).start()
    admin(simulator, "POST", "/cases", {"SQRMC": "王镕"})
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration with the simulator's interface account."""
    path = tmp_path_factory.mktemp("probe-config") / "govbridge.toml"
    path.write_text(
        '[center]\nkey = "bridge"\nsecret = "bridge-secret"\n', encoding="utf-8"
    )
    return path


def probe(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVBRIDGE_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "probe", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_probe_prints_interchange_xml(sim: CenterSimulator, config: Path) -> None:
    """Against a healthy center the probe prints the case as interchange XML, exit 0."""
    admin(sim, "DELETE", "/faults")

    done = probe(config, "center", "--url", sim.url)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!-- center case -->\n")
    assert '<case xmlns="urn:govbridge:interchange:1">' in done.stdout
    assert "<name>王镕</name>" in done.stdout
    assert "1 record(s), 0 refused" in done.stderr


def test_probe_maintenance_page_exits_3(sim: CenterSimulator, config: Path) -> None:
    """An HTML maintenance page (case 4) is transient: exit 3 with the status."""
    fault(sim, "http500_html", "queryWindowCases")

    done = probe(config, "center", "--url", sim.url)

    assert done.returncode == 3
    assert "transient UnavailableError" in done.stderr
    assert "http_status=500" in done.stderr
    assert "系统正在维护" in done.stderr


def test_probe_undecodable_answer_exits_4(sim: CenterSimulator, config: Path) -> None:
    """Declared UTF-8 with GBK bytes (case 3) is permanent: exit 4 with the offset."""
    fault(sim, "utf8_declared_gbk_bytes", "queryWindowCases")

    done = probe(config, "center", "--url", sim.url)

    assert done.returncode == 4
    assert "permanent DecodeError" in done.stderr
    assert "byte offset" in done.stderr
    assert "\ufffd" not in done.stderr


def test_probe_usage_errors_exit_2(config: Path) -> None:
    """A missing --url or a malformed --since is a usage error, exit 2."""
    missing = probe(config, "center")
    malformed = probe(config, "center", "--url", "http://127.0.0.1:9", "--since", "x")

    assert missing.returncode == 2
    assert malformed.returncode == 2
    assert "--since" in malformed.stderr
