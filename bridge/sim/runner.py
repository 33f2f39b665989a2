"""Start the simulators alone or together, for the CLI, the demo and tests."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.sim.base import Simulator

SIMULATORS = {
    "center": ("bridge.sim.center", "CenterSimulator"),
    "oa": ("bridge.sim.oa", "OaSimulator"),
    "portal": ("bridge.sim.portal", "PortalSimulator"),
}


def simulator_class(name: str) -> type[Simulator]:
    """The simulator class registered under ``name``."""
    module_name, class_name = SIMULATORS[name]
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def start_simulator(name: str, db_path: str | Path, **options: Any) -> Simulator:
    """Create and start one simulator; port 0 picks a free loopback port."""
    return simulator_class(name)(db_path, **options).start()


@dataclass
class SimulatorSet:
    """The three simulators running together on one state folder."""

    center: Simulator
    oa: Simulator
    portal: Simulator
    state_dir: Path

    def urls(self) -> dict[str, str]:
        return {"center": self.center.url, "oa": self.oa.url, "portal": self.portal.url}

    def all(self) -> list[Simulator]:
        return [self.center, self.oa, self.portal]

    def stop(self) -> None:
        for sim in self.all():
            sim.stop()


def start_all(
    state_dir: str | Path, ports: dict[str, int] | None = None, **options: Any
) -> SimulatorSet:
    """Start all three simulators with their SQLite files in ``state_dir``."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    ports = ports or {}
    started = {
        name: start_simulator(
            name, folder / f"{name}.sqlite", port=ports.get(name, 0), **options
        )
        for name in SIMULATORS
    }
    return SimulatorSet(state_dir=folder, **started)
