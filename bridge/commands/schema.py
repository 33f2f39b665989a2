"""``govbridge schema``: check documents against the standard, write its reference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lxml import etree


def _validate(args: argparse.Namespace) -> int:
    from bridge.interchange import Interchange

    interchange = Interchange(Path(args.schemas) if args.schemas else None)
    invalid = 0
    for name in args.files:
        reports = _check_file(interchange, Path(name))
        for line in reports:
            print(line)
        invalid += bool(reports)

    total = len(args.files)
    print(f"{total - invalid} of {total} valid", file=sys.stderr)
    return 1 if invalid else 0


def _check_file(interchange: Any, path: Path) -> list[str]:
    """One line per error in ``path``: file:line: xpath: found and expected."""
    from bridge.errors import ValidationError

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.parse(str(path), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        line = getattr(exc, "lineno", 0) or 0
        return [f"{path}:{line}: /: not well-formed XML: {exc}"]

    root = tree.getroot()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        return [f"{path}:1: /: found a DOCTYPE, expected none (entities are refused)"]

    try:
        problems = interchange.problems(root)
    except ValidationError as exc:
        return [f"{path}:{root.sourceline}: {exc.field}: {exc.message}"]
    return [f"{path}:{p.line or 0}: {p.path}: {p.message}" for p in problems]


def _docs(args: argparse.Namespace) -> int:
    from bridge.interchange import Interchange
    from bridge.interchange.docs import render

    interchange = Interchange(Path(args.schemas) if args.schemas else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    page = out / "index.html"
    title = "城市政务数据交换标准 · City interchange standard, version 1"
    page.write_text(render(interchange.directory, title), encoding="utf-8")
    print(page)
    return 0


def register(commands: Any) -> None:
    schema = commands.add_parser("schema", help="the interchange standard")
    actions = schema.add_subparsers(dest="action", required=True)

    validate = actions.add_parser("validate", help="check documents against the XSDs")
    validate.add_argument("files", nargs="+", help="interchange XML documents")
    validate.add_argument("--schemas", help="schemas folder (default: the project's)")
    validate.set_defaults(func=_validate)

    docs = actions.add_parser("docs", help="write the HTML reference of the XSDs")
    docs.add_argument("--out", required=True, help="folder for index.html")
    docs.add_argument("--schemas", help="schemas folder (default: the project's)")
    docs.set_defaults(func=_docs)
