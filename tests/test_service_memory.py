"""The service caps glibc's malloc arenas at start, so RSS stays flat."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "from bridge.service.memory import cap_malloc_arenas;"
    "print(cap_malloc_arenas())"
)


def _probe(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_arena_cap_takes_effect_on_glibc() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _probe(env) == "True"


def test_an_operator_setting_wins() -> None:
    """MALLOC_ARENA_MAX in the environment is left as the operator set it."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "4"}
    assert _probe(env) == "True"
