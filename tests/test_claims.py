"""A claim takes due deliveries beyond the ones this process already holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from bridge.config import load_config
from bridge.engine.bridge import Bridge
from bridge.engine.outbox import enqueue
from bridge.store.schema import cases, deliveries
from tests.bridgerun import Flow


@contextmanager
def _polled(tmp_path: Path, window: int) -> Iterator[Bridge]:
    """A bridge whose center poll has taken in ``window`` new window cases."""
    flow = Flow.start(tmp_path, step_seconds=0.05)
    try:
        flow.file(online=0, window=window)
        bridge = Bridge(load_config(flow.config_path))
        try:
            bridge.jobs()["poll_center"](bridge.rt)
            yield bridge
        finally:
            bridge.close()
    finally:
        flow.close()


def test_a_refill_reads_past_the_deliveries_in_hand(tmp_path: Path) -> None:
    """Ten launches are due; with the four oldest in hand, the next claim of
    four takes the next four, and a third the last two (before, the oldest
    four filled its limit and it came back empty)."""
    with _polled(tmp_path, window=10) as bridge:
        first = bridge.deliverer._due(4)
        second = bridge.deliverer._due(4)
        third = bridge.deliverer._due(4)

    assert (len(first), len(second), len(third)) == (4, 4, 2)
    assert first[-1] < second[0] and second[-1] < third[0]


def test_a_claimed_step_carries_its_case_deliveries_to_that_target(
    tmp_path: Path,
) -> None:
    """On SQLite, the order of a case's steps is checked against the case's
    deliveries to the step's target as the claim read them (one query for the
    claimed lot), not by a read of its own before each send; other jobs carry
    none."""
    with _polled(tmp_path, window=1) as bridge:
        with bridge.rt.store.begin() as conn:
            case_id = conn.execute(select(cases.c.id)).scalar_one()
            for target, operation in (("center", "step"), ("portal", "progress")):
                key = f"{target}:{operation}:{case_id}:1"
                enqueue(conn, case_id, target, operation, key, "<stepEvent/>")
        claimed = bridge.deliverer._due(10)
        jobs = [bridge.deliverer._claim(delivery_id) for delivery_id in claimed]

    siblings = {job.operation: job.siblings for job in jobs if job is not None}
    assert siblings == {
        "launch": None,
        "step": [("step", "inflight", f"center:step:{case_id}:1")],
        "progress": [("progress", "inflight", f"portal:progress:{case_id}:1")],
    }


def test_a_claim_takes_the_oldest_cases_writes_before_newer_cases(
    tmp_path: Path,
) -> None:
    """A step found for the oldest case after three cases were read is claimed
    before the launches of the two newer cases: a backlog is carried through
    case by case (claimed by id, the step would wait behind both launches)."""
    with _polled(tmp_path, window=3) as bridge:
        with bridge.rt.store.begin() as conn:
            oldest = conn.execute(select(func.min(cases.c.id))).scalar_one()
            enqueue(
                conn, oldest, "center", "step", f"center:step:{oldest}:1", "<x/>"
            )
        claimed = bridge.deliverer._due(2)
        with bridge.rt.store.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.case_id, deliveries.c.operation)
                .where(deliveries.c.id.in_(claimed))
                .order_by(deliveries.c.id)
            ).all()

    assert [tuple(row) for row in rows] == [(oldest, "launch"), (oldest, "step")]
