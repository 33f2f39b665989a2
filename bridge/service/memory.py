"""Keeping the service's resident memory flat under many threads.

glibc gives threads their own malloc arenas (up to eight per core) and keeps
memory freed into each of them; with a pool of delivery workers that is tens
of megabytes that never go back. A long-running bridge caps the arenas at
start, before its threads exist. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time

import structlog

log = structlog.get_logger()

#: mallopt's parameter number for the arena cap (glibc's malloc.h)
M_ARENA_MAX = -8
#: arenas the service keeps, unless MALLOC_ARENA_MAX is set in its environment
ARENAS = 2


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (MALLOC_ARENA_MAX wins when set); True when
    the cap is in force."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return True
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    capped = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("memory.arenas_capped", arenas=arenas, capped=capped)
    return capped


#: seconds between two returns of free heap to the system: a trim holds the
#: allocator's lock while it walks the heap, so it is not done after every job
GIVE_BACK_EVERY = 30.0

_libc: ctypes.CDLL | None = None
_given_back = 0.0
_give_back_lock = threading.Lock()


def give_back(every: float = GIVE_BACK_EVERY) -> bool:
    """Return the heap's free pages to the system (glibc's malloc_trim), at
    most once per ``every`` seconds: large documents parsed and freed by
    sweeps and polls leave holes that would otherwise stay resident. True
    when it trimmed; elsewhere than glibc it does nothing."""
    global _libc, _given_back
    with _give_back_lock:
        now = time.monotonic()
        if _given_back and now - _given_back < every:
            return False
        _given_back = now
        if _libc is None:
            name = ctypes.util.find_library("c")
            _libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    trim = getattr(_libc, "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True
