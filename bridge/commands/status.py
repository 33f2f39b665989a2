"""``govbridge status``: per route the watermark, backlog, last success and
dead letters; ``--follow`` draws a progress bar until a catch-up is done."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bridge.store.schema import dead_letters, deliveries, leases, watermarks

#: route -> (lease, watermark source, target of its deliveries)
ROUTES = {
    "portal": ("poll:portal", "portal", "center"),
    "center": ("poll:center", "center", "oa"),
    "oa": ("sweep:oa", None, "portal"),
}
BAR_WIDTH = 30


def read_status(store: Any) -> dict[str, Any]:
    """Everything ``status`` shows, read in one transaction."""
    with store.begin() as conn:
        marks = {row.source: row for row in conn.execute(select(watermarks))}
        held = {row.name: row for row in conn.execute(select(leases))}
        open_by_target = dict(conn.execute(
            select(deliveries.c.target, func.count())
            .where(deliveries.c.status.in_(("pending", "inflight")))
            .group_by(deliveries.c.target)
        ).all())
        done = conn.execute(
            select(func.count()).where(deliveries.c.status == "done")
        ).scalar_one()
        dead = dict(conn.execute(
            select(dead_letters.c.system, func.count())
            .where(dead_letters.c.replayed_at.is_(None))
            .group_by(dead_letters.c.system)
        ).all())
    routes = {}
    for route, (lease, source, target) in ROUTES.items():
        mark = marks.get(source) if source else None
        row = held.get(lease)
        routes[route] = {
            "watermark": f"{mark.cursor_time} {mark.cursor_key}" if mark else "-",
            "backlog": open_by_target.get(target, 0),
            "last_success": row.last_success_at if row is not None else None,
            "holder": row.holder if row is not None else "-",
            "dead_letters": dead.get(route, 0),
        }
    return {"routes": routes, "open": sum(open_by_target.values()), "done": done}


def render(status: dict[str, Any], now: datetime) -> str:
    """The status table as text."""
    header = (f"{'route':8} {'watermark':34} {'backlog':>7} {'last success':>13} "
              f"{'dead':>5}  holder")
    lines = [header]
    for route, row in status["routes"].items():
        last = row["last_success"]
        age = f"{_age(now, last):.0f}s ago" if last else "never"
        lines.append(f"{route:8} {row['watermark']:34} {row['backlog']:>7} "
                     f"{age:>13} {row['dead_letters']:>5}  {row['holder']}")
    lines.append(f"deliveries: {status['done']} done, {status['open']} open")
    return "\n".join(lines)


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar: ``[#####.....]  50% 5/10``."""
    share = done / total if total else 1.0
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} {done}/{total}"


def _age(now: datetime, then: datetime) -> float:
    aware = then if then.tzinfo is not None else then.replace(tzinfo=UTC)
    return (now - aware).total_seconds()


def _follow(store: Any, interval: float) -> None:
    """Redraw a bar of the deliveries done since the start until none is open."""
    first = read_status(store)
    start_done = first["done"]
    while True:
        status = read_status(store)
        done = status["done"] - start_done
        line = bar(done, done + status["open"])
        sys.stderr.write(f"\r{line}" if sys.stderr.isatty() else f"{line}\n")
        sys.stderr.flush()
        if status["open"] == 0:
            break
        time.sleep(interval)
    sys.stderr.write("\n" if sys.stderr.isatty() else "")


def _status(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.store import open_store

    config = load_config(args.config)
    store = open_store(config.store)
    try:
        print(render(read_status(store), datetime.now(UTC)))
        if args.follow:
            _follow(store, args.interval)
    finally:
        store.dispose()
    return 0


def register(commands: Any) -> None:
    status = commands.add_parser("status", help="per route: watermark, backlog, "
                                 "last success, dead letters")
    status.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    status.add_argument("--follow", action="store_true",
                        help="draw a progress bar until no delivery is open")
    status.add_argument("--interval", type=float, default=1.0,
                        help="seconds between redraws with --follow")
    status.set_defaults(func=_status)
