"""``govbridge sim``: run the simulators of the legacy systems."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any


def _sim(args: argparse.Namespace) -> int:
    from bridge.sim.runner import start_all, start_simulator

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.system == "all":
        state = Path(args.state or "var/sim")
        bureaus = _bureau_oas(state)
        ports = {"center": args.port, "oa": args.port + 1, "portal": args.port + 2}
        ports.update({f"oa-{name}": args.port + 3 + index
                      for index, name in enumerate(bureaus)})
        sims = start_all(
            state, ports=ports if args.port else None, bureau_oas=bureaus
        ).all()
    else:
        db = args.db or f"var/sim/{args.system}.sqlite"
        sims = [start_simulator(args.system, db, port=args.port)]
    for sim in sims:
        print(f"{sim.name} simulator listening on {sim.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    for sim in sims:
        sim.stop()
    return 0


def _bureau_oas(state: Path) -> tuple[str, ...]:
    """The further bureaus' OAs (``oa-lyj.sqlite``) a state folder holds."""
    from bridge.sim.oa_profile import PROFILES

    found = (path.stem.removeprefix("oa-") for path in state.glob("oa-*.sqlite"))
    return tuple(sorted(name for name in found if name in PROFILES))


def register(commands: Any) -> None:
    sim = commands.add_parser("sim", help="run the simulators of the legacy systems")
    sim.add_argument("system", choices=["center", "oa", "portal", "all"])
    sim.add_argument("--port", type=int, default=0, help="port (all: first of three)")
    sim.add_argument("--db", help="SQLite state file of one simulator")
    sim.add_argument("--state", help="folder of the state files (with 'all')")
    sim.set_defaults(func=_sim)
