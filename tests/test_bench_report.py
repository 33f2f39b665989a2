"""The benchmark's CPU figures: per case, pair by pair, and a run the bridge
left early shown as failed and kept out of the medians."""

from __future__ import annotations

from bench.e2e import BacklogRun
from bench.floor import FloorRun
from bench.plan import FULL, QUICK
from bench.report import _cpu, plan_caveat
from bench.run import pair_row, pair_spreads


def _floor(cases: int, sims_cpu: float, client_cpu: float) -> FloorRun:
    return FloorRun(
        cases=cases, seconds=10.0, requests=cases * 10, sims_cpu=sims_cpu,
        client_cpu=client_cpu,
    )


def _bridge(equivalents: float, bridge_cpu: float, sims_cpu: float,
            error: str = "") -> BacklogRun:
    return BacklogRun(
        cases=1000, finished=int(equivalents), seconds=20.0, peak_rss_mb=120.0,
        equivalents=equivalents, error=error, bridge_cpu=bridge_cpu,
        sims_cpu=sims_cpu,
    )


def test_cpu_per_case_is_taken_pair_by_pair() -> None:
    """Milliseconds per case come from each run's own CPU seconds and count."""
    row = pair_row(_floor(500, sims_cpu=6.0, client_cpu=1.5),
                   _bridge(400.0, bridge_cpu=10.0, sims_cpu=8.0))

    assert row["bridge_cpu_ms"] == 25.0
    assert row["sims_cpu_ms"] == 20.0
    assert row["cpu_ratio"] == 1.25
    assert row["floor_sims_cpu_ms"] == 12.0
    assert row["floor_client_cpu_ms"] == 3.0


def test_failed_run_is_shown_as_failed_and_left_out_of_the_medians() -> None:
    """A run whose bridge exited shows its error in the CPU table, and the
    spreads are those of the runs that went through."""
    rows = [
        pair_row(_floor(500, 6.0, 1.5), _bridge(400.0, 10.0, 8.0)),
        pair_row(_floor(500, 7.0, 1.5),
                 _bridge(0.0, 0.0, 0.0, error="bridge exited with 1")),
        pair_row(_floor(500, 5.0, 1.0), _bridge(500.0, 15.0, 10.0)),
    ]
    phase = pair_spreads(rows, reference=False)

    assert phase["bridge_cpu_ms"] == {"median": 27.5, "min": 25.0, "max": 30.0}
    assert phase["cpu_ratio"]["min"] == 1.25
    lines = _cpu(phase).splitlines()
    assert "| 2 | failed: bridge exited with 1 | | | | |" in lines
    assert "| 1 | 25.0 | 20.0 | 1.25 | 12.0 | 3.0 |" in lines
    assert any(line.startswith("Median (min – max): bridge 27.5 (25.0 – 30.0) ms")
               for line in lines)


def test_a_pairs_floor_is_its_replays_before_and_after_the_bridge_together() -> None:
    """A floor of 50 cases/s before the bridge run and 25/s after it (the
    machine slowed meanwhile) is 1000 cases in 30 s: the pair's floor is 33.3/s
    and its ratio the bridge's 40/s over that, not over either side alone."""
    before = FloorRun(cases=500, seconds=10.0, requests=5000, sims_cpu=6.0,
                      client_cpu=1.0)
    after = FloorRun(cases=500, seconds=20.0, requests=5000, sims_cpu=10.0,
                     client_cpu=2.0)
    bridge = _bridge(800.0, bridge_cpu=16.0, sims_cpu=12.0)

    row = pair_row(before, bridge, after=after)

    assert (row["floor_before_rate"], row["floor_after_rate"]) == (50.0, 25.0)
    assert round(row["floor_rate"], 2) == 33.33
    assert round(row["ratio"], 3) == 1.2
    assert row["floor_sims_cpu_ms"] == 16.0
    assert row["floor_client_cpu_ms"] == 3.0
    assert row["floor_requests"] == 10000


def test_only_a_page_of_a_smaller_plan_says_its_targets_are_not_judged() -> None:
    """A quick run's short backlogs understate the rate; its page says so, and
    the full plan's page, which decides the targets, does not."""
    assert plan_caveat(FULL.__dict__) is None

    caveat = plan_caveat(QUICK.__dict__)
    assert caveat is not None
    assert caveat.startswith("The quick plan's backlogs (400 cases for throughput)")
    assert "Only the full plan (`make bench`) decides them." in caveat
