"""``govbridge config check FILE``: every problem in a configuration, by key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _check(args: argparse.Namespace) -> int:
    from bridge.service.checks import check_file

    problems = check_file(Path(args.file))
    for problem in problems:
        print(f"govbridge: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.file}: configuration is valid")
    return 0


def register(commands: Any) -> None:
    config = commands.add_parser("config", help="check a configuration file")
    actions = config.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check", help="name unknown keys, missing secrets and bad values; exit 1"
    )
    check.add_argument("file", help="the TOML configuration file")
    check.set_defaults(func=_check)
