"""The govbridge command: finds its subcommands in ``bridge.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bridge.commands
from bridge.errors import BridgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govbridge",
        description="Bridge between the service center, bureau OAs and the portal.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in sorted(pkgutil.iter_modules(bridge.commands.__path__),
                         key=lambda found: found.name):
        importlib.import_module(f"bridge.commands.{module.name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BridgeError as exc:
        print(f"govbridge: {exc}", file=sys.stderr)
        return 4 if not exc.transient else 3


if __name__ == "__main__":
    sys.exit(main())
