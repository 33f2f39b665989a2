"""docs/BENCHMARKS.md from the figures of one run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

THROUGHPUT_TARGET = 0.8
DELAY_TARGET = 6.0
MEMORY_RATIO_TARGET = 1.2
MEMORY_CEILING_MB = 150.0


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _range(figure: dict[str, float], digits: int = 2) -> str:
    return (
        f"{figure['median']:.{digits}f} "
        f"({figure['min']:.{digits}f} – {figure['max']:.{digits}f})"
    )


def targets(figures: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(target, measured, compared with, met) for each target of the issue."""
    poll = figures["settings"]["poll"]
    paged_limit = float(poll["interval_seconds"]) + 1.0
    sweep_limit = float(poll["sweep_interval_seconds"]) + 1.0
    memory = figures["memory"]
    peak = max(run["peak_rss_mb"] for run in memory["runs"])
    latency = figures["latency"]
    throughput = figures["throughput"]["ratio"]["median"]
    delay = figures["delay"]["ratio"]["median"]
    reference = figures["throughput"].get("reference_ratio")
    against = "floor without delay"
    if reference is not None:
        against += f" (over requests: {reference['median']:.2f}×)"
    return [
        (
            "end to end ≥ 0.8× the floor",
            f"{throughput:.2f}×",
            against,
            throughput >= THROUGHPUT_TARGET,
        ),
        (
            "with 20 ms delay ≥ 6× one at a time",
            f"{delay:.2f}×",
            "floor with 20 ms delay",
            delay >= DELAY_TARGET,
        ),
        (
            "RSS at the large backlog ≤ 1.2× the small one",
            f"{memory['ratio']:.2f}×",
            "RSS at the small backlog",
            memory["ratio"] <= MEMORY_RATIO_TARGET,
        ),
        (
            "RSS under 150 MB (highest of the memory runs)",
            f"{peak:.1f} MB",
            "150 MB",
            peak < MEMORY_CEILING_MB,
        ),
        (
            "p99 paged ≤ poll interval + 1 s",
            f"{latency['paged']['p99']:.2f} s",
            f"{paged_limit:.1f} s",
            latency["paged"]["p99"] <= paged_limit and latency["paged"]["count"] > 0,
        ),
        (
            "p99 OA sweep ≤ sweep period + 1 s",
            f"{latency['sweep']['p99']:.2f} s",
            f"{sweep_limit:.1f} s",
            latency["sweep"]["p99"] <= sweep_limit and latency["sweep"]["count"] > 0,
        ),
    ]


def render(figures: dict[str, Any], command: str) -> str:
    """The whole page."""
    parts = [
        _header(figures, command),
        _targets(figures),
        _floor(figures),
        _pairs("Throughput, no delay", figures["throughput"]),
        _cpu(figures["throughput"]),
        _pairs("Throughput with 20 ms delay in every simulator", figures["delay"]),
        _memory(figures["memory"]),
        _latency(figures),
        _method(figures),
    ]
    return "\n".join(parts)


def _header(figures: dict[str, Any], command: str) -> str:
    host = figures["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in host["versions"].items())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Benchmarks",
            "",
            (
                f"Written by `{command}` ({figures['plan']['name']} plan) on "
                f"{when}, in {figures['elapsed_seconds'] / 60:.1f} minutes. "
                "Do not edit by hand."
            ),
            "",
            (
                f"- machine: {host['cpu']}, {host['cores']} cores, "
                f"{host['memory_mb']} MB, {host['os']}"
            ),
            f"- Python {host['python']}; {versions}",
            f"- source revision: {host['revision']}",
            (
                f"- bridge settings changed from the example: `{figures['settings']}`; "
                f"OA pace {figures['oa_step_seconds']} s per node, no refusals, "
                "no step-backs; fault injection off"
            ),
            "",
        ]
    )


def _targets(figures: dict[str, Any]) -> str:
    lines = [
        "## Targets",
        "",
        "| target | measured (median) | compared with | |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {value} | {base} | {_met(ok)} |"
        for name, value, base, ok in targets(figures)
    ]
    caveat = plan_caveat(figures["plan"])
    if caveat:
        lines += ["", caveat]
    return "\n".join(lines + [""])


def plan_caveat(plan: dict[str, Any]) -> str | None:
    """What a page of a smaller plan than the full one must say of its
    targets: its backlogs are too short for its rates to judge them."""
    if plan["name"] == "full":
        return None
    return (
        f"The {plan['name']} plan's backlogs ({plan['throughput_backlog']} cases "
        "for throughput) are too short to judge these targets: in a short run, "
        "the second or two that the last cases wait for the OA sweep and their "
        "results' deliveries is a large part of the time. Only the full plan "
        "(`make bench`) decides them."
    )


