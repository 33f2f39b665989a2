"""Shared fixtures: one simulator set per test session, on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
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
