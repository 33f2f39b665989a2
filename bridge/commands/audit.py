"""``govbridge audit verify|search|export|checkpoint|purge``: the auditors' tools."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

EXIT_BAD = 1


def _open(args: argparse.Namespace) -> Any:
    from bridge.config import load_config
    from bridge.logs import configure
    from bridge.store import open_store

    config = load_config(args.config)
    configure(config.log_file)
    return config, open_store(config.store, audit=config.audit)


def _verify(args: argparse.Namespace) -> int:
    from bridge.audit.crypto import load_public

    key = load_public(Path(args.public_key)) if args.public_key else None
    if args.export:
        from bridge.audit.export import verify_export

        if key is None:
            print("audit verify: --export needs --public-key")
            return 2
        return _print_report(verify_export(Path(args.export), key), "export")
    return _verify_store(args, key)


def _verify_store(args: argparse.Namespace, key: Any) -> int:
    from bridge.audit.checkpoint import read_checkpoints
    from bridge.audit.crypto import load_public
    from bridge.audit.trail import key_paths
    from bridge.audit.verify import verify_store

    config, store = _open(args)
    if key is None and key_paths(config.audit)[1].exists():
        key = load_public(key_paths(config.audit)[1])
    path = Path(args.checkpoints) if args.checkpoints else store.trail.checkpoint_file
    report = verify_store(store.engine, read_checkpoints(path), key)
    store.engine.dispose()
    return _print_report(report, "store")


def _print_report(report: Any, where: str) -> int:
    if report.problem is not None:
        problem = report.problem
        row = f" (row id {problem.row_id})" if problem.row_id is not None else ""
        print(
            f"audit verify: FAILED ({where}) at entry {problem.seq}{row}: "
            f"{problem.reason}"
        )
        return EXIT_BAD
    print(
        f"audit verify: OK ({where}) entries={report.entries} "
        f"head={report.head} checkpoints={report.checkpoints} "
        f"checkpointed={report.checkpointed} newer_than_checkpoint={report.newer}"
    )
    if report.checkpoints == 0:
        print(
            "audit verify: no signed checkpoint yet; the chain is only self-consistent"
        )
    return 0


def _search(args: argparse.Namespace) -> int:
    from bridge.audit.search import Query, search

    config, store = _open(args)
    zone = ZoneInfo(config.zone)
    query = Query(
        case_number=args.case,
        system=args.system,
        outcome=args.outcome,
        since=_instant(args.since, zone, end=False) if args.since else None,
        until=_instant(args.until, zone, end=True) if args.until else None,
        person=args.person,
        limit=args.limit,
    )
    found = search(store, query, args.auditor or getpass.getuser())
    store.engine.dispose()
    for entry in found:
        print(json.dumps(entry, ensure_ascii=False, default=str))
    return 0


def _export(args: argparse.Namespace) -> int:
    from bridge.audit.export import export

    config, store = _open(args)
    zone = ZoneInfo(config.zone)
    manifest = export(
        store,
        _instant(args.since, zone, end=False),
        _instant(args.until, zone, end=True),
        args.format,
        Path(args.out),
    )
    store.engine.dispose()
    print(
        f"audit export: {manifest['count']} entries "
        f"({manifest['first_seq']}..{manifest['last_seq']}) to {args.out}"
    )
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    _config, store = _open(args)
    record = store.trail.checkpoint(store.engine)
    store.engine.dispose()
    print(f"audit checkpoint: count={record['count'] if record else 'unchanged'}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from bridge.audit.retention import purge_payloads

    _config, store = _open(args)
    removed = purge_payloads(store)
    store.engine.dispose()
    print(f"audit purge: {removed} payloads past their retention removed")
    return 0


def _instant(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date or date-time in the configured zone; a date as ``--to`` ends that day."""
    if len(text) == 10:
        day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
        return datetime.combine(day, time(), tzinfo=zone)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")


def register(commands: Any) -> None:
    audit = commands.add_parser("audit", help="verify, search and export the audit log")
    actions = audit.add_subparsers(dest="action", required=True)

    verify = actions.add_parser("verify", help="check the chain and its checkpoints")
    _common(verify)
    verify.add_argument("--public-key", help="public key file (default: configured)")
    verify.add_argument("--checkpoints", help="checkpoint file (default: configured)")
    verify.add_argument("--export", help="verify this export folder offline")
    verify.set_defaults(func=_verify)

    search = actions.add_parser("search", help="find entries; values shown masked")
    _common(search)
    search.add_argument("--case", help="case number")
    search.add_argument("--system")
    search.add_argument("--outcome")
    search.add_argument("--from", dest="since", help="date or date-time (local)")
    search.add_argument("--to", dest="until", help="date (inclusive) or date-time")
    search.add_argument("--person", help="an ID number or mobile, exact match")
    search.add_argument("--auditor", help="who searches (default: login name)")
    search.add_argument("--limit", type=int, default=1000)
    search.set_defaults(func=_search)

    export = actions.add_parser("export", help="entries with a signed manifest")
    _common(export)
    export.add_argument("--from", dest="since", required=True)
    export.add_argument("--to", dest="until", required=True)
    export.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    export.add_argument("--out", required=True, help="folder to write")
    export.set_defaults(func=_export)

    checkpoint = actions.add_parser("checkpoint", help="sign the chain head now")
    _common(checkpoint)
    checkpoint.set_defaults(func=_checkpoint)

    purge = actions.add_parser("purge", help="drop payloads past their retention")
    _common(purge)
    purge.set_defaults(func=_purge)
