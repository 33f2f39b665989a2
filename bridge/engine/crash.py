"""Injected crash points, for tests that kill the bridge at exact moments.

``GOVBRIDGE_CRASH_AT`` names points as ``name`` or ``name@N`` (the Nth time the
point is reached in this process), comma-separated. Reaching one sends the
process SIGKILL: nothing is flushed, nothing is committed.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections import Counter

ENV_VAR = "GOVBRIDGE_CRASH_AT"

POINTS = (
    "poll.before_commit",  # a page was read and routed, not yet committed
    "deliver.after_send",  # the target took the write, the bridge has not noted it
    # ... and the same for one kind of write: "deliver.after_send:center.finish"
    "deliver.before_send",  # the attempt is noted, the write not yet sent
)

_hits: Counter[str] = Counter()
_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _armed(spec: str) -> dict[str, int]:
    """The points ``spec`` arms, with the hit each one dies at (read once)."""
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("@")
        armed[name] = int(nth) if nth else 1
    return armed


def crashpoint(name: str) -> None:
    """Die here if the environment arms this point for this hit."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    armed = _armed(spec)
    if name not in armed:
        return
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if hit == armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)
