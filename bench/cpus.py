"""Which processor each side of a measurement runs on.

The simulators stand in for systems on other machines. On a machine with two
processors or more, their process keeps to the last processor this one may
use, and the side under test, the bridge (through its ``[service] cpu``) or
the floor's replaying client, to the first: each side has a processor of its
own, as it would across a network, and neither side's threads are woken on
the other's processor. On one processor, every side shares it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """The processor of the side under test and that of the simulators."""

    client: int
    sims: int


def layout(allowed: set[int] | None = None) -> Layout | None:
    """The layout on ``allowed`` processors (by default, those this process
    may use); None when there is only one, or affinity is unknown here."""
    if allowed is None:
        getter = getattr(os, "sched_getaffinity", None)
        allowed = set(getter(0)) if getter is not None else set()
    if len(allowed) < 2:
        return None
    return Layout(client=min(allowed), sims=max(allowed))


@contextmanager
def on_processor(cpu: int | None) -> Iterator[None]:
    """The calling thread (and the threads and processes it starts) on ``cpu``
    for the block, then where it was; None leaves it where it is."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


#: this machine's layout, the same for every phase of a run
PROCESSORS = layout()
#: the side under test's processor and the simulators'; None on one processor
CLIENT_CPU = PROCESSORS.client if PROCESSORS else None
SIMS_CPU = PROCESSORS.sims if PROCESSORS else None
