"""One bridge process: the polls, the sweep and the deliveries on a schedule.

Each poll runs only while this process holds the source's lease, and every
write it makes checks the lease's fencing token; deliveries are claimed row
by row (bridge/engine/deliver.py). SIGTERM stops the schedule, lets running
jobs finish within the grace period and abandons the rest safely; SIGHUP
re-reads the configuration and mappings and applies them only when valid.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import update

from bridge.clock import Clock
from bridge.config import Config, load_config
from bridge.engine.deliver import Deliverer
from bridge.engine.poll import poll_center, poll_portal, sweep_oa
from bridge.engine.runtime import Runtime, build_runtime
from bridge.errors import BridgeError, ConfigError
from bridge.service import metrics
from bridge.service.memory import give_back
from bridge.store.leases import Leases, holder_id
from bridge.store.schema import cases

log = structlog.get_logger()

#: lease name and source label of each singleton job
LEASED = {
    "poll_portal": "poll:portal",
    "poll_center": "poll:center",
    "sweep_oa": "sweep:oa",
}

#: time kept back from the grace period to release leases and claims
RELEASE_MARGIN_SECONDS = 1.0

#: sections whose change needs a restart: they build the store and the adapters
RESTART_SECTIONS = ("store", "center", "oa", "portal", "bureau", "bureaus")
#: single settings that take effect only when the process starts
RESTART_SETTINGS = (("service", "cpu"),)


class ActiveJobs:
    """Counts the jobs running now, so a shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *_exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, seconds: float) -> bool:
        """True when no job runs any more within ``seconds``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, max(seconds, 0.0))


class Bridge:
    """Moves deltas between the three systems until told to stop."""

    def __init__(
        self,
        config: Config,
        clock: Clock | None = None,
        config_path: str | Path | None = None,
    ) -> None:
        self.rt: Runtime = build_runtime(config, clock)
        self.holder = instance_name(config, self.rt.store.is_sqlite)
        self.config_path = config_path
        self.leases = Leases(self.rt.store, self.holder, config.service.lease_seconds)
        self.deliverer = Deliverer(self.rt, self.holder)
        self.active = ActiveJobs()
        self.started_at = datetime.now(UTC)

    def _guarded(self, name: str, job: Callable[[Runtime], int]) -> Callable[[], None]:
        # polls and sweeps parse and free large documents: now and then, after
        # one of them, freed heap goes back to the system, so RSS stays flat
        trims = name != "deliver"

        def run() -> None:
            with self.active:
                try:
                    job(self.rt)
                except BridgeError as exc:
                    log.warning(f"{name}.failed", error=str(exc), **exc.context())
                except Exception:  # a job must not kill the scheduler
                    log.exception(f"{name}.crashed")
                finally:
                    if trims:
                        give_back()

        return run

    def _leased(
        self, lease: str, job: Callable[[Runtime], int]
    ) -> Callable[[Runtime], int]:
        """Run ``job`` only under the lease, its writes fenced by the token."""
        source = lease.split(":", 1)[1]

        def run(rt: Runtime) -> int:
            token = self.leases.acquire(lease)
            if token is None:
                return 0
            started = time.monotonic()
            try:
                with self.leases.fenced(lease, token):
                    routed = job(rt)
            except Exception:
                metrics.polls.labels(source, "failed").inc()
                raise
            metrics.poll_seconds.labels(source).observe(time.monotonic() - started)
            metrics.polls.labels(source, "ok").inc()
            metrics.records_in.labels(source).inc(routed or 0)
            self.leases.succeeded(lease, token)
            return routed

        return run

    def deliver(self, _rt: Runtime | None = None, wait: bool = True) -> int:
        return self.deliverer.run_due(wait=wait)

    def run_once(self) -> None:
        """One pass of everything, in order: for tests and catch-up."""
        for name, job in self.jobs().items():
            self._guarded(name, job)()

    def jobs(self) -> dict[str, Callable[[Runtime], int]]:
        return {
            "poll_portal": self._leased(LEASED["poll_portal"], poll_portal),
            "poll_center": self._leased(LEASED["poll_center"], poll_center),
            "sweep_oa": self._leased(LEASED["sweep_oa"], sweep_oa),
            **self._bureau_jobs(),
            "deliver": lambda rt: self.deliver(rt),
        }

    def _bureau_jobs(self) -> dict[str, Callable[[Runtime], int]]:
        """The center poll and OA sweep of each further bureau, each under a
        lease of its own ("poll:center:lyj", "sweep:oa:lyj")."""
        jobs: dict[str, Callable[[Runtime], int]] = {}
        for name, bureau in self.rt.bureaus.items():
            if bureau.primary:
                continue
            jobs[f"poll_center:{name}"] = self._leased(
                f"poll:center:{name}", partial(_for_bureau, poll_center, name)
            )
            if bureau.oa is not None:
                jobs[f"sweep_oa:{name}"] = self._leased(
                    f"sweep:oa:{name}", partial(_for_bureau, sweep_oa, name)
                )
        return jobs

    def intervals(self) -> dict[str, float]:
        poll = self.rt.config.poll
        sweep = min(poll.sweep_interval_seconds, poll.interval_seconds)
        intervals = {
            "poll_portal": poll.interval_seconds,
            "poll_center": poll.interval_seconds,
            "sweep_oa": sweep,
            "deliver": self.rt.config.delivery.interval_seconds,
        }
        for name in self._bureau_jobs():
            intervals[name] = (
                sweep if name.startswith("sweep") else poll.interval_seconds
            )
        return intervals

    def _schedule(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": 30,
            }
        )
        intervals = self.intervals()
        jobs = self.jobs()
        jobs["deliver"] = lambda rt: self.deliver(rt, wait=False)
        for name, job in jobs.items():
            scheduler.add_job(
                self._guarded(name, job),
                "interval",
                seconds=intervals[name],
                id=name,
                name=name,
                next_run_time=None,
            )
        self._schedule_daily(scheduler)
        scheduler.start()
        for scheduled in scheduler.get_jobs():
            if scheduled.id in intervals:
                scheduled.modify(next_run_time=datetime.now(UTC))
        return scheduler

    def _schedule_daily(self, scheduler: BackgroundScheduler) -> None:
        """Retention and reconciliation once a day, by one instance (a lease each)."""
        hour, minute = (
            int(part) for part in self.rt.config.service.daily_at.split(":")
        )
        for name, job in (("retention", _retention), ("reconcile", _reconcile)):
            scheduler.add_job(
                self._guarded(name, self._once_a_day(f"daily:{name}", job)),
                "cron",
                hour=hour,
                minute=minute,
                timezone=self.rt.config.zone,
                id=name,
                name=name,
            )

    def _once_a_day(
        self, lease: str, job: Callable[[Runtime], int]
    ) -> Callable[[Runtime], int]:
        def run(rt: Runtime) -> int:
            token = self.leases.acquire(lease)
            if token is None:
                return 0
            with self.leases.fenced(lease, token):
                found = job(rt)
            self.leases.succeeded(lease, token)
            return found

        return run

    def run(self, stop: threading.Event, reload: threading.Event | None = None) -> None:
        """Run the jobs on their intervals until ``stop`` is set."""
        from bridge.service.health import HealthServer

        scheduler = self._schedule()
        health = HealthServer.start(self)
        self._audit_configuration("loaded")
        log.info(
            "bridge.started",
            bureau=self.rt.config.bureau,
            bureaus=",".join(self.rt.bureaus),
            store=_safe_url(self),
            holder=self.holder,
            health=health.address if health else None,
        )
        while not stop.wait(0.1):
            if reload is not None and reload.is_set():
                reload.clear()
                self.reload(scheduler)
        self._shutdown(scheduler, health)

    def _shutdown(self, scheduler: BackgroundScheduler, health: Any) -> None:
        """Stop scheduling, wait for running jobs within the grace, release the rest."""
        grace = self.rt.config.service.grace_seconds
        deadline = time.monotonic() + grace
        log.info("bridge.stopping", grace_s=grace)
        scheduler.shutdown(wait=False)
        self.deliverer.close(wait=False)
        until = deadline - RELEASE_MARGIN_SECONDS
        idle = self.active.wait_idle(until - time.monotonic()) and self._drain(until)
        self._release()
        if health is not None:
            health.stop()
        if not idle:
            log.warning(
                "bridge.abandoned",
                reason="grace period over",
                note="claims released; the next attempt reads the target back",
            )
            logging.shutdown()
            os._exit(0)
        self.close()
        log.info("bridge.stopped")

    def _drain(self, until: float) -> bool:
        """Wait, until ``until`` (monotonic), for deliveries still on the pool."""
        while self.deliverer.in_flight():
            if time.monotonic() >= until:
                return False
            time.sleep(0.05)
        return True

    def _release(self) -> None:
        try:
            freed = self.deliverer.release_claims()
            self.leases.release_all()
            log.info("bridge.released", claims=freed)
        except Exception:  # the leases expire by themselves anyway
            log.exception("bridge.release_failed")

    def reload(self, scheduler: BackgroundScheduler | None = None) -> bool:
        """Re-read configuration and mappings; apply them only if they are valid."""
        try:
            config, mapping, further_mappings = self._load_valid()
        except BridgeError as exc:
            log.error("bridge.reload_refused", error=str(exc), **exc.context())
            self._audit_configuration("refused", str(exc))
            return False
        self.rt.config = config
        self.rt.mapping = mapping
        self.rt.refresh_primary()
        for name, further in further_mappings.items():
            self.rt.bureaus[name].mapping = further
        self.leases.seconds = config.service.lease_seconds
        if scheduler is not None:
            for name, seconds in self.intervals().items():
                scheduler.reschedule_job(name, trigger="interval", seconds=seconds)
        with self.rt.store.begin() as conn:
            # a changed mapping may make more of a flow than before: the next
            # sweep maps every open flow again
            conn.execute(
                update(cases)
                .where(cases.c.flow_open.is_(True))
                .values(swept_digest=None)
            )
        log.info("bridge.reloaded", bureau=config.bureau)
        self._audit_configuration("changed")
        return True

    def _audit_configuration(self, outcome: str, detail: str = "") -> None:
        """An audit entry naming the configuration and mapping files in force
        (or refused), each with its SHA-256, so an auditor sees what changed."""
        files: dict[str, Path] = {}
        if self.config_path:
            files["config"] = Path(self.config_path)
        for bureau in self.rt.bureaus:
            for path in sorted((self.rt.config.mappings_dir / bureau).glob("*.yaml")):
                files[f"{bureau}/{path.name}"] = path
        digests = "; ".join(
            f"{label}={hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
            for label, path in files.items()
            if path.is_file()
        )
        with self.rt.store.begin() as conn:
            self.rt.store.audit(
                conn,
                system="bridge",
                operation="configuration",
                outcome=outcome,
                record_key=str(self.config_path or "defaults"),
                detail=" ".join(filter(None, [detail, digests])),
            )

    def _load_valid(self) -> tuple[Config, Any, dict[str, Any]]:
        from bridge.mapping import load_bureau
        from bridge.service.checks import problems_of

        if self.config_path is None:
            raise ConfigError("no configuration file to reload")
        config = load_config(self.config_path)
        problems = problems_of(config)
        changed = [
            name
            for name in RESTART_SECTIONS
            if getattr(config, name) != getattr(self.rt.config, name)
        ] + [
            f"{section}.{name}"
            for section, name in RESTART_SETTINGS
            if getattr(getattr(config, section), name)
            != getattr(getattr(self.rt.config, section), name)
        ]
        if changed:
            problems.append(f"{', '.join(changed)}: changed; needs a restart")
        if problems:
            raise ConfigError("; ".join(problems))
        further = {
            name: load_bureau(name, config.mappings_dir, config.schemas_dir)
            for name in config.bureaus
        }
        primary = load_bureau(config.bureau, config.mappings_dir, config.schemas_dir)
        return config, primary, further

    def close(self) -> None:
        self.deliverer.close()
        self.rt.store.dispose()


def _for_bureau(job: Callable[[Runtime, str], int], bureau: str, rt: Runtime) -> int:
    return job(rt, bureau)


def _retention(rt: Runtime) -> int:
    from bridge.audit.retention import purge_payloads

    removed = purge_payloads(rt.store)
    log.info("retention.finished", removed=removed)
    return removed


def _reconcile(rt: Runtime) -> int:
    from bridge.audit.reconcile import reconcile

    yesterday = datetime.now(ZoneInfo(rt.config.zone)).date() - timedelta(days=1)
    result = reconcile(rt, yesterday)
    found = len(result.discrepancies)
    log.info("reconcile.finished", day=yesterday.isoformat(), discrepancies=found)
    return found


def instance_name(config: Config, single: bool) -> str:
    """The configured name; else one per host on SQLite (a single instance, so a
    restart takes its leases back at once), else one per process."""
    if config.service.instance:
        return config.service.instance
    return f"{socket.gethostname()}:single" if single else holder_id()


def _safe_url(bridge: Bridge) -> str:
    return bridge.rt.store.engine.url.render_as_string(hide_password=True)
