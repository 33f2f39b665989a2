"""``govbridge db upgrade`` and ``govbridge db current``: the store's schema."""

from __future__ import annotations

import argparse
from typing import Any


def _url(args: argparse.Namespace) -> str:
    from bridge.config import load_config

    return str(args.url or load_config(args.config).store)


def _upgrade(args: argparse.Namespace) -> int:
    from bridge.store import open_store
    from bridge.store.migrate import head, upgrade

    store = open_store(_url(args), create=False)
    try:
        before = upgrade(store.engine)
    finally:
        store.dispose()
    print(f"schema: {before} -> {head()}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from bridge.store import open_store
    from bridge.store.migrate import current, head

    store = open_store(_url(args), create=False)
    try:
        with store.engine.connect() as conn:
            found = current(conn)
    finally:
        store.dispose()
    print(f"schema: {found or 'none'} (newest: {head()})")
    return 0 if found == head() else 1


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="the store's schema migrations")
    actions = db.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("upgrade", _upgrade, "migrate the store to the newest schema"),
        ("current", _current, "print the store's revision; exit 1 when behind"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
        action.add_argument("--url", help="a SQLAlchemy URL instead of the config's")
        action.set_defaults(func=func)
