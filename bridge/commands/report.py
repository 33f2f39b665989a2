"""``govbridge report --from --to [--bureau] --out DIR``: the supervision report."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


def _report(args: argparse.Namespace) -> int:
    from bridge.audit.report import figures, load_facts, write_report
    from bridge.config import load_config
    from bridge.interchange.calendar import WorkCalendar
    from bridge.logs import configure
    from bridge.store import open_store

    config = load_config(args.config)
    configure(config.log_file)
    zone = ZoneInfo(config.zone)
    since = datetime.combine(date.fromisoformat(args.since), time(), tzinfo=zone)
    until = datetime.combine(
        date.fromisoformat(args.until) + timedelta(days=1), time(), tzinfo=zone
    )
    store = open_store(config.store, audit=config.audit)
    facts = load_facts(store, since, until, args.bureau)
    store.engine.dispose()

    today = _as_of(args.today, zone)
    calendar = WorkCalendar(clock=today) if today else WorkCalendar()
    rows, statuses = figures(facts, calendar, zone)
    title = f"Supervision report {args.since} to {args.until}"
    if args.bureau:
        title += f", bureau {args.bureau}"
    index = write_report(Path(args.out), rows, statuses, title)
    print(f"report: {len(statuses)} cases, {len(rows)} bureau/matter rows -> {index}")
    return 0


def _as_of(text: str | None, zone: ZoneInfo) -> Any:
    if not text:
        return None
    moment = datetime.combine(date.fromisoformat(text), time(12), tzinfo=zone)
    return lambda: moment


def register(commands: Any) -> None:
    parser = commands.add_parser("report", help="supervision report: HTML and CSV")
    parser.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    parser.add_argument("--from", dest="since", required=True, help="YYYY-MM-DD")
    parser.add_argument(
        "--to", dest="until", required=True, help="YYYY-MM-DD, included"
    )
    parser.add_argument("--bureau", help="one bureau only")
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--today", help="YYYY-MM-DD to measure open cases against")
    parser.set_defaults(func=_report)
