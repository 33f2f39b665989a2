"""The simulators' admin API refuses settings that would break them."""

from __future__ import annotations

import pytest

from bridge.sim.admin import SimAdmin
from bridge.sim.runner import SimulatorSet


def test_absurd_clock_offset_is_refused_and_the_clock_keeps_working(
    sims: SimulatorSet,
) -> None:
    """An offset beyond ten years is refused with 400; the clock is unchanged."""
    center = SimAdmin(sims.center.url)
    before = center.get("health")["now"][:10]

    with pytest.raises(RuntimeError, match="clock offset must stay within"):
        center.post("clock", {"advance_seconds": 1e308})

    assert center.get("health")["now"][:10] == before


@pytest.mark.parametrize(
    "pace", [{"step_seconds": -1}, {"refuse_rate": 7}, {"suspend_rate": -0.1}]
)
def test_oa_pace_out_of_range_is_refused(sims: SimulatorSet, pace: dict) -> None:
    """Negative times and rates outside 0..1 are refused and change nothing."""
    oa = SimAdmin(sims.oa.url)
    before = oa.get("pace")

    with pytest.raises(RuntimeError, match="must be between"):
        oa.post("pace", pace)

    assert oa.get("pace") == before
