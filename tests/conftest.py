"""Shared fixtures: one simulator set per test session, on loopback ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.sim.runner import SimulatorSet, start_all


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorSet]:
    """The three simulators, shared by the whole session.

    Tests that use them create their own cases with unique keys and never
    assume an empty state; a test that needs one resets it through the admin API.
    """
    state: Path = tmp_path_factory.mktemp("sim-state")
    simulators = start_all(state)
    yield simulators
    simulators.stop()


@dataclass
class DemoRun:
    """The output and state folder of one ``govbridge demo`` run."""

    returncode: int
    stdout: str
    state_dir: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One ``govbridge demo`` subprocess per session, shared by the tests."""
    root = tmp_path_factory.mktemp("demo")
    finished = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "demo", "--state", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    state_dirs = sorted(root.glob("demo-*"))
    return DemoRun(finished.returncode, finished.stdout, state_dirs[-1])
