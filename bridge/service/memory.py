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


_libc: ctypes.CDLL | None = None


def give_back() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim): large
    documents parsed and freed by a sweep or a poll leave holes that would
    otherwise stay resident. Elsewhere this does nothing."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
