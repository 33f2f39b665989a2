"""``govbridge probe SYSTEM --url URL``: one poll call against a live endpoint.

It prints the records the call decoded, mapped to interchange XML, on stdout,
or the classified error on stderr (where warnings are logged too). Exit 0 on
success, 3 on a transient error, 4 on a permanent one (a call that failed, or a
record that could not be mapped); 2 is the usage error argparse gives.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from bridge.errors import BridgeError

SYSTEMS = ("center", "oa", "portal")
DEFAULT_SINCE = "2000-01-01 00:00:00"
KINDS = {"center": "windowCase", "portal": "filing", "oa": "flow"}


def _adapter(system: str, config: Any, url: str) -> Any:
    from bridge.adapters.center import CenterAdapter
    from bridge.adapters.oa import OaAdapter
    from bridge.adapters.portal import PortalAdapter

    section = getattr(config, system)
    common = {
        "timeout": section.timeout,
        "deadline": section.deadline,
        "quirks": section.quirks,
    }
    if system == "center":
        return CenterAdapter(
            url,
            section.key,
            section.secret,
            department_code=section.department_code,
            region_code=section.region_code,
            **common,
        )
    if system == "oa":
        return OaAdapter(
            url,
            section.username,
            section.password,
            sender_login=section.sender_login,
            **common,
        )
    return PortalAdapter(url, section.username, section.password, **common)


def _records(system: str, adapter: Any, since: str, limit: int) -> list[Any]:
    """The native records of one poll call (for the OA: flows in the window)."""
    if system == "center":
        return list(adapter.query_window_cases(since, None, limit).records)
    if system == "portal":
        return list(adapter.list_filings(since, None, limit).records)

    from bridge.clock import LOCAL_FORMAT, ZonedClock

    clock = ZonedClock(adapter.quirks.zone)
    end = (clock.local_naive() + timedelta(days=1)).strftime(LOCAL_FORMAT)
    flow_ids = adapter.list_flow_ids(since, end)[:limit]
    return [adapter.export_flow(flow_id) for flow_id in flow_ids]


def _print_record(system: str, mapping: Any, record: Any) -> bool:
    """Print one record as interchange XML; False when it cannot be mapped."""
    try:
        docs = mapping.inbound(system, KINDS[system], record)
    except BridgeError as exc:
        print(f"record refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    for kind, elements in docs.items():
        for element in elements:
            print(f"<!-- {system} {kind} -->")
            print(etree.tostring(element, encoding="unicode", pretty_print=True))
    return True


def _probe(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.logs import configure
    from bridge.mapping import load_bureau

    try:
        datetime.strptime(args.since, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        print(f"--since {args.since!r}: not yyyy-MM-dd HH:mm:ss", file=sys.stderr)
        return 2
    config = load_config(args.config)
    configure(config.log_file, level="WARNING")
    mapping = load_bureau(config.bureau, config.mappings_dir, config.schemas_dir)
    adapter = _adapter(args.system, config, args.url)
    try:
        records = _records(args.system, adapter, args.since, args.limit)
    except BridgeError as exc:
        kind = "transient" if exc.transient else "permanent"
        print(f"{kind} {type(exc).__name__}: {exc}", file=sys.stderr)
        if exc.detail:
            print(f"detail: {exc.detail}", file=sys.stderr)
        return 3 if exc.transient else 4
    finally:
        close = getattr(adapter, "close", None)
        if close is not None:
            close()

    mapped = [_print_record(args.system, mapping, record) for record in records]
    print(f"{len(records)} record(s), {mapped.count(False)} refused", file=sys.stderr)
    return 0 if all(mapped) else 4


def register(commands: Any) -> None:
    probe = commands.add_parser(
        "probe", help="one poll call against a live endpoint; print what it decoded"
    )
    probe.add_argument("system", choices=SYSTEMS, help="kind of counterpart")
    probe.add_argument("--url", required=True, help="base URL of the endpoint")
    probe.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help="local time 'yyyy-MM-dd HH:mm:ss' to read from (default: 2000-01-01)",
    )
    probe.add_argument("--limit", type=int, default=20, help="records at most")
    probe.add_argument("--config", help="TOML file (default: $GOVBRIDGE_CONFIG)")
    probe.set_defaults(func=_probe)
