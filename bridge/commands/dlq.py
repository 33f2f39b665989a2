"""``govbridge dlq``: the dead-letter store: list, show, replay."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from bridge.logs import mask_text


def _runtime(args: argparse.Namespace) -> Any:
    from bridge.config import load_config
    from bridge.engine.runtime import build_runtime

    return build_runtime(load_config(args.config))


def _list(args: argparse.Namespace) -> int:
    from bridge.engine.replay import list_letters

    letters = list_letters(_runtime(args), include_replayed=args.all)
    for letter in letters:
        state = "replayed" if letter.replayed_at else "waiting"
        print(
            f"{letter.id:>5}  {letter.created_at:%Y-%m-%d %H:%M:%S}  {state:8}  "
            f"{letter.system:6} {letter.operation:8} {letter.record_key:20} "
            f"{letter.error_class:16} {mask_text(letter.reason)[:80]}"
        )
    print(f"{len(letters)} dead letter(s)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from bridge.engine.replay import get_letter

    letter = get_letter(_runtime(args), args.id)
    for key in (
        "id",
        "created_at",
        "replayed_at",
        "system",
        "operation",
        "record_key",
        "field",
        "error_class",
        "delivery_id",
    ):
        print(f"{key:12} {getattr(letter, key)}")
    print(f"{'reason':12} {mask_text(letter.reason)}")
    print("payload:")
    print(mask_text(letter.payload or ""))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from bridge.engine.replay import replay

    rt = _runtime(args)
    failed = 0
    for letter_id in args.ids:
        result = replay(
            rt,
            letter_id,
            reason=args.reason,
            operator=args.operator,
            dry_run=args.dry_run,
        )
        verb = "would be " + result.action if args.dry_run else result.action
        print(f"dead letter {letter_id}: {verb if result.ok else 'not replayed'}")
        for line in result.lines:
            print(mask_text(line))
        failed += not result.ok
    return 1 if failed else 0


def register(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    dlq = commands.add_parser("dlq", help="list, show and replay dead letters")
    actions = dlq.add_subparsers(dest="action", required=True)

    listing = actions.add_parser(
        "list", parents=[common], help="dead letters waiting for a replay"
    )
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    listing.set_defaults(func=_list)

    show = actions.add_parser(
        "show", parents=[common], help="one dead letter with its payload"
    )
    show.add_argument("id", type=int)
    show.set_defaults(func=_show)

    again = actions.add_parser(
        "replay", parents=[common], help="run dead letters again"
    )
    again.add_argument("ids", type=int, nargs="+")
    again.add_argument("--reason", required=True, help="why (kept in the audit log)")
    again.add_argument("--operator", default=getpass.getuser(), help="who replays")
    again.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent and to whom, change nothing",
    )
    again.set_defaults(func=_replay)
