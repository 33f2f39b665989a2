"""``[service] cpu``: ``govbridge run`` keeps every thread on one processor
(the least busy, or the one named), or leaves them to the kernel."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.config import config_from_dict
from bridge.errors import ConfigError
from bridge.service.checks import problems_of
from bridge.service.cpu import busy_times, least_busy, pin, setting_problem
from tests.bridgerun import Flow

STAT = """cpu  900 0 300 5000 100 0 10 0 0 0
cpu0 500 0 200 2000 50 0 5 0 0 0
cpu1 400 0 100 3000 50 0 5 0 0 0
intr 12345
ctxt 678
"""


def test_cpu_setting_takes_auto_none_or_a_processor_number() -> None:
    for good in ("auto", "none", "AUTO", 0, 3):
        assert setting_problem(good) is None
    for bad, said in (("fast", "'fast'"), (-1, "negative"), (True, "True"),
                      (1.5, "1.5")):
        problem = setting_problem(bad)
        assert problem is not None
        assert problem.startswith("service.cpu:") and said in problem


def test_config_check_names_a_bad_cpu_setting() -> None:
    config = config_from_dict({"service": {"cpu": "fastest"}})
    assert any(p.startswith("service.cpu: 'fastest'") for p in problems_of(config))
    assert not any(
        p.startswith("service.cpu")
        for p in problems_of(config_from_dict({"service": {"cpu": 1}}))
    )


def test_busy_times_reads_each_processor_from_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(STAT, encoding="ascii")
    # busy = everything but idle and iowait; total = the first eight fields
    assert busy_times(stat) == {0: (705, 2755), 1: (505, 3555)}
    assert busy_times(tmp_path / "missing") == {}


def test_auto_picks_the_least_busy_processor_and_spreads_ties() -> None:
    before = {0: (0, 0), 1: (0, 0), 2: (0, 0)}
    after = {0: (90, 100), 1: (10, 100), 2: (50, 100)}
    assert least_busy(before, after, {0, 1, 2}, tiebreak=7) == 1
    assert least_busy(before, after, {0, 2}, tiebreak=7) == 2  # 1 not allowed

    level = {0: (20, 100), 1: (22, 100), 2: (90, 100)}
    assert least_busy(before, level, {0, 1, 2}, tiebreak=4) == 0
    assert least_busy(before, level, {0, 1, 2}, tiebreak=5) == 1


def test_none_leaves_the_affinity_alone() -> None:
    allowed = os.sched_getaffinity(0)
    assert pin("none") is None
    assert os.sched_getaffinity(0) == allowed


def test_a_processor_the_process_may_not_use_is_refused() -> None:
    allowed = os.sched_getaffinity(0)
    with pytest.raises(ConfigError, match="service.cpu: processor 100000 is not"):
        pin(100000)
    assert os.sched_getaffinity(0) == allowed


def _allowed_list(pid: int, task: str | None = None) -> str:
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    for line in Path(path).read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list in {path}")


def _event(flow: Flow, name: str, timeout: float = 30.0) -> dict[str, Any]:
    log = flow.root / "logs" / "bridge.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                if line.startswith("{") and json.loads(line).get("event") == name:
                    return dict(json.loads(line))
        assert flow.process is not None and flow.process.poll() is None
        time.sleep(0.1)
    raise AssertionError(f"no {name} event in {log}")


@pytest.mark.parametrize("setting", ["auto", "last", "none"])
def test_the_service_keeps_every_thread_where_the_setting_says(
    tmp_path: Path, setting: str
) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    cpu: str | int = allowed[-1] if setting == "last" else setting
    flow = Flow.start(tmp_path, overrides={"service": {"cpu": cpu,
                                                       "health_port": 0}})
    try:
        process = flow.spawn()
        _event(flow, "bridge.started")
        tasks = os.listdir(f"/proc/{process.pid}/task")
        assert len(tasks) > 3  # the pollers and delivery workers are running
        lists = {_allowed_list(process.pid, task) for task in tasks}
        if setting == "none":
            assert lists == {_allowed_list(os.getpid())}
            return
        pinned = _event(flow, "service.cpu_pinned")
        assert pinned["of"] == len(allowed)
        assert lists == {str(pinned["cpu"])}
        assert pinned["cpu"] in allowed
        if setting == "last":
            assert pinned["cpu"] == allowed[-1]
    finally:
        flow.close()