def _floor(figures: dict[str, Any]) -> str:
    per_case = figures["per_case"]
    timings = figures["throughput"]["runs"][0]["floor_ms_per_operation"]
    delayed = figures["delay"]["runs"][0]["floor_ms_per_operation"]
    operations = sorted(
        set(per_case["online"]) | set(per_case["window"]) | set(timings)
    )
    lines = [
        "## The floor",
        "",
        (
            "Requests one case makes on each route, as captured from the bridge, and "
            "what each took when replayed one at a time (first run; ms per request). "
            "Listings are sent once per page of cases."
        ),
        "",
        "| operation | online filing | window case | ms | ms with 20 ms delay |",
        "|---|---|---|---|---|",
    ]
    for operation in operations:
        lines.append(
            f"| {operation} | {per_case['online'].get(operation, '–')} | "
            f"{per_case['window'].get(operation, '–')} | "
            f"{timings.get(operation, 0.0):.2f} | {delayed.get(operation, 0.0):.2f} |"
        )
    return "\n".join(lines + [""])


def _through(row: dict[str, Any]) -> str:
    """Cases through, and whether the run was capped or failed."""
    if row.get("error"):
        return f"failed: {row['error'][:160]}"
    capped = "" if row["complete"] else " (capped)"
    return f"{row['finished']}/{row['cases']}{capped}"


def _pairs(title: str, phase: dict[str, Any]) -> str:
    reference = "reference_rate" in phase
    columns = "| run | floor | before / after | bridge | ratio |"
    if reference:
        columns += " floor over requests | ratio to it |"
    lines = [
        f"## {title}",
        "",
        (
            f"Backlog of {phase['backlog']} cases (half online filings, half "
            f"window cases), each run capped at {phase['cap_seconds']:.0f} s; the "
            f"floor replays {phase['floor_sample']} cases of the same mix from "
            "simulators holding the same backlog, just before the bridge run and "
            "again just after it; the two replays count as one. Cases per second."
        ),
        "",
        columns + " cases through | seconds | peak RSS MB |",
        "|---" * (columns.count("|") + 2) + "|",
    ]
    for index, row in enumerate(phase["runs"], start=1):
        cells = (
            f"| {index} | {row['floor_rate']:.2f} | {row['floor_before_rate']:.2f} / "
            f"{row['floor_after_rate']:.2f} | {row['bridge_rate']:.2f} | "
        )
        cells += f"{row['ratio']:.3f} | "
        if reference:
            cells += f"{row['reference_rate']:.2f} | {row['reference_ratio']:.3f} | "
        lines.append(
            f"{cells}{_through(row)} | {row['seconds']:.1f} | "
            f"{row['peak_rss_mb']:.1f} |"
        )
    summary = (
        f"Median (min – max): floor {_range(phase['floor_rate'])}, bridge "
        f"{_range(phase['bridge_rate'])}, ratio {_range(phase['ratio'], 3)}"
    )
    if reference:
        summary += (
            f"; floor over requests {_range(phase['reference_rate'])}, ratio to it "
            f"{_range(phase['reference_ratio'], 3)}"
        )
    lines += ["", summary + ".", ""]
    return "\n".join(lines)


