"""The benchmark phases, in order, each on fresh simulators; figures as a dict."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench.capture import Templates, capture
from bench.cpus import CLIENT_CPU, PROCESSORS, on_processor
from bench.e2e import BacklogRun, BridgeExited, run_backlog
from bench.floor import FloorRun, run_floor
from bench.latency import run_latency
from bench.plan import DELAY_SECONDS, OA_STEP_SECONDS, Plan
from bench.setup import SETTINGS
from bench.sims import SimProcess, running_sims, start_sims
from bench.stats import machine, percentile, spread

Say = Callable[[str], None]

#: CPU milliseconds per case of each pair, kept with their spread
CPU_FIGURES = (
    "bridge_cpu_ms",
    "sims_cpu_ms",
    "cpu_ratio",
    "floor_client_cpu_ms",
    "floor_sims_cpu_ms",
)


def _halves(count: int) -> tuple[int, int]:
    """An even mix: (online filings, window cases)."""
    return count - count // 2, count // 2


class Bench:
    """Runs the phases of one plan in a work folder."""

    def __init__(self, plan: Plan, work: Path, say: Say) -> None:
        self.plan = plan
        self.work = work
        self.say = say
        self.serial = 0
        self.shared: SimProcess | None = None

    def fresh(self, label: str) -> tuple[Path, Any]:
        """A new folder and empty simulators for one measurement."""
        self.serial += 1
        folder = self.work / f"{self.serial:02d}-{label}"
        if not self.plan.reuse_simulators:
            return folder, running_sims(folder / "sim")
        if self.shared is None:
            self.shared = start_sims(self.work / "shared-sim")
        self.shared.reset()
        return folder, nullcontext(self.shared)

    def close(self) -> None:
        if self.shared is not None:
            self.shared.stop()

    def done_with(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def templates(self) -> Templates:
        folder, sims_context = self.fresh("capture")
        with sims_context as sims:
            sims.pace(OA_STEP_SECONDS)
            templates = capture(sims, folder / "bridge")
        self.done_with(folder)
        return templates

    def floor(
        self,
        templates: Templates,
        sample: int,
        delay: float,
        backlog: int,
        reference: bool = False,
    ) -> tuple[FloorRun, FloorRun | None]:
        """Replay ``sample`` cases against simulators holding the ``backlog``
        the bridge run faces: a listing of a long backlog costs its server
        more than one of a short one. With ``reference``, another ``sample``
        cases are replayed over requests as well."""
        folder, sims_context = self.fresh("floor")
        with sims_context as sims:
            sims.pace(OA_STEP_SECONDS)
            sims.latency(delay)
            filings, numbers = sims.file_bulk(*_halves(max(backlog, 2 * sample)))
            online, window = _halves(sample)
            page_size = int(SETTINGS["poll"]["page_size"])
            keys = (filings[:online], numbers[:window])
            # the floor's client on the processor the bridge runs on
            with on_processor(CLIENT_CPU):
                floor = run_floor(
                    templates, sims.urls, keys, page_size, sims_pid=sims.process.pid
                )
                other = None
                if reference:
                    keys = (filings[online : 2 * online], numbers[window : 2 * window])
                    other = run_floor(
                        templates, sims.urls, keys, page_size, "requests"
                    )
        self.done_with(folder)
        return floor, other

    def backlog(
        self, templates: Templates, label: str, size: int, cap: float, delay: float
    ) -> BacklogRun:
        folder, sims_context = self.fresh(label)
        with sims_context as sims:
            sims.pace(OA_STEP_SECONDS)
            sims.latency(delay)
            try:
                run = run_backlog(
                    sims,
                    folder / "bridge",
                    _halves(size),
                    cap,
                    templates.writes_per_case(),
                )
            except BridgeExited as exc:
                self.say(f"{label}: {exc}")
                run = BacklogRun(
                    cases=size,
                    finished=0,
                    seconds=0.0,
                    peak_rss_mb=0.0,
                    equivalents=0.0,
                    error=str(exc),
                )
        self.done_with(folder)
        return run

    def pairs(
        self,
        templates: Templates,
        runs: int,
        size: int,
        cap: float,
        sample: int,
        delay: float,
        label: str,
        reference: bool = False,
    ) -> dict[str, Any]:
        """``runs`` pairs of (floor, bridge) with their ratios, pair by pair;
        with ``reference``, the ratio to the requests floor as well.

        A pair's floor is replayed just before and just after its bridge run,
        and the two replays count as one: the machine's speed may drift while
        the bridge runs, and the floor is then taken on both sides of it."""
        rows = []
        for index in range(runs):
            before, other = self.floor(templates, sample, delay, size, reference)
            bridge = self.backlog(templates, label, size, cap, delay)
            after, _ = self.floor(templates, sample, delay, size)
            rows.append(pair_row(before, bridge, other, after))
            self.say(
                f"{label} run {index + 1}/{runs}: floor {before.rate:.1f}/s "
                f"before, {after.rate:.1f}/s after, bridge {bridge.rate:.1f}/s, "
                f"ratio {rows[-1]['ratio']:.2f}"
                + (f" (requests floor {other.rate:.1f}/s)" if other else "")
            )
        return {
            "backlog": size,
            "cap_seconds": cap,
            "floor_sample": sample,
            "delay_seconds": delay,
            **pair_spreads(rows, reference),
        }

    def memory(self, templates: Templates) -> dict[str, Any]:
        rows = []
        for size, cap in zip(
            self.plan.memory_backlogs, self.plan.memory_caps, strict=True
        ):
            run = self.backlog(templates, f"memory-{size}", size, cap, 0.0)
            rows.append(
                {
                    "backlog": size,
                    "cap_seconds": cap,
                    "peak_rss_mb": run.peak_rss_mb,
                    **_progress(run),
                }
            )
            self.say(
                f"memory {size}: peak RSS {run.peak_rss_mb:.1f} MB "
                f"({run.finished}/{size} cases through in {run.seconds:.0f} s)"
            )
        small, large = rows[0]["peak_rss_mb"], rows[-1]["peak_rss_mb"]
        return {"runs": rows, "ratio": large / small if small else 0.0}

    def latency(self) -> dict[str, Any]:
        folder, sims_context = self.fresh("latency")
        with sims_context as sims:
            run = run_latency(
                sims,
                folder / "bridge",
                self.plan.latency_seconds,
                self.plan.latency_rate,
            )
        self.done_with(folder)
        figures = {
            kind: {
                "count": len(values),
                "p50": percentile(values, 0.5),
                "p99": percentile(values, 0.99),
            }
            for kind, values in (("paged", run.paged), ("sweep", run.sweep))
        }
        self.say(
            f"latency: paged p99 {figures['paged']['p99']:.2f} s, "
            f"sweep p99 {figures['sweep']['p99']:.2f} s"
        )
        return {
            "seconds": self.plan.latency_seconds,
            "rate": self.plan.latency_rate,
            "not_arrived": run.pending,
            **figures,
        }


def _progress(run: BacklogRun) -> dict[str, Any]:
    return {
        "cases": run.cases,
        "finished": run.finished,
        "seconds": run.seconds,
        "equivalents": run.equivalents,
        "complete": run.complete,
        "error": run.error,
    }


def pair_spreads(rows: list[dict[str, Any]], reference: bool) -> dict[str, Any]:
    """The rows of a phase's pairs with the spread of each figure."""
    figures = {
        "runs": rows,
        "floor_rate": spread([r["floor_rate"] for r in rows]),
        "bridge_rate": spread([r["bridge_rate"] for r in rows]),
        "ratio": spread([r["ratio"] for r in rows]),
        # a run the bridge left early has no CPU per case to speak of
        **{
            name: spread([r[name] for r in rows if not r["error"]])
            for name in CPU_FIGURES
        },
    }
    if reference:
        figures["reference_rate"] = spread([r["reference_rate"] for r in rows])
        figures["reference_ratio"] = spread([r["reference_ratio"] for r in rows])
    return figures


