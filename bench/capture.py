"""Capture the real SOAP exchanges of one online filing and one window case.

The bridge runs as a subprocess against recording proxies in front of the
simulators, so whatever HTTP client it uses, its bytes are kept; the result is a
set of request templates per route, with the keys that a replay swaps for those
of a new case.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.proxy import RecordingProxy
from bench.setup import CAPTURE_SETTINGS, bridge_config
from bench.sims import SimProcess

OPERATION = re.compile(rb"<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w-]+)")
CASE_NUMBER = re.compile(rb"SBLSH_SHORT&gt;(\d+)&lt;")
FLOW_ID = re.compile(rb"<(?:[\w-]+:)?result>(-?\d+)<")
CENTER_TOKEN = re.compile(rb"TOKEN&gt;(\w+)&lt;")
OA_TOKEN = re.compile(rb"<(?:[\w-]+:)?id>(\w+)<")
POLLS = ("listFilings", "queryWindowCases")
TOKENS = ("getXmlToken", "authenticate")
#: the operations the simulators keep in their request logs
WRITES = frozenset(
    {
        "registerOnlineCase",
        "receiveBusinessAccept",
        "receiveCourseInfo",
        "getSuspendInfo",
        "receiveBusinessFinish",
        "launchFormCollaboration",
        "upload",
        "sendMessageByLoginName",
        "postProgress",
        "publishResult",
    }
)


@dataclass
class Exchange:
    """One request the bridge sent, as bytes on the wire, and its answer."""

    operation: str
    system: str  # "center", "oa" or "portal"
    path: str  # path and query, sent to whichever simulator runs the system
    headers: dict[str, str]
    body: bytes
    answer: bytes


@dataclass
class Templates:
    """The exchanges of one case per route, and the keys they hold."""

    online: list[Exchange]
    window: list[Exchange]
    polls: dict[str, Exchange]
    tokens: dict[str, Exchange]
    keys: dict[str, bytes] = field(default_factory=dict)

    def writes_per_case(self) -> float:
        """Writes one case of the even mix makes, on average over both routes."""
        writes = [
            sum(exchange.operation in WRITES for exchange in route)
            for route in (self.online, self.window)
        ]
        return sum(writes) / len(writes)

    def per_case(self) -> dict[str, dict[str, int]]:
        """How many requests of each operation one case makes, per route."""
        counts: dict[str, dict[str, int]] = {}
        for route, exchanges in (("online", self.online), ("window", self.window)):
            route_counts: dict[str, int] = {}
            for exchange in exchanges:
                route_counts[exchange.operation] = (
                    route_counts.get(exchange.operation, 0) + 1
                )
            counts[route] = route_counts
        return counts


def operation_of(url: str, body: bytes) -> str:
    if "uploadService" in url:
        return "upload"
    found = OPERATION.search(body or b"")
    return found.group(1).decode() if found else url.rsplit("/", 1)[-1]


def capture(sims: SimProcess, root: Path, timeout: float = 90.0) -> Templates:
    """Run the bridge through recording proxies on one filing and one window case."""
    from bench.e2e import Finished, spawn_bridge, stop_bridge

    filings, numbers = sims.file_bulk(1, 1)
    proxies = {name: RecordingProxy(url).start() for name, url in sims.urls.items()}
    config = bridge_config(
        root, {name: p.url for name, p in proxies.items()}, CAPTURE_SETTINGS
    )
    finished = Finished(sims)
    process = spawn_bridge(config, root)
    try:
        deadline = time.monotonic() + timeout
        while finished.count() < 2 and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"capture: the bridge exited; see {root}")
            time.sleep(0.2)
    finally:
        stop_bridge(process)
        for proxy in proxies.values():
            proxy.stop()
    if finished.count() < 2:
        raise RuntimeError("capture: the two cases did not get through in time")
    timed = sorted(
        (
            (arrived, name, path, headers, body, answer)
            for name, proxy in proxies.items()
            for arrived, path, headers, body, answer in proxy.recorded
        ),
        key=lambda item: item[0],
    )
    recorded = [
        Exchange(operation_of(path, body), name, path, headers, body, answer)
        for _, name, path, headers, body, answer in timed
    ]
    return build_templates(recorded, filings[0].encode(), numbers[0].encode())


def _launch_ids(recorded: list[Exchange]) -> dict[bytes, bytes]:
    """Flow id launched per case number found in the launch request."""
    found: dict[bytes, bytes] = {}
    for exchange in recorded:
        if exchange.operation == "launchFormCollaboration":
            flow = FLOW_ID.search(exchange.answer)
            numbers = re.findall(rb"0999\d{9}", exchange.body)
            if flow and numbers:
                found[numbers[0]] = flow.group(1)
    return found


def build_templates(
    recorded: list[Exchange], filing: bytes, window: bytes
) -> Templates:
    """Split the recording into the online route, the window route and the rest."""
    register = next(e for e in recorded if e.operation == "registerOnlineCase")
    online_number = CASE_NUMBER.search(register.answer)
    if online_number is None:
        raise RuntimeError("capture: no case number in the registration answer")
    flows = _launch_ids(recorded)
    keys = {
        "filing": filing,
        "online_case": online_number.group(1),
        "window_case": window,
        "online_flow": flows[online_number.group(1)],
        "window_flow": flows[window],
    }
    polls = {op: next(e for e in recorded if e.operation == op) for op in POLLS}
    tokens = {op: next(e for e in recorded if e.operation == op) for op in TOKENS}
    online_route = _route(
        recorded,
        (keys["filing"], keys["online_case"], keys["online_flow"]),
        with_attachments=True,
    )
    window_route = _route(
        recorded, (keys["window_case"], keys["window_flow"]), with_attachments=False
    )
    return Templates(
        online=online_route, window=window_route, polls=polls, tokens=tokens, keys=keys
    )


def _route(
    recorded: list[Exchange], marks: tuple[bytes, ...], with_attachments: bool
) -> list[Exchange]:
    """The exchanges of one case, in order; its flow is read once."""
    chosen: list[Exchange] = []
    exported = False
    for exchange in recorded:
        if exchange.operation in POLLS + TOKENS:
            continue
        if exchange.operation in ("getAttachment", "upload"):
            if with_attachments:
                chosen.append(exchange)
            continue
        if not any(mark in exchange.body for mark in marks):
            continue
        if exchange.operation == "exportFlow":
            if exported:
                continue
            exported = True
        chosen.append(exchange)
    return chosen
