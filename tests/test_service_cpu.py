"""``[service] cpu``: ``govbridge run`` keeps every thread on one processor
(the least busy, or the one named), or leaves them to the kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.config import config_from_dict
from bridge.errors import ConfigError
from bridge.service.checks import problems_of
from bridge.service.cpu import (
    busy_times,
    least_busy,
    pin,
    processor,
    setting_problem,
)
from tests.bridgerun import Flow

STAT = """cpu  900 0 300 5000 100 0 10 0 0 0
cpu0 500 0 200 2000 50 0 5 0 0 0
cpu1 400 0 100 3000 50 0 5 0 0 0
intr 12345
ctxt 678
"""


def test_cpu_setting_takes_auto_none_or_a_processor_number() -> None:
    for given, taken in (("auto", "auto"), (" None ", "none"), ("AUTO", "auto"),
                         (0, 0), (3, 3), ("1", 1)):
        assert processor(given) == taken
    for bad, said in (("fast", "'fast'"), (-1, "negative"), (True, "True"),
                      (1.5, "1.5"), ("", "''"), ("-1", "'-1'")):
        with pytest.raises(ConfigError) as raised:
            processor(bad)
        assert raised.value.message.startswith("service.cpu:")
        assert said in raised.value.message
        assert setting_problem(bad) == raised.value.message


def test_config_check_names_a_bad_cpu_setting() -> None:
    """A word it does not know, or a processor this process may not use, is a
    problem ``config check`` (and a reload) reports before any start."""
    allowed = sorted(os.sched_getaffinity(0))
    beyond = max(allowed) + 1

    def problems(cpu: object) -> list[str]:
        config = config_from_dict({"service": {"cpu": cpu}})
        return [p for p in problems_of(config) if p.startswith("service.cpu")]

    assert problems("fastest") == [
        "service.cpu: 'fastest' is not \"auto\", \"none\" or a processor number"
    ]
    assert problems(beyond) == [
        (
            f"service.cpu: processor {beyond} is not one this process may use"
            f" ({', '.join(str(cpu) for cpu in allowed)})"
        )
    ]
    assert problems(allowed[-1]) == []
    assert problems(str(allowed[0])) == []
    assert problems("auto") == []


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

    # a short sample: one tick apart (of 10) is within the counting's error
    coarse = {0: (0, 10), 1: (1, 10), 2: (9, 10)}
    assert {least_busy(before, coarse, {0, 1, 2}, tb) for tb in (4, 5)} == {0, 1}


def test_auto_leaves_out_processors_the_readings_do_not_show() -> None:
    """A processor missing from /proc/stat (a container's view of it may
    number them otherwise) is not taken for an idle one."""
    before = {0: (0, 0), 1: (0, 0)}
    after = {0: (50, 100), 1: (60, 100)}
    assert {least_busy(before, after, {0, 1, 5}, tb) for tb in range(6)} == {0}
    assert least_busy({}, {}, {3, 5}, tiebreak=7) == 5  # nothing read: the pid


def test_busy_times_skips_lines_it_cannot_read(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu0 1 2\ncpu1 a b c d\ncpu2 1 0 1 8 0 0 0 0\n", "ascii")
    assert busy_times(stat) == {2: (2, 10)}


def test_none_leaves_the_affinity_alone() -> None:
    allowed = os.sched_getaffinity(0)
    assert pin("none") is None
    assert os.sched_getaffinity(0) == allowed


PIN_WITH_A_THREAD_RUNNING = """
import os, sys, threading
from bridge.service.cpu import pin
ready, stop = threading.Event(), threading.Event()
def run():
    ready.set()
    stop.wait(30)
thread = threading.Thread(target=run)
thread.start()
ready.wait(30)
cpu = pin(int(sys.argv[1]))
print(cpu, sorted(os.sched_getaffinity(thread.native_id)))
stop.set()
thread.join()
"""


def test_threads_already_running_are_pinned_too() -> None:
    """Not only the thread that pins, and those it starts later: a thread
    started before the pin is moved as well."""
    cpu = max(os.sched_getaffinity(0))
    done = subprocess.run(
        [sys.executable, "-c", PIN_WITH_A_THREAD_RUNNING, str(cpu)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.splitlines()[-1] == f"{cpu} [{cpu}]"


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
            _reload_keeps_the_processor(flow, process.pid, cpu)
    finally:
        flow.close()


def _reload_keeps_the_processor(flow: Flow, pid: int, cpu: object) -> None:
    """A SIGHUP that changes ``service.cpu`` is refused (it applies at a
    start only), so the settings in force stay the ones the process runs."""
    text = flow.config_path.read_text(encoding="utf-8")
    assert f"cpu = {cpu}\n" in text
    flow.config_path.write_text(text.replace(f"cpu = {cpu}\n", 'cpu = "none"\n'))
    os.kill(pid, signal.SIGHUP)
    refused = _event(flow, "bridge.reload_refused")
    assert "service.cpu: changed; needs a restart" in str(refused["error"])
    tasks = os.listdir(f"/proc/{pid}/task")
    assert {_allowed_list(pid, task) for task in tasks} == {str(cpu)}
