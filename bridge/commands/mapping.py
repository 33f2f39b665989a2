"""``govbridge mapping test|check``: prove a bureau's mapping folder offline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.paths import mappings_dir


def _bureaus(args: argparse.Namespace) -> tuple[Path, list[str]]:
    base = Path(args.mappings) if args.mappings else mappings_dir()
    if args.bureau:
        return base, [args.bureau]
    found = sorted(p.parent.name for p in base.glob("*/*.yaml"))
    return base, sorted(set(found))


def _test(args: argparse.Namespace) -> int:
    from bridge.mapping import load_bureau, run_samples

    base, bureaus = _bureaus(args)
    failed = 0
    for bureau in bureaus:
        try:
            mapping = load_bureau(bureau, base)
        except ConfigError as exc:
            print(f"{bureau}: cannot load: {exc}")
            failed += 1
            continue
        results = run_samples(mapping, base / bureau / "samples")
        if not results:
            print(f"{bureau}: no golden samples in {base / bureau / 'samples'}")
            failed += 1
        for result in results:
            print(f"{bureau}/{result.name}: {'ok' if result.ok else 'FAILED'}")
            if not result.ok:
                print(result.problem)
                failed += 1
    print(f"{failed} failed" if failed else "all samples pass")
    return 1 if failed else 0


def _check(args: argparse.Namespace) -> int:
    from bridge.mapping import check_report

    base, bureaus = _bureaus(args)
    errors = 0
    for bureau in bureaus:
        report = check_report(bureau, base)
        for finding in report.findings:
            print(finding)
        _print_coverage(bureau, report.coverage, verbose=args.verbose)
        errors += len(report.errors)
    print(f"{errors} error(s)" if errors else "mapping check passed")
    return 1 if errors else 0


def _print_coverage(bureau: str, coverage: list[Any], *, verbose: bool) -> None:
    seen: set[tuple[str, int, int]] = set()
    for entry in coverage:
        shape = (entry.system, entry.mapped, entry.total)
        if shape in seen and not verbose:
            continue
        seen.add(shape)
        print(
            f"{bureau} {entry.system}: {entry.label}: native fields mapped"
            f" {entry.mapped}/{entry.total}"
        )
        if verbose and entry.unmapped:
            print("    not mapped: " + ", ".join(entry.unmapped))


def register(commands: Any) -> None:
    mapping = commands.add_parser("mapping", help="test or check the mapping files")
    actions = mapping.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("test", _test, "run the golden samples, with a diff on failure"),
        ("check", _check, "check the mapping against native forms and schemas"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("bureau", nargs="?", help="one bureau (default: all)")
        action.add_argument("--mappings", help="the mappings folder (default: shipped)")
        if name == "check":
            action.add_argument(
                "--verbose", action="store_true", help="list native fields not mapped"
            )
        action.set_defaults(func=func)
