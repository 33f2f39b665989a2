"""The daemon's schedule: every route at its interval, the daily jobs at
``daily_at`` in the configured zone, each daily job run by one instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import config_from_dict
from bridge.engine.bridge import Bridge
from bridge.engine.runtime import Runtime


def _bridge(tmp_path: Path, instance: str) -> Bridge:
    config = config_from_dict({
        "bridge": {"store": f"sqlite:///{tmp_path / 'schedule.sqlite'}"},
        "audit": {"folder": str(tmp_path / "audit")},
        "poll": {"interval_seconds": 7, "sweep_interval_seconds": 5},
        "service": {"instance": instance, "daily_at": "03:15", "health_port": 0},
    })
    return Bridge(config)


@pytest.fixture
def bridges(tmp_path: Path) -> Iterator[tuple[Bridge, Bridge]]:
    """Two bridges on one store, as two instances would be."""
    first, second = _bridge(tmp_path, "first"), _bridge(tmp_path, "second")
    yield first, second
    first.close()
    second.close()


def test_routes_and_daily_jobs_are_scheduled(bridges: tuple[Bridge, Bridge]) -> None:
    """Polls run at the poll interval, the sweep at its own, and retention and
    reconciliation daily at 03:15 in Asia/Shanghai."""
    scheduler = bridges[0]._schedule()
    try:
        triggers = {job.id: job.trigger for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)

    assert triggers["poll_portal"].interval.total_seconds() == 7
    assert triggers["sweep_oa"].interval.total_seconds() == 5
    for daily in ("retention", "reconcile"):
        fields = {field.name: str(field) for field in triggers[daily].fields}
        assert (fields["hour"], fields["minute"]) == ("3", "15")
        assert str(triggers[daily].timezone) == "Asia/Shanghai"


def test_a_daily_job_runs_in_one_instance(bridges: tuple[Bridge, Bridge]) -> None:
    """While one instance holds a daily job's lease, the other skips the job."""
    ran: list[str] = []

    def job(rt: Runtime) -> int:
        ran.append(str(rt.config.service.instance))
        return 1

    first, second = bridges
    assert first._once_a_day("daily:retention", job)(first.rt) == 1
    assert second._once_a_day("daily:retention", job)(second.rt) == 0

    assert ran == ["first"]
