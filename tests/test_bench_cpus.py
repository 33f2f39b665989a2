"""Where the benchmark runs each side: a processor for the side under test, one
for the simulators."""

from __future__ import annotations

import os
from pathlib import Path

from bench.cpus import PROCESSORS, Layout, layout, on_processor
from bench.setup import SETTINGS
from bench.sims import running_sims


def test_each_side_gets_a_processor_of_its_own_when_there_are_two() -> None:
    """The side under test takes the first processor allowed, the simulators
    the last; with one processor there is no layout."""
    assert layout({0, 1}) == Layout(client=0, sims=1)
    assert layout({2, 5, 7}) == Layout(client=2, sims=7)
    assert layout({3}) is None
    assert layout(set()) is None


def test_the_bridge_is_configured_on_the_side_under_tests_processor() -> None:
    """The bridge's ``[service] cpu`` is the layout's client processor."""
    if PROCESSORS is None:
        assert "service" not in SETTINGS
    else:
        assert SETTINGS["service"] == {"cpu": PROCESSORS.client}


def test_a_thread_is_held_to_a_processor_for_a_block_then_freed() -> None:
    """``on_processor`` narrows the calling thread's processors for the block
    and gives back the ones it had."""
    before = os.sched_getaffinity(0)
    chosen = max(before)
    with on_processor(chosen):
        assert os.sched_getaffinity(0) == {chosen}
    assert os.sched_getaffinity(0) == before


def test_the_simulators_process_keeps_to_its_processor(tmp_path: Path) -> None:
    """Every thread of the simulators' process runs on the simulators'
    processor (or anywhere, on one processor)."""
    with running_sims(tmp_path / "sim") as sims:
        pid = sims.process.pid
        threads = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task"))
        expected = (
            {PROCESSORS.sims} if PROCESSORS else os.sched_getaffinity(0)
        )
        assert len(threads) > 1
        for tid in threads:
            assert os.sched_getaffinity(tid) == expected, tid
