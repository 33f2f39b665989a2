"""The govbridge command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path


def _sim(args: argparse.Namespace) -> int:
    from bridge.sim.runner import start_all, start_simulator

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.system == "all":
        state = Path(args.state or "var/sim")
        ports = {"center": args.port, "oa": args.port + 1, "portal": args.port + 2}
        sims = start_all(state, ports=ports if args.port else None).all()
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


def _demo(args: argparse.Namespace) -> int:
    from bridge.service.demo import run_demo

    return run_demo(Path(args.state), online=args.online, window=args.window)


def _run(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.engine.bridge import Bridge
    from bridge.logs import configure

    config = load_config(args.config)
    configure(config.log_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Bridge(config).run(stop)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govbridge",
        description="Bridge between the service center, bureau OAs and the portal.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("sim", help="run the simulators of the legacy systems")
    sim.add_argument("system", choices=["center", "oa", "portal", "all"])
    sim.add_argument("--port", type=int, default=0, help="port (all: first of three)")
    sim.add_argument("--db", help="SQLite state file of one simulator")
    sim.add_argument("--state", help="folder of the state files (with 'all')")
    sim.set_defaults(func=_sim)

    demo = commands.add_parser("demo", help="run the main job against the simulators")
    demo.add_argument("--state", default="var", help="folder for the demo's state")
    demo.add_argument("--online", type=int, default=4, help="online filings to file")
    demo.add_argument("--window", type=int, default=4, help="window cases to file")
    demo.set_defaults(func=_demo)

    run = commands.add_parser("run", help="run the bridge until SIGTERM")
    run.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
