"""``govbridge demo`` and ``govbridge run``: the main job."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _demo(args: argparse.Namespace) -> int:
    from bridge.service.demo import run_demo

    return run_demo(Path(args.state), online=args.online, window=args.window,
                    forestry=args.forestry)


def _run(args: argparse.Namespace) -> int:
    from bridge.service.daemon import run_daemon

    return run_daemon(args.config)


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run the main job against the simulators")
    demo.add_argument("--state", default="var", help="folder for the demo's state")
    demo.add_argument("--online", type=int, default=4, help="online filings to file")
    demo.add_argument("--window", type=int, default=4, help="window cases to file")
    demo.add_argument("--forestry", type=int, default=2,
                      help="forestry (lyj) window cases to file")
    demo.set_defaults(func=_demo)

    run = commands.add_parser("run", help="run the bridge until SIGTERM")
    run.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    run.set_defaults(func=_run)
