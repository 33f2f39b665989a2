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


GIVE_BACK = """
import gc
from lxml import etree
from bridge.service.memory import give_back

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

rows = "".join(f"<row n='{i}'><a>{i}</a><b>text {i}</b></row>" for i in range(300000))
tree = etree.fromstring(f"<rows>{rows}</rows>".encode())
del rows
keep = etree.fromstring(b"<small/>")  # allocated after: the heap top stays in use
del tree
gc.collect()
before = rss_kb()
assert give_back(every=0.0)
print(before - rss_kb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_documents_go_back_to_the_system() -> None:
    """A large parsed document, once freed, no longer counts in RSS after
    give_back (the polls and sweeps call it now and then)."""
    done = subprocess.run(
        [sys.executable, "-c", GIVE_BACK],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    returned_kb = int(done.stdout.strip().splitlines()[-1])
    assert returned_kb > 20_000
