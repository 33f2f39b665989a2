"""Keeping the service's threads on one processor.

The bridge's Python code runs under CPython's global interpreter lock: its
threads take turns, so the process runs Python on one processor at a time
however many it may use. Spread over several, each hand-over of the lock wakes
a thread on another processor, and that costs more than much of the work
handed over: in the benchmarks, unpinned, over a third of the bridge's CPU
time went to the kernel switching threads; pinned to one processor, the bridge
carried 1.4 to 1.5 times as many cases per second. What runs outside the lock
(SQLite, parsing, hashing) shares that processor too, which costs less.

``[service] cpu`` sets where ``govbridge run`` keeps its threads: ``"auto"``
(the default) picks the least busy of the processors the process may use, a
number names one of them, ``"none"`` leaves the choice to the kernel. The
choice is made once, at start. Where the platform has no CPU affinity (only
Linux is supported) the setting does nothing.
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
#: how long ``auto`` watches the processors before it picks one (the kernel
#: counts their time in ticks of 10 ms: half a second gives 50 per processor)
SAMPLE_SECONDS = 0.5
#: processors whose busy shares differ by less than this (or by less than two
#: ticks) are equally busy; among them the process id decides
EQUALLY_BUSY = 0.05

Reading = dict[int, tuple[int, int]]


def processor(value: object) -> str | int:
    """``value`` as a ``service.cpu`` setting: ``"auto"``, ``"none"`` or a
    number (digits in a string count as the number); ConfigError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"service.cpu: {value} is negative", system="config")
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in (AUTO, NONE):
            return word
        if word.isdigit():
            return int(word)
    raise ConfigError(
        f'service.cpu: {value!r} is not "auto", "none" or a processor number',
        system="config",
    )


def setting_problem(value: object) -> str | None:
    """Why ``value`` cannot be this process's ``service.cpu``, or None: a
    number must name a processor the process may use."""
    try:
        setting = processor(value)
    except ConfigError as exc:
        return exc.message
    allowed = allowed_cpus()
    if isinstance(setting, int) and allowed is not None and setting not in allowed:
        listed = ", ".join(str(cpu) for cpu in sorted(allowed))
        return (
            f"service.cpu: processor {setting} is not one this process may use"
            f" ({listed})"
        )
    return None


def allowed_cpus() -> set[int] | None:
    """The processors this process may run on; None where that is unknown."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    return set(getter(0))


def busy_times(stat: Path = Path("/proc/stat")) -> Reading:
    """Per processor: (busy, total) clock ticks since boot, from ``stat``;
    lines that do not read as numbers are left out."""
    times: Reading = {}
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return times
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue
        try:
            ticks = [int(field) for field in rest.split()]
        except ValueError:
            continue
        if len(ticks) < 4:
            continue
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        total = sum(ticks[:8])  # guest time is counted in user time already
        times[int(name[3:])] = (total - idle, total)
    return times


def least_busy(
    before: Reading, after: Reading, candidates: set[int], tiebreak: int
) -> int:
    """The least busy candidate between two ``busy_times`` readings; among the
    equally busy, ``tiebreak`` (a process id) picks. Candidates the readings
    do not show are left out, unless none shows: then ``tiebreak`` picks."""
    spans = {
        cpu: (after[cpu][0] - before[cpu][0], after[cpu][1] - before[cpu][1])
        for cpu in sorted(candidates)
        if cpu in before and cpu in after
    }
    shares = {cpu: busy / total for cpu, (busy, total) in spans.items() if total > 0}
    if not shares:
        ordered = sorted(candidates)
        return ordered[tiebreak % len(ordered)]
    band = max(EQUALLY_BUSY, 2 / min(spans[cpu][1] for cpu in shares))
    lowest = min(shares.values())
    idle = [cpu for cpu, share in shares.items() if share - lowest < band]
    return idle[tiebreak % len(idle)]


def pin(value: object, sample_seconds: float = SAMPLE_SECONDS) -> int | None:
    """Keep every thread of this process, and those it starts later, on one
    processor chosen by the ``service.cpu`` setting ``value``; the processor,
    or None when not pinned."""
    problem = setting_problem(value)
    if problem:
        raise ConfigError(problem, system="config")
    setting = processor(value)
    if setting == NONE:
        log.info("service.cpu_not_pinned", reason="service.cpu is none")
        return None
    allowed = allowed_cpus()
    if allowed is None:
        log.info("service.cpu_not_pinned", reason="no CPU affinity on this platform")
        return None
    if isinstance(setting, int):
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
    """Pin the calling thread (later threads inherit its affinity) and every
    thread already running."""
    os.sched_setaffinity(0, {cpu})
    try:
        tasks = [int(task.name) for task in Path("/proc/self/task").iterdir()]
    except OSError:
        return  # no /proc: only the calling thread and its later ones
    for task in tasks:
        try:
            os.sched_setaffinity(task, {cpu})
        except ProcessLookupError:
            continue  # the thread ended meanwhile
