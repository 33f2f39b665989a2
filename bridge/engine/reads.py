"""Retrying reads within one call: idempotent look-ups only, never writes.

A write that failed ambiguously is never simply sent again (the outbox reads
the target back first); a read can be, and a read-back that gives up on the
first busy answer would stall a delivery behind a flaky counterpart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from bridge.errors import is_transient

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 4


def read(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read, retrying transient failures a few times with jittered backoff."""
    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.05, max=0.5),
        retry=retry_if_exception(is_transient),
        reraise=True,
    )
    return retrying(call, *args, **kwargs)
