"""Client cost of reading a portal page: zeep's object mapping against lxml.

    .venv/bin/python -m bench.bench_adapters [--records 100] [--pages 30]

Both paths let zeep bind the operation and sign the envelope; the first also
maps the answer to zeep objects (what ``list_filings`` did before), the second
reads it with lxml (what it does now). The simulator runs in this process, so
the CPU figures include its side; the difference is the client's.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
import structlog

from bridge.adapters.portal import PortalAdapter
from bridge.sim.portal import PortalSimulator

SINCE = "2000-01-01 00:00:00"


def _fill(sim: PortalSimulator, records: int) -> None:
    for number in range(records):
        minute, second = divmod(number, 60)
        filing = {
            "changeTime": f"2024-03-05 09:{minute:02d}:{second:02d}",
            "attachments": [{"materialName": "报告", "size": 64}],
        }
        answer = requests.post(f"{sim.url}/admin/filings", json=filing, timeout=5)
        answer.raise_for_status()


def _measure(pages: int, read: Callable[[], object]) -> tuple[float, float]:
    read()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(pages):
        read()
    return (
        (time.perf_counter() - wall) / pages * 1000,
        (time.process_time() - cpu) / pages * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    level = structlog.make_filtering_bound_logger(logging.WARNING)
    structlog.configure(wrapper_class=level)

    folder = Path(tempfile.mkdtemp(prefix="bench-adapters-"))
    sim = PortalSimulator(folder / "portal.sqlite").start()
    try:
        _fill(sim, args.records)
        portal = PortalAdapter(sim.url, "bridge", "bridge-secret")
        arguments = {"since": SINCE, "pageSize": args.records}
        mapped = _measure(
            args.pages, lambda: portal._call("listFilings", None, **arguments)
        )
        native = _measure(
            args.pages, lambda: portal.list_filings(SINCE, None, args.records)
        )
    finally:
        sim.stop()

    print(f"page of {args.records} filings, mean of {args.pages} pages")
    print(f"zeep objects: {mapped[0]:7.1f} ms wall {mapped[1]:7.1f} ms cpu")
    print(f"lxml native:  {native[0]:7.1f} ms wall {native[1]:7.1f} ms cpu")


if __name__ == "__main__":
    main()
