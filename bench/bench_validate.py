"""Validation benchmark: records/s of lxml against xmlschema on the interchange XSDs.

Validates the valid examples of schemas/examples (every message type) in a
loop, first on trees parsed once, then parsing each record from its bytes,
and prints records per second for both libraries and their ratio. The
bridge validates with lxml on the hot path and asks xmlschema only for the
detailed error of a record that failed.

    .venv/bin/python bench/bench_validate.py [--seconds S]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import xmlschema
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
XSD = ROOT / "schemas" / "interchange" / "1" / "envelope.xsd"
EXAMPLES = ROOT / "schemas" / "examples" / "valid"


def rate(work: Callable[[bytes, etree._Element], object], seconds: float) -> float:
    """Records per second that ``work`` validates within about ``seconds``."""
    records = [(p.read_bytes(), etree.parse(str(p)).getroot()) for p in _examples()]
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for raw, tree in records:
            work(raw, tree)
        done += len(records)
    return done / (time.perf_counter() - start)


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.xml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args(argv)

    fast = etree.XMLSchema(etree.parse(str(XSD)))
    detailed = xmlschema.XMLSchema(str(XSD))
    cases = {
        "lxml, parsed tree": lambda raw, tree: fast.validate(tree),
        "xmlschema, parsed tree": lambda raw, tree: detailed.is_valid(tree),
        "lxml, parse + validate": lambda raw, tree: fast.validate(
            etree.fromstring(raw)
        ),
        "xmlschema, parse + validate": lambda raw, tree: detailed.is_valid(
            etree.fromstring(raw)
        ),
    }

    rates = {name: rate(work, args.seconds) for name, work in cases.items()}
    print(f"{len(_examples())} example records, {args.seconds:g} s per measurement")
    for name, value in rates.items():
        print(f"{name:30} {value:12,.0f} records/s")
    for mode in ("parsed tree", "parse + validate"):
        ratio = rates[f"lxml, {mode}"] / rates[f"xmlschema, {mode}"]
        print(f"lxml / xmlschema, {mode:18} {ratio:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