def _cpu(phase: dict[str, Any]) -> str:
    """CPU per case of each process in the runs of ``phase``."""
    lines = [
        "## CPU per case, no delay",
        "",
        (
            "CPU milliseconds per case (user and system, all threads) of each "
            "process during the runs above. They move much less with the "
            "machine's speed than rates do. The bridge and the simulators are "
            "each one Python process, held to about one core: the bridge cannot "
            "go faster than 1000 ÷ its milliseconds per case, and the floor, "
            "which sends one request at a time, not faster than 1000 ÷ (its "
            "client's + the simulators' milliseconds)."
        ),
        "",
        (
            "| run | bridge | simulators | bridge ÷ simulators | simulators in the "
            "floor | floor client |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for index, row in enumerate(phase["runs"], start=1):
        if row.get("error"):
            lines.append(f"| {index} | {_through(row)} | | | | |")
            continue
        lines.append(
            f"| {index} | {row['bridge_cpu_ms']:.1f} | {row['sims_cpu_ms']:.1f} | "
            f"{row['cpu_ratio']:.2f} | {row['floor_sims_cpu_ms']:.1f} | "
            f"{row['floor_client_cpu_ms']:.1f} |"
        )
    lines += [
        "",
        (
            f"Median (min – max): bridge {_range(phase['bridge_cpu_ms'], 1)} ms, "
            f"simulators {_range(phase['sims_cpu_ms'], 1)} ms, bridge ÷ simulators "
            f"{_range(phase['cpu_ratio'])}; in the floor, simulators "
            f"{_range(phase['floor_sims_cpu_ms'], 1)} ms and client "
            f"{_range(phase['floor_client_cpu_ms'], 1)} ms."
        ),
        "",
    ]
    return "\n".join(lines)


def _memory(memory: dict[str, Any]) -> str:
    lines = [
        "## Memory while catching up",
        "",
        "Peak resident set (VmHWM) of the bridge process alone.",
        "",
        "| backlog | peak RSS MB | cases through | seconds |",
        "|---|---|---|---|",
    ]
    for row in memory["runs"]:
        lines.append(
            f"| {row['backlog']} | {row['peak_rss_mb']:.1f} | "
            f"{_through(row)} | {row['seconds']:.1f} |"
        )
    lines += ["", f"Ratio large/small: {memory['ratio']:.2f}.", ""]
    return "\n".join(lines)


def _latency(figures: dict[str, Any]) -> str:
    latency = figures["latency"]
    lines = [
        "## Latency from a change to its arrival",
        "",
        (
            f"Steady load of {latency['rate']:g} cases/s for "
            f"{latency['seconds']:.0f} s, the OA's flows stepped by the benchmark "
            "one node at a time."
        ),
        "",
        "| source | changes | p50 s | p99 s |",
        "|---|---|---|---|",
    ]
    for kind, label in (
        ("paged", "paged listings (portal, center)"),
        ("sweep", "OA open-flow sweep"),
    ):
        row = latency[kind]
        lines.append(
            f"| {label} | {row['count']} | {row['p50']:.2f} | {row['p99']:.2f} |"
        )
    lines += [
        "",
        f"Changes not arrived when the run ended: {latency['not_arrived']}.",
        "",
    ]
    return "\n".join(lines)


def _processors(figures: dict[str, Any]) -> str:
    """Where each side ran (bench/cpus.py)."""
    layout = figures.get("processors")
    if not layout:
        return (
            "- One processor: the bridge, the simulators and the floor's client "
            "share it."
        )
    return (
        "- Each side has a processor of its own, as it would across a network: "
        f"the bridge keeps its threads on processor {layout['client']} "
        "(`[service] cpu`), and the floor's client replays there too; the "
        f"simulators' process keeps to processor {layout['sims']}. Otherwise "
        "the kernel wakes each side's threads on the other's processor."
    )


def _method(figures: dict[str, Any]) -> str:
    return "\n".join(
        [
            "## How these are measured",
            "",
            (
                "- The simulators run in their own process; the bridge runs as "
                "`govbridge run --config` in another, on a fresh SQLite store, against "
                "fresh simulators for every run."
            ),
            _processors(figures),
            (
                "- The floor posts the bytes the bridge itself sent for one online "
                "filing and one window case (captured through a recording proxy), "
                "with the keys swapped for each new case's, one request at a time "
                "over one pooled connection of the bridge's own HTTP client "
                "(bridge/adapters/http.py): the route's writes, its attachment "
                "reads, one read of its flow, and one listing page per page of "
                "cases. Its simulators hold the backlog the paired bridge run starts "
                "with, so each listing costs their server what it costs in the "
                "bridge run."
            ),
            (
                "- Without delay, the same replay of another sample of cases over a "
                "pooled `requests.Session` is shown for reference (the floor of pages "
                "before the bridge had its own client); the target is judged against "
                "the faster floor."
            ),
            (
                "- A bridge run counts the cases whose result reached both the "
                "center and the portal. A run stopped at its cap counts case "
                "equivalents instead: "
                "the writes that took effect in the simulators' request logs over the "
                f"{figures['writes_per_case']:g} writes one case of the mix needs on "
                "average. Time is counted from the bridge's `bridge.started` log event."
            ),
            (
                "- Ratios are taken pair by pair (floor run i, bridge run i), then "
                "the median. A pair's floor is its two replays, before and after "
                "the bridge run, taken together (their cases over their seconds): "
                "the machine's speed can drift by a factor of two within minutes, "
                "and a floor taken on one side only then mis-states the pair. The "
                "delay comparison's floor is the one-at-a-time rate with the same "
                "delay."
            ),
            (
                "- Latency: arrivals are read from the request logs every 50 ms; a "
                "paged change arrives when the center registers the filing or the OA "
                "launches the window case's flow, a flow step when the center "
                "records it."
            ),
            "",
        ]
    )
