"""The transfer floor: the captured requests of each case replayed one at a time.

Each case's requests are the bytes the bridge sent for one case of its route,
with the captured keys swapped for the new case's (its filing or case number,
then the case number and flow id the targets answer with), posted over one
pooled HTTP client. A route's share of the polls is one listing page per
``page_size`` cases.

The floor's client is the bridge's own (bridge/adapters/http.py), the fastest
this project has, so the floor is the least a call costs here. The same
replay over a ``requests.Session`` is kept as a reference: the floor of the
earlier pages, and what a common client costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests

from bench.capture import (
    CASE_NUMBER,
    CENTER_TOKEN,
    FLOW_ID,
    OA_TOKEN,
    Exchange,
    Templates,
)
from bench.stats import cpu_seconds
from bridge.adapters.http import ConnectionPool


@dataclass
class FloorRun:
    """One timed replay of a mix, one case at a time."""

    cases: int
    seconds: float
    requests: int
    per_operation_ms: dict[str, float] = field(default_factory=dict)
    sims_cpu: float = 0.0  # CPU seconds of the simulators' process meanwhile
    client_cpu: float = 0.0  # CPU seconds of the replaying process

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0

    def joined(self, other: FloorRun) -> FloorRun:
        """This replay and ``other`` counted as one (per-operation times are
        this one's)."""
        return FloorRun(
            cases=self.cases + other.cases,
            seconds=self.seconds + other.seconds,
            requests=self.requests + other.requests,
            per_operation_ms=self.per_operation_ms,
            sims_cpu=self.sims_cpu + other.sims_cpu,
            client_cpu=self.client_cpu + other.client_cpu,
        )

    def cpu_ms_per_case(self) -> tuple[float, float]:
        """CPU milliseconds per case: (the replaying client, the simulators)."""
        if not self.cases:
            return 0.0, 0.0
        return 1000 * self.client_cpu / self.cases, 1000 * self.sims_cpu / self.cases


#: the clients a floor can be replayed with
CLIENTS = ("bridge", "requests")


class Replayer:
    """Posts prebuilt request bytes over one pooled client: the bridge's own
    HTTP client, or a ``requests.Session``."""

    def __init__(
        self, templates: Templates, urls: dict[str, str], client: str = "bridge"
    ) -> None:
        if client not in CLIENTS:
            raise ValueError(f"unknown floor client {client!r}")
        self.templates = templates
        self.urls = urls
        self.client = client
        self.session = requests.Session()
        self.session.trust_env = False
        self.pool = ConnectionPool(1, connect_timeout=5.0, read_timeout=60.0)
        self.swap: dict[bytes, bytes] = {}
        self.sent = 0
        self.spent: dict[str, float] = {}
        self.counted: dict[str, int] = {}

    def post(self, exchange: Exchange, swap: dict[bytes, bytes]) -> bytes:
        body, path = exchange.body, exchange.path
        for old, new in swap.items():
            body = body.replace(old, new)
            path = path.replace(old.decode(), new.decode())
        url = self.urls[exchange.system] + path
        started = time.perf_counter()
        status, content = self._send(url, body, exchange.headers)
        spent = time.perf_counter() - started
        self.spent[exchange.operation] = self.spent.get(exchange.operation, 0.0) + spent
        self.counted[exchange.operation] = self.counted.get(exchange.operation, 0) + 1
        self.sent += 1
        if status >= 400:
            raise RuntimeError(
                f"floor: {exchange.operation} answered "
                f"{status}: {content[:200].decode('utf-8', 'replace')}"
            )
        return content

    def _send(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.client == "requests":
            answer = self.session.post(url, data=body, headers=headers, timeout=60)
            return answer.status_code, answer.content
        sent = self.pool.send("POST", url, headers, body)
        parts = []
        try:
            while part := sent.read1(65536):
                parts.append(part)
        finally:
            sent.release()
        return sent.status, b"".join(parts)

    def login(self) -> None:
        """Fresh tokens for both token-based systems, swapped into every request."""
        center = self.templates.tokens["getXmlToken"]
        oa = self.templates.tokens["authenticate"]
        for exchange, pattern in ((center, CENTER_TOKEN), (oa, OA_TOKEN)):
            old = pattern.search(exchange.answer)
            new = pattern.search(self.post(exchange, {}))
            if old is None or new is None:
                raise RuntimeError(f"floor: no token in {exchange.operation}")
            self.swap[old.group(1)] = new.group(1)

    def online(self, filing: str) -> None:
        keys = self.templates.keys
        swap = {**self.swap, keys["filing"]: filing.encode()}
        for exchange in self.templates.online:
            answer = self.post(exchange, swap)
            if exchange.operation == "registerOnlineCase":
                found = CASE_NUMBER.search(answer)
                if found is None:
                    raise RuntimeError("floor: registration answered no case number")
                swap[keys["online_case"]] = found.group(1)
            if exchange.operation == "launchFormCollaboration":
                swap[keys["online_flow"]] = _flow(answer)

    def window(self, number: str) -> None:
        keys = self.templates.keys
        swap = {**self.swap, keys["window_case"]: number.encode()}
        for exchange in self.templates.window:
            answer = self.post(exchange, swap)
            if exchange.operation == "launchFormCollaboration":
                swap[keys["window_flow"]] = _flow(answer)


def _flow(answer: bytes) -> bytes:
    found = FLOW_ID.search(answer)
    if found is None:
        raise RuntimeError("floor: launch answered no flow id")
    return found.group(1)


def run_floor(
    templates: Templates,
    urls: dict[str, str],
    keys: tuple[list[str], list[str]],
    page_size: int,
    client: str = "bridge",
    sims_pid: int | None = None,
) -> FloorRun:
    """Replay the mix case by case, alternating routes; polls by their share.

    ``keys`` are the filing numbers and window case numbers filed for the floor;
    ``client`` is one of CLIENTS. With ``sims_pid``, the simulators' CPU time
    during the replay is measured too.
    """
    filings, numbers = keys
    replayer = Replayer(templates, urls, client)
    replayer.login()
    replayer.sent = 0
    replayer.spent.clear()
    replayer.counted.clear()
    sims_before = cpu_seconds(sims_pid) if sims_pid else 0.0
    client_before = time.process_time()
    started = time.perf_counter()
    for index in range(max(len(filings), len(numbers))):
        if index < len(filings):
            if index % page_size == 0:
                replayer.post(templates.polls["listFilings"], replayer.swap)
            replayer.online(filings[index])
        if index < len(numbers):
            if index % page_size == 0:
                replayer.post(templates.polls["queryWindowCases"], replayer.swap)
            replayer.window(numbers[index])
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    sims_cpu = cpu_seconds(sims_pid) - sims_before if sims_pid else 0.0
    per_op = {
        op: 1000 * spent / replayer.counted[op] for op, spent in replayer.spent.items()
    }
    return FloorRun(
        cases=len(filings) + len(numbers),
        seconds=seconds,
        requests=replayer.sent,
        per_operation_ms=per_op,
        sims_cpu=sims_cpu,
        client_cpu=client_cpu,
    )
