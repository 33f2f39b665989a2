"""How much each benchmark phase does: the full run, ``--quick`` and ``--smoke``."""

from __future__ import annotations

from dataclasses import dataclass

OA_STEP_SECONDS = 0.02  # the OA's pace while throughput is measured
DELAY_SECONDS = 0.02  # network delay injected in the delay comparison


@dataclass(frozen=True)
class Plan:
    """Sizes, repetitions and time caps of one benchmark run."""

    name: str
    throughput_runs: int
    throughput_backlog: int
    throughput_cap: float  # seconds a bridge run may take before it is stopped
    floor_sample: int  # cases of the mix the floor replays per run
    delay_runs: int
    delay_backlog: int
    delay_cap: float
    delay_floor_sample: int
    memory_backlogs: tuple[int, ...]  # smallest first; the ratio is last/first
    memory_caps: tuple[float, ...]
    latency_seconds: float
    latency_rate: float  # cases filed per second during the latency run
    reuse_simulators: bool = False  # reset one simulator process between runs


FULL = Plan(
    name="full",
    throughput_runs=5,
    throughput_backlog=10_000,
    throughput_cap=100.0,
    floor_sample=500,
    delay_runs=3,
    delay_backlog=1_000,
    delay_cap=100.0,
    delay_floor_sample=40,
    memory_backlogs=(10_000, 100_000),
    # long enough to drain 100,000 cases at about 120 cases/s; on a slower
    # machine the run is capped and the whole plan still ends within 40 minutes
    memory_caps=(120.0, 900.0),
    latency_seconds=60.0,
    latency_rate=1.0,
)

QUICK = Plan(
    name="quick",
    throughput_runs=2,
    throughput_backlog=400,
    throughput_cap=20.0,
    floor_sample=100,
    delay_runs=1,
    delay_backlog=100,
    delay_cap=20.0,
    delay_floor_sample=10,
    memory_backlogs=(500, 2_000),
    memory_caps=(15.0, 25.0),
    latency_seconds=12.0,
    latency_rate=1.0,
)

SMOKE = Plan(
    name="smoke",
    throughput_runs=1,
    throughput_backlog=10,
    throughput_cap=4.0,
    floor_sample=4,
    delay_runs=1,
    delay_backlog=6,
    delay_cap=3.0,
    delay_floor_sample=2,
    memory_backlogs=(10,),
    memory_caps=(2.0,),
    latency_seconds=2.0,
    latency_rate=2.0,
    reuse_simulators=True,
)

PLANS = {plan.name: plan for plan in (FULL, QUICK, SMOKE)}
