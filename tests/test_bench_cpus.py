"""Where the benchmark runs each side: a processor for the side under test, one
for the simulators."""

from __future__ import annotations

import os
from pathlib import Path

from bench.cpus import CLIENT_CPU, SIMS_CPU, Layout, layout, on_processor
from bench.setup import bridge_config
from bench.sims import running_sims
from bridge.config import load_config


def test_each_side_gets_a_processor_of_its_own_when_there_are_two() -> None:
    """The side under test takes the first processor allowed, the simulators
    the last; with one processor there is no layout."""
    assert layout({0, 1}) == Layout(client=0, sims=1)
    assert layout({2, 5, 7}) == Layout(client=2, sims=7)
    assert layout({3}) is None
    assert layout(set()) is None


def test_the_bridge_is_configured_on_the_side_under_tests_processor(
    tmp_path: Path,
) -> None:
    """The configuration a bridge run reads holds the layout's client
    processor as ``[service] cpu`` (the default ``auto`` on one processor)."""
    urls = {name: "http://127.0.0.1:9" for name in ("center", "oa", "portal")}
    config = load_config(bridge_config(tmp_path, urls))
    assert config.service.cpu == (CLIENT_CPU if CLIENT_CPU is not None else "auto")


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
        expected = {SIMS_CPU} if SIMS_CPU is not None else os.sched_getaffinity(0)
        assert len(threads) > 1
        for tid in threads:
            assert os.sched_getaffinity(tid) == expected, tid
