"""Start the simulators alone or together, for the CLI, the demo and tests."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
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
    bureau_oas: dict[str, Simulator] = field(default_factory=dict)

    def urls(self) -> dict[str, str]:
        urls = {"center": self.center.url, "oa": self.oa.url, "portal": self.portal.url}
        urls.update({sim.name: sim.url for sim in self.bureau_oas.values()})
        return urls

    def all(self) -> list[Simulator]:
        return [self.center, self.oa, self.portal, *self.bureau_oas.values()]

    def stop(self) -> None:
        for sim in self.all():
            sim.stop()


def start_bureau_oa(
    bureau: str, db_path: str | Path, port: int = 0, **options: Any
) -> Simulator:
    """Start an OA simulator with the vendor profile of ``bureau`` (e.g. "lyj")."""
    from bridge.sim.oa_profile import profile_named

    return start_simulator(
        "oa", db_path, port=port, profile=profile_named(bureau), **options
    )


def start_all(
    state_dir: str | Path,
    ports: dict[str, int] | None = None,
    bureau_oas: tuple[str, ...] = (),
    **options: Any,
) -> SimulatorSet:
    """Start all three simulators with their SQLite files in ``state_dir``.

    ``bureau_oas`` names further bureaus whose own OA runs beside the first
    (``("lyj",)`` starts "oa-lyj" on ``oa-lyj.sqlite``, port ``ports["oa-lyj"]``).
    """
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    ports = ports or {}
    started = {
        name: start_simulator(
            name, folder / f"{name}.sqlite", port=ports.get(name, 0), **options
        )
        for name in SIMULATORS
    }
    extra = {
        bureau: start_bureau_oa(
            bureau,
            folder / f"oa-{bureau}.sqlite",
            port=ports.get(f"oa-{bureau}", 0),
            **options,
        )
        for bureau in bureau_oas
    }
    return SimulatorSet(state_dir=folder, bureau_oas=extra, **started)
