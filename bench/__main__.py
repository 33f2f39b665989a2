"""``python -m bench``: measure, then rewrite docs/BENCHMARKS.md and the figures."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from bench.plan import PLANS
from bench.report import render
from bench.run import measure

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="about two minutes")
    mode.add_argument("--smoke", action="store_true", help="seconds; for the tests")
    parser.add_argument(
        "--out",
        default=str(ROOT / "docs" / "BENCHMARKS.md"),
        help="the Markdown page to write",
    )
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--work", help="folder for state (default: a temp folder)")
    args = parser.parse_args(argv)
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]

    command = (
        "make bench"
        if plan.name == "full" and argv is None
        else shlex.join(
            ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)]
        )
    )
    if args.work:
        Path(args.work).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govbridge-bench-", dir=args.work) as work:
        figures = measure(plan, Path(work), lambda line: print(line, flush=True))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(render(figures, command), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(
            json.dumps(figures, indent=2, default=str), encoding="utf-8"
        )
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
