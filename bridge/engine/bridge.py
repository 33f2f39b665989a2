"""One bridge process: the polls, the sweep and the deliveries on a schedule."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from bridge.clock import Clock
from bridge.config import Config
from bridge.engine.deliver import Deliverer
from bridge.engine.poll import poll_center, poll_portal, sweep_oa
from bridge.engine.runtime import Runtime, build_runtime
from bridge.errors import BridgeError

log = structlog.get_logger()


class Bridge:
    """Moves deltas between the three systems until told to stop."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.rt: Runtime = build_runtime(config, clock)
        self.deliverer = Deliverer(self.rt)

    def _guarded(self, name: str, job: Callable[[Runtime], int]) -> Callable[[], None]:
        def run() -> None:
            try:
                job(self.rt)
            except BridgeError as exc:
                log.warning(f"{name}.failed", error=str(exc), **exc.context())
            except Exception:  # noqa: BLE001 - a job must not kill the scheduler
                log.exception(f"{name}.crashed")

        return run

    def deliver(self, _rt: Runtime | None = None) -> int:
        return self.deliverer.run_due()

    def run_once(self) -> None:
        """One pass of everything, in order: for tests and catch-up."""
        for name, job in self.jobs().items():
            self._guarded(name, job)()

    def jobs(self) -> dict[str, Callable[[Runtime], int]]:
        return {
            "poll_portal": poll_portal,
            "poll_center": poll_center,
            "sweep_oa": sweep_oa,
            "deliver": lambda rt: self.deliver(rt),
        }

    def run(self, stop: threading.Event) -> None:
        """Run the jobs on their intervals until ``stop`` is set."""
        poll = self.rt.config.poll
        intervals = {
            "poll_portal": poll.interval_seconds,
            "poll_center": poll.interval_seconds,
            "sweep_oa": min(poll.sweep_interval_seconds, poll.interval_seconds),
            "deliver": self.rt.config.delivery.interval_seconds,
        }
        scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        for name, job in self.jobs().items():
            scheduler.add_job(
                self._guarded(name, job), "interval", seconds=intervals[name],
                id=name, name=name, next_run_time=None,
            )
        scheduler.start()
        for job in scheduler.get_jobs():
            job.modify(next_run_time=datetime.now(UTC))
        log.info("bridge.started", bureau=self.rt.config.bureau, store=_safe_url(self))
        stop.wait()
        scheduler.shutdown(wait=True)
        self.close()
        log.info("bridge.stopped")

    def close(self) -> None:
        self.deliverer.close()
        self.rt.store.dispose()


def _safe_url(bridge: Bridge) -> str:
    return bridge.rt.store.engine.url.render_as_string(hide_password=True)
