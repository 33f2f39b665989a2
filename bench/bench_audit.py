"""Audit log benchmark: verify speed (entries/s) and search-by-case latency.

Builds a chained log of N entries (1,000,000 by default) in a SQLite file
(or the PostgreSQL URL given), the chain computed as appends would but
inserted in batches, then times ``verify_store`` over all of it, searches by
case number, and a few thousand real appends.

    .venv/bin/python bench/bench_audit.py [--entries N] [--url URL] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from bridge.audit.chain import GENESIS, entry_hash
from bridge.audit.search import Query, search
from bridge.audit.verify import verify_store
from bridge.store import Store, open_store
from bridge.store.schema import audit_head, audit_log

BATCH = 20_000
CASES = 50_000


def entry(seq: int, start: datetime) -> dict[str, Any]:
    """A plausible entry: one of 50,000 cases, a handful of operations."""
    case = seq % CASES
    return {
        "seq": seq,
        "at": start + timedelta(milliseconds=seq * 10),
        "system": ("center", "oa", "portal")[seq % 3],
        "operation": ("poll", "launch", "step", "finish", "publish")[seq % 5],
        "outcome": "delivered",
        "case_number": f"0999{case:09d}",
        "record_key": f"F{case}",
        "detail": f"result {seq}",
        "payload_digest": f"{seq:064x}",
        "correlation_id": None,
        "duration_ms": seq % 900,
        "hash_alg": "sha256",
    }


def build(store: Store, count: int) -> float:
    """Insert ``count`` chained entries; returns the seconds taken."""
    started = time.perf_counter()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = GENESIS
    for first in range(1, count + 1, BATCH):
        rows = []
        for seq in range(first, min(first + BATCH, count + 1)):
            row = entry(seq, start)
            prev = row["entry_hash"] = entry_hash(prev, row)
            rows.append(row)
        with store.engine.begin() as conn:
            conn.execute(insert(audit_log), rows)
    with store.engine.begin() as conn:
        conn.execute(insert(audit_head).values(id=1, seq=count, head_hash=prev))
        conn.execute(update(audit_head).values(seq=count, head_hash=prev))
    return time.perf_counter() - started


def time_search(store: Store, count: int, rounds: int = 50) -> list[float]:
    """Milliseconds of each search by case number (the search is logged too)."""
    taken = []
    for index in range(rounds):
        number = f"0999{(index * 977) % (min(CASES, count) - 1) + 1:09d}"
        started = time.perf_counter()
        found = search(store, Query(case_number=number), "bench")
        taken.append((time.perf_counter() - started) * 1000)
        assert found, number
    return taken


def time_appends(store: Store, count: int = 2000) -> float:
    """Appends per second through Store.audit, one transaction each."""
    started = time.perf_counter()
    for index in range(count):
        with store.begin() as conn:
            store.audit(
                conn,
                system="oa",
                operation="launch",
                outcome="delivered",
                case_number=f"B{index}",
            )
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    url = args.url or f"sqlite:///{folder / 'audit.sqlite'}"
    store = open_store(url)
    print(f"building {args.entries:,} entries in {url}", flush=True)
    print(f"built in {build(store, args.entries):.1f} s", flush=True)

    started = time.perf_counter()
    report = verify_store(store.engine, [], None)
    seconds = time.perf_counter() - started
    assert report.ok and report.entries == args.entries, report.problem
    print(
        f"verify: {report.entries:,} entries in {seconds:.1f} s = "
        f"{report.entries / seconds:,.0f} entries/s"
    )

    taken = time_search(store, args.entries)
    print(
        f"search by case: median {statistics.median(taken):.2f} ms, "
        f"max {max(taken):.2f} ms over {len(taken)} searches"
    )
    print(f"append: {time_appends(store):,.0f} entries/s (one transaction each)")
    store.engine.dispose()
    if not args.keep and not args.url:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
