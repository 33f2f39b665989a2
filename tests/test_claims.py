"""A claim takes due deliveries beyond the ones this process already holds."""

from __future__ import annotations

from pathlib import Path

from bridge.config import load_config
from bridge.engine.bridge import Bridge
from tests.bridgerun import Flow


def test_a_refill_reads_past_the_deliveries_in_hand(tmp_path: Path) -> None:
    """Ten launches are due; with the four oldest in hand, the next claim of
    four takes the next four, and a third the last two (before, the oldest
    four filled its limit and it came back empty)."""
    flow = Flow.start(tmp_path, step_seconds=0.05)
    try:
        flow.file(online=0, window=10)
        bridge = Bridge(load_config(flow.config_path))
        try:
            bridge.jobs()["poll_center"](bridge.rt)
            first = bridge.deliverer._due(4)
            second = bridge.deliverer._due(4)
            third = bridge.deliverer._due(4)
        finally:
            bridge.close()
    finally:
        flow.close()

    assert (len(first), len(second), len(third)) == (4, 4, 2)
    assert first[-1] < second[0] and second[-1] < third[0]
