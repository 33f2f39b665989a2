"""``govbridge reconcile --day DATE``: compare the three systems for one day."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


def _reconcile(args: argparse.Namespace) -> int:
    from bridge.audit.reconcile import reconcile
    from bridge.config import load_config
    from bridge.engine.runtime import build_runtime
    from bridge.logs import configure

    config = load_config(args.config)
    configure(config.log_file)
    day = (
        date.fromisoformat(args.day)
        if args.day
        else datetime.now(ZoneInfo(config.zone)).date()
    )
    rt = build_runtime(config)
    try:
        result = reconcile(rt, day)
    finally:
        rt.store.engine.dispose()

    print(
        f"reconcile {day}: {len(result.holdings)} cases, "
        f"{len(result.discrepancies)} discrepancies"
    )
    for bureau, counts in sorted(result.counts().items()):
        shown = " ".join(f"{name}={value}" for name, value in counts.items())
        print(f"reconcile {day} bureau={bureau} {shown}")
    for problem in result.discrepancies:
        print(
            f"DISCREPANCY bureau={problem.bureau} case={problem.case_number} "
            f"system={problem.system} {problem.kind}: {problem.detail}"
        )
    if args.out:
        _write(Path(args.out), result)
    return 1 if result.discrepancies else 0


def _write(path: Path, result: Any) -> None:
    body = {
        "day": result.day.isoformat(),
        "counts": result.counts(),
        "cases": [asdict(held) for held in result.holdings],
        "discrepancies": [asdict(problem) for problem in result.discrepancies],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "reconcile", help="compare center, OA and portal for one day; 1 on mismatch"
    )
    parser.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    parser.add_argument(
        "--day", help="YYYY-MM-DD in the configured zone (default today)"
    )
    parser.add_argument("--out", help="also write the result as JSON to this file")
    parser.set_defaults(func=_reconcile)