def pair_row(
    floor: FloorRun,
    bridge: BacklogRun,
    reference: FloorRun | None = None,
    after: FloorRun | None = None,
) -> dict[str, Any]:
    """One pair's figures; with ``after``, the floor is ``floor`` and ``after``
    together."""
    sides = {"floor_before_rate": floor.rate, "floor_after_rate": floor.rate}
    if after is not None:
        sides["floor_after_rate"] = after.rate
        floor = floor.joined(after)
    extra = {}
    if reference is not None:
        extra = {
            "reference_rate": reference.rate,
            "reference_ratio": bridge.rate / reference.rate if reference.rate else 0.0,
        }
    bridge_cpu_ms, sims_cpu_ms = bridge.cpu_ms_per_case()
    client_cpu_ms, floor_sims_cpu_ms = floor.cpu_ms_per_case()
    return {
        **extra,
        **sides,
        "bridge_cpu_ms": bridge_cpu_ms,
        "sims_cpu_ms": sims_cpu_ms,
        "cpu_ratio": bridge_cpu_ms / sims_cpu_ms if sims_cpu_ms else 0.0,
        "floor_client_cpu_ms": client_cpu_ms,
        "floor_sims_cpu_ms": floor_sims_cpu_ms,
        "floor_rate": floor.rate,
        "floor_requests": floor.requests,
        "floor_cases": floor.cases,
        "floor_ms_per_operation": floor.per_operation_ms,
        "bridge_rate": bridge.rate,
        "peak_rss_mb": bridge.peak_rss_mb,
        "ratio": bridge.rate / floor.rate if floor.rate else 0.0,
        **_progress(bridge),
    }


def measure(plan: Plan, work: Path, say: Say) -> dict[str, Any]:
    """Every phase of ``plan``; the figures the report is written from."""
    started = time.monotonic()

    def timed(line: str) -> None:
        say(f"[{time.monotonic() - started:6.1f} s] {line}")

    bench = Bench(plan, work, timed)
    try:
        return _phases(bench, timed, started)
    finally:
        bench.close()


def _phases(bench: Bench, timed: Say, started: float) -> dict[str, Any]:
    plan = bench.plan
    templates = bench.templates()
    timed(
        f"captured {len(templates.online)} requests per online filing and "
        f"{len(templates.window)} per window case"
    )
    figures: dict[str, Any] = {
        "plan": plan.__dict__.copy(),
        "machine": machine(),
        "settings": SETTINGS,
        "processors": PROCESSORS.__dict__.copy() if PROCESSORS else None,
        "oa_step_seconds": OA_STEP_SECONDS,
        "per_case": templates.per_case(),
        "writes_per_case": templates.writes_per_case(),
    }
    figures["throughput"] = bench.pairs(
        templates,
        plan.throughput_runs,
        plan.throughput_backlog,
        plan.throughput_cap,
        plan.floor_sample,
        0.0,
        "throughput",
        reference=True,
    )
    figures["delay"] = bench.pairs(
        templates,
        plan.delay_runs,
        plan.delay_backlog,
        plan.delay_cap,
        plan.delay_floor_sample,
        DELAY_SECONDS,
        "delay",
    )
    figures["memory"] = bench.memory(templates)
    figures["latency"] = bench.latency()
    figures["elapsed_seconds"] = time.monotonic() - started
    return figures
