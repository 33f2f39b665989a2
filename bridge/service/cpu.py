"""Keeping the service's threads on one processor.

The bridge's Python code runs under CPython's global interpreter lock: its
threads take turns, so the process computes on one processor at a time however
many it may use. Spread over several, each hand-over of the lock wakes a thread
on another processor, and that costs more than much of the work handed over:
in the benchmarks, unpinned, over a third of the bridge's CPU time went to the
kernel switching threads; pinned to one processor, the bridge carried 1.4 to
1.5 times as many cases per second.

``[service] cpu`` sets where ``govbridge run`` keeps its threads: ``"auto"``
(the default) picks the least busy processor the process may use, a number
names one, ``"none"`` leaves the choice to the kernel. The kernel still moves
other, unpinned processes off a busy processor. Where the platform has no CPU
affinity (only Linux is supported) the setting does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import structlog

from bridge.errors import ConfigError

log = structlog.get_logger()

AUTO = "auto"
NONE = "none"
#: how long ``auto`` watches the processors before it picks one
SAMPLE_SECONDS = 0.1
#: processors whose busy shares differ by less than this are equally busy;
#: among them the process id decides, so instances started together spread
EQUALLY_BUSY = 0.05


def setting_problem(value: object) -> str | None:
    """Why ``value`` is not a ``service.cpu`` setting, or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f'service.cpu: {value!r} is not "auto", "none" or a processor number'
    if isinstance(value, int):
        return None if value >= 0 else f"service.cpu: {value} is negative"
    if value.strip().lower() in (AUTO, NONE):
        return None
    return f'service.cpu: {value!r} is not "auto", "none" or a processor number'


def allowed_cpus() -> set[int] | None:
    """The processors this process may run on; None where that is unknown."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    return set(getter(0))


def busy_times(stat: Path = Path("/proc/stat")) -> dict[int, tuple[int, int]]:
    """Per processor: (busy, total) clock ticks since boot, from ``stat``."""
    times: dict[int, tuple[int, int]] = {}
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except OSError:
        return times
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue
        ticks = [int(field) for field in rest.split()]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        total = sum(ticks[:8])  # guest time is counted in user time already
        times[int(name[3:])] = (total - idle, total)
    return times


def least_busy(
    before: dict[int, tuple[int, int]],
    after: dict[int, tuple[int, int]],
    candidates: set[int],
    tiebreak: int,
) -> int:
    """The candidate processor busiest least between two ``busy_times``
    readings; among the equally busy, ``tiebreak`` (a process id) picks."""
    shares = {}
    for cpu in sorted(candidates):
        busy = after.get(cpu, (0, 0))[0] - before.get(cpu, (0, 0))[0]
        total = after.get(cpu, (0, 0))[1] - before.get(cpu, (0, 0))[1]
        shares[cpu] = busy / total if total > 0 else 0.0
    lowest = min(shares.values())
    idle = [cpu for cpu, share in shares.items() if share - lowest < EQUALLY_BUSY]
    return idle[tiebreak % len(idle)]


def pin(setting: str | int, sample_seconds: float = SAMPLE_SECONDS) -> int | None:
    """Keep every thread of this process, and those it starts later, on one
    processor chosen by ``setting``; the processor, or None when not pinned."""
    if isinstance(setting, str) and setting.strip().lower() == NONE:
        return None
    allowed = allowed_cpus()
    if allowed is None:
        log.info("service.cpu_not_pinned", reason="no CPU affinity on this platform")
        return None
    if isinstance(setting, int):
        if setting not in allowed:
            raise ConfigError(
                f"service.cpu: processor {setting} is not one this process may use"
                f" ({', '.join(str(cpu) for cpu in sorted(allowed))})",
                system="config",
            )
        chosen = setting
    elif len(allowed) == 1:
        chosen = next(iter(allowed))
    else:
        before = busy_times()
        time.sleep(sample_seconds)
        chosen = least_busy(before, busy_times(), allowed, os.getpid())
    _set_affinity(chosen)
    log.info("service.cpu_pinned", cpu=chosen, of=len(allowed))
    return chosen


def _set_affinity(cpu: int) -> None:
    """Pin the calling thread (which later threads inherit from) and every
    thread already running."""
    os.sched_setaffinity(0, {cpu})
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {cpu})
        except (ProcessLookupError, ValueError):
            continue  # the thread ended meanwhile
