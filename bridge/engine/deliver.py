"""Delivering the outbox: in order per case and target, with retries, read-back
after an ambiguous attempt, and dead letters for what cannot be delivered.

An attempt is noted (status ``inflight``, attempts + 1) and committed before the
write is sent. A delivery found with an earlier attempt may already be in the
target, so its handler first reads the target back and only sends when the
target does not hold it.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from lxml import etree
from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from bridge.clock import format_local
from bridge.engine.crash import crashpoint
from bridge.engine.hold import hold
from bridge.engine.outbox import dead_letter, digest
from bridge.engine.reads import read
from bridge.engine.runtime import Runtime
from bridge.errors import BridgeError, ConfigError, PermanentError, TransientError
from bridge.interchange import get, set_case_number
from bridge.service import metrics
from bridge.store.driver import Prepared
from bridge.store.leases import FencedError, holder_id
from bridge.store.schema import OPEN_DELIVERIES, cases, deliveries
from bridge.xmlutil import parse_xml, to_text

log = structlog.get_logger()

DONE_STATES = ("done", "stale")
#: operations whose handler needs the case number the center's registration
#: gives (they wait for it as NotReady anyway; the claim skips them meanwhile)
NEEDS_CASE_NUMBER = ("launch", "accept", "withdraw")
#: operations whose handler needs the flow the OA launch gives
NEEDS_FLOW = ("notify",)
#: (target, operation) of the flow's steps, kept in order per case and target
ORDERED = (("center", "step"), ("portal", "progress"))
#: per target of ORDERED steps: the writes after which a case's steps are stale
#: there (the center's completion or withdrawal, the portal's result or notice)
ENDINGS = {"center": ("finish", "withdraw"), "portal": ("publish", "withdrawn")}

#: one delivery of a case as the order of its steps sees it
Sibling = tuple[str, str, str]  # operation, status, de-duplication key


class NotReady(Exception):
    """The delivery waits for something another delivery provides."""


class Stale(Exception):
    """The event is older than the state the target already has: not sent."""


@dataclass
class Outcome:
    """What a delivered write produced, committed with its done mark."""

    result: str
    case_updates: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One claimed delivery and the case it belongs to."""

    id: int
    target: str
    operation: str
    attempts: int
    first_sent_at: datetime
    created_at: datetime
    payload: etree._Element | None
    case_id: int
    case_xml: str  # the case as the claim read it; parsed when a handler needs it
    case_number: str | None
    filing_id: str | None
    flow_id: int | None
    channel: str
    #: the case's bureau: its mapping and OA serve the handlers
    bureau: str | None = None
    #: for a step: its case's deliveries to the same target as the claim read
    #: them, to check the order of the steps against; None: read when needed
    siblings: list[Sibling] | None = None
    _case: etree._Element | None = field(default=None, init=False, repr=False)

    @property
    def retrying(self) -> bool:
        """An earlier attempt may have reached the target."""
        return self.attempts > 1

    @property
    def case(self) -> etree._Element:
        """The case's interchange document, parsed on first use.

        Not a ``functools.cached_property``: before Python 3.12 that holds one
        lock for every instance while it computes, and the delivery workers,
        each parsing its own job's case, would queue on it.
        """
        parsed = self._case
        if parsed is None:
            parsed = self._case = parse_xml(self.case_xml)
        return parsed


Handler = Callable[[Runtime, Job], Outcome]


#: a delivered write's done mark, fenced by this process's claim (built once)
_MARK_DONE = Prepared(
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.claim_owner == bindparam("b_owner"),
        deliveries.c.claim_token == bindparam("b_token"),
    )
    .values(
        status="done",
        result=bindparam("b_result"),
        done_at=bindparam("b_at"),
        claim_until=None,
    )
)

#: claimed deliveries with the cases they belong to (built once)
def _due_query() -> Select[tuple[int]]:
    """The due deliveries not yet claimed by another holder, those of the
    oldest cases first.

    Cases are numbered as they are read, so a case's later writes (a flow's
    steps, found by a sweep) come before the first writes of cases read
    after it: a backlog is carried through case by case, each result reaching
    its targets as soon as the systems allow, rather than every case launched
    first and all of them finished last.

    A delivery waits while an earlier one of its case to the same target is
    not done, and a write that needs the case number (or flow) another
    delivery provides waits until the case has it.
    """
    earlier = aliased(deliveries)
    blocked = exists().where(
        and_(
            earlier.c.case_id == deliveries.c.case_id,
            earlier.c.target == deliveries.c.target,
            earlier.c.id < deliveries.c.id,
            earlier.c.status.notin_(DONE_STATES),
        )
    )
    waiting = exists().where(
        and_(
            cases.c.id == deliveries.c.case_id,
            or_(
                and_(
                    deliveries.c.operation.in_(NEEDS_CASE_NUMBER),
                    cases.c.case_number.is_(None),
                ),
                and_(
                    deliveries.c.operation.in_(NEEDS_FLOW),
                    cases.c.flow_id.is_(None),
                ),
            ),
        )
    )
    now = bindparam("b_now")
    return (
        select(deliveries.c.id)
        .where(
            OPEN_DELIVERIES,
            deliveries.c.next_attempt_at <= now,
            or_(
                deliveries.c.claim_until.is_(None),
                deliveries.c.claim_until <= now,
                deliveries.c.claim_owner == bindparam("b_holder"),
            ),
            ~blocked,
            ~waiting,
        )
        .order_by(deliveries.c.case_id, deliveries.c.id)
        .limit(bindparam("b_limit"))
    )


_DUE = _due_query()
#: on PostgreSQL, rows another instance is claiming are skipped, not waited for
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True, of=deliveries)

_TAKE_CLAIMS = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(
        status="inflight",
        attempts=deliveries.c.attempts + 1,
        first_sent_at=func.coalesce(
            deliveries.c.first_sent_at,
            bindparam("b_now", type_=deliveries.c.first_sent_at.type),
        ),
        claim_owner=bindparam("b_owner"),
        claim_token=deliveries.c.claim_token + 1,
        claim_until=bindparam("b_until"),
    )
)

#: a case's deliveries to one target (a handful), for the order of its steps
_CASE_AT_TARGET = Prepared(
    select(deliveries.c.operation, deliveries.c.status, deliveries.c.dedupe_key).where(
        deliveries.c.case_id == bindparam("b_case"),
        deliveries.c.target == bindparam("b_target"),
    )
)

#: the deliveries of the claimed steps' cases, read with the claim
_SIBLINGS = select(
    deliveries.c.case_id,
    deliveries.c.target,
    deliveries.c.operation,
    deliveries.c.status,
    deliveries.c.dedupe_key,
).where(deliveries.c.case_id.in_(bindparam("b_cases", expanding=True)))

_JOB_ROWS = (
    select(
        deliveries,
        cases.c.case_xml,
        cases.c.case_number,
        cases.c.filing_id,
        cases.c.flow_id,
        cases.c.channel,
        cases.c.bureau,
    )
    .join(cases, cases.c.id == deliveries.c.case_id)
    .where(deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
)


@dataclass
class _Completion:
    """A delivered write waiting for its done mark to commit."""

    job: Job
    outcome: Outcome
    settled: threading.Event = field(default_factory=threading.Event)
    fenced: bool = False
    error: Exception | None = None


class Deliverer:
    """Runs due deliveries on a bounded thread pool."""

    def __init__(self, rt: Runtime, holder: str | None = None) -> None:
        self.rt = rt
        self.pool = ThreadPoolExecutor(
            max_workers=rt.config.delivery.workers, thread_name_prefix="deliver"
        )
        self._claimed: set[int] = set()
        self._lock = threading.Lock()
        self.holder = holder or holder_id()
        self.stopping = threading.Event()
        self._tokens: dict[int, int] = {}
        self._started: dict[int, float] = {}
        self._running: set[Future[bool]] = set()
        self._claiming = threading.Lock()
        self._drained = False
        self._claimed_at: dict[int, float] = {}
        self._rows: dict[int, Any] = {}  # claimed deliveries' rows, until started
        self._siblings: dict[int, list[Sibling]] = {}  # claimed steps' siblings
        self._pending: list[_Completion] = []
        self._pending_lock = threading.Lock()
        self._committing = threading.Lock()

    def close(self, wait: bool = True) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=wait, cancel_futures=True)

    def run_due(self, limit: int = 200, wait: bool = True) -> int:
        """Start what is due now on the pool.

        With ``wait`` (tests, catch-up passes) it returns how many deliveries
        finished. Without, it returns at once with how many it started: the
        daemon calls it on a schedule, and each finished delivery takes more in
        hand while some are due, so a slow answer holds one worker, never the
        others, and at most two deliveries per worker are in hand at a time.
        """
        if self.stopping.is_set():
            return 0
        with self._claiming:
            futures = self._start_due(limit)
        if not wait:
            for future in futures:
                future.add_done_callback(self._finished_then_refill)
            return len(futures)
        return sum(1 for future in futures if self._finished(future))

    def _start_due(self, limit: int) -> list[Future[bool]]:
        """Claim what fits in hand (up to ``limit``) and start it on the pool."""
        room = self.rt.config.delivery.workers * 2 - len(self._claimed_now())
        wanted = min(limit, room)
        ids = self._due(wanted) if wanted > 0 else []
        self._drained = len(ids) < wanted
        hold("deliver.after_claim", ids)
        futures = [self.pool.submit(self._deliver, delivery_id) for delivery_id in ids]
        self._track(futures)
        return futures

    def _finished_then_refill(self, future: Future[bool]) -> None:
        """After a delivery: take more in hand when half the window is free and
        the last claim found more than it took (else the next round will)."""
        self._finished(future)
        if self._drained or self.stopping.is_set():
            return
        if len(self._claimed_now()) > self.rt.config.delivery.workers:
            return
        if not self._claiming.acquire(blocking=False):
            return
        try:
            futures = self._start_due(200)
        except SQLAlchemyError as exc:
            log.warning("delivery.claim_failed", error=str(exc).splitlines()[0])
            return
        finally:
            self._claiming.release()
        for started in futures:
            started.add_done_callback(self._finished_then_refill)

    def _track(self, futures: list[Future[bool]]) -> None:
        with self._lock:
            self._running.update(futures)
        for future in futures:
            future.add_done_callback(self._untrack)

    def _untrack(self, future: Future[bool]) -> None:
        with self._lock:
            self._running.discard(future)

    def in_flight(self) -> int:
        """Deliveries started on the pool and not finished (cancelled ones count
        as finished): what a shutdown waits for."""
        with self._lock:
            return len(self._running)

    def _claimed_now(self) -> set[int]:
        with self._lock:
            return set(self._claimed)

    def _finished(self, future: Future[bool]) -> bool:
        try:
            return future.result()
        except CancelledError:
            return False
        except FencedError as exc:
            metrics.fenced.labels("delivery").inc()
            log.warning("delivery.gave_up", reason="claim lost", **exc.context())
            return False
        except SQLAlchemyError as exc:
            # the attempt stays in flight under this process's claim: the next
            # round takes it again and reads the target back before any resend
            log.warning("delivery.store_failed", error=str(exc).splitlines()[0])
            return False

    @property
    def _claim_seconds(self) -> float:
        return self.rt.config.service.lease_seconds

    def release_claims(self) -> int:
        """Free this process's claims on open deliveries (at shutdown); those
        claimed but never started lose the attempt their claim noted."""
        unsent = {}
        for delivery_id in list(self._rows):
            row = self._rows.pop(delivery_id, None)  # taken from under any worker
            self._siblings.pop(delivery_id, None)
            if row is not None:
                unsent[delivery_id] = row.claim_token
        self._unsend(unsent)
        with self.rt.store.begin() as conn:
            freed = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.claim_owner == self.holder,
                    deliveries.c.status.in_(("pending", "inflight")),
                )
                .values(claim_until=None)
            )
        return int(freed.rowcount or 0)

    def _fenced_update(self, conn: Connection, job: Job, **values: Any) -> None:
        """Update the delivery only while this process's claim on it stands."""
        moved = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == job.id,
                deliveries.c.claim_owner == self.holder,
                deliveries.c.claim_token == self._tokens.get(job.id, -1),
            )
            .values(**values)
        )
        if moved.rowcount != 1:
            raise FencedError(
                "delivery claimed by another process",
                system=job.target,
                operation=job.operation,
                record=str(job.id),
            )

    def _count(self, job: Job, outcome: str) -> None:
        metrics.deliveries.labels(job.target, job.operation, outcome).inc()
        started = self._started.pop(job.id, None)
        if started is not None:
            metrics.delivery_seconds.labels(job.target).observe(
                time.monotonic() - started
            )

    def _due(self, limit: int) -> list[int]:
        now = datetime.now(UTC)
        with self._lock:
            # the query returns this process's own claims too (one whose
            # worker gave it up is taken again at once): those in hand are
            # read past, not counted against the limit
            in_hand = len(self._claimed)
        params = {"b_now": now, "b_holder": self.holder, "b_limit": limit + in_hand}
        fresh: list[int] = []
        try:
            with self.rt.store.begin() as conn:
                query = _DUE_LOCKED if conn.dialect.name == "postgresql" else _DUE
                found = [row.id for row in conn.execute(query, params)]
                with self._lock:
                    fresh = [i for i in found if i not in self._claimed][:limit]
                    self._claimed.update(fresh)
                self._take_claims(conn, fresh, now)
        except Exception:
            # the claim did not commit: these ids are not in hand after all
            with self._lock:
                self._claimed.difference_update(fresh)
            for delivery_id in fresh:
                self._tokens.pop(delivery_id, None)
                self._claimed_at.pop(delivery_id, None)
                self._rows.pop(delivery_id, None)
                self._siblings.pop(delivery_id, None)
            raise
        return fresh

    def _take_claims(self, conn: Connection, ids: list[int], now: datetime) -> None:
        """Mark ``ids`` as claimed by this process, each with a new fencing token,
        and note their attempts (committed before anything is sent)."""
        if not ids:
            return
        conn.execute(
            _TAKE_CLAIMS,
            {
                "b_ids": ids,
                "b_now": now,
                "b_owner": self.holder,
                "b_until": now + timedelta(seconds=self._claim_seconds),
            },
        )
        rows = conn.execute(_JOB_ROWS, {"b_ids": ids}).all()
        siblings = _siblings_of(conn, rows)
        claimed_at = time.monotonic()
        self._tokens.update({row.id: row.claim_token for row in rows})
        self._siblings.update(siblings)
        self._rows.update({row.id: row for row in rows})
        self._claimed_at.update({delivery_id: claimed_at for delivery_id in ids})

    def _deliver(self, delivery_id: int) -> bool:
        try:
            job = self._claim(delivery_id)
            if job is None:
                return False
            return self._attempt(job)
        finally:
            with self._lock:
                self._claimed.discard(delivery_id)
            self._tokens.pop(delivery_id, None)
            self._claimed_at.pop(delivery_id, None)
            self._rows.pop(delivery_id, None)
            self._siblings.pop(delivery_id, None)

    def _claim_fresh(self, delivery_id: int) -> bool:
        """Whether this process's claim has at least half its lease left."""
        claimed_at = self._claimed_at.get(delivery_id)
        if claimed_at is None:
            return False
        return time.monotonic() - claimed_at < self._claim_seconds / 2

    def _renew_claim(self, delivery_id: int, token: int) -> bool:
        """Extend the claim to a full lease, if it still stands; False when
        another process may have taken it over."""
        now = datetime.now(UTC)
        with self.rt.store.begin() as conn:
            renewed = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.claim_owner == self.holder,
                    deliveries.c.claim_token == token,
                    deliveries.c.claim_until > now,
                )
                .values(claim_until=now + timedelta(seconds=self._claim_seconds))
            )
        if renewed.rowcount != 1:
            return False
        self._claimed_at[delivery_id] = time.monotonic()
        return True

    def _unsend(self, claimed: dict[int, int]) -> int:
        """Take back the attempts the claim noted for deliveries (id: token)
        that were never sent, so a later round does not take them for
        retries; frees their claims."""
        if not claimed:
            return 0
        left = deliveries.c.attempts - 1
        moved = 0
        with self.rt.store.begin() as conn:
            for delivery_id, token in claimed.items():
                moved += conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.claim_owner == self.holder,
                        deliveries.c.claim_token == token,
                        deliveries.c.status == "inflight",
                        deliveries.c.attempts > 0,
                    )
                    .values(
                        attempts=left,
                        status=sql_case((left == 0, "pending"), else_="inflight"),
                        first_sent_at=sql_case(
                            (left == 0, None), else_=deliveries.c.first_sent_at
                        ),
                        claim_until=None,
                    )
                ).rowcount
        return moved

    def _claim(self, delivery_id: int) -> Job | None:
        """The claimed delivery as a job (its row as the claim read it), if
        this process's claim still stands (the fence before the send; the
        claim noted the attempt, and a claim with less than half its lease
        left is renewed first)."""
        row = self._rows.pop(delivery_id, None)  # read when it was claimed
        siblings = self._siblings.pop(delivery_id, None)
        token = self._tokens.get(delivery_id)
        if row is None or token is None or row.claim_token != token:
            return None
        if self.stopping.is_set():
            self._unsend({delivery_id: token})
            return None
        if not self._claim_fresh(delivery_id) and not self._renew_claim(
            delivery_id, token
        ):
            metrics.fenced.labels("delivery").inc()
            log.warning(
                "delivery.gave_up",
                reason="claim lost before send",
                delivery=delivery_id,
                token=token,
            )
            return None
        now = datetime.now(UTC)
        self._started[delivery_id] = time.monotonic()
        return Job(
            id=row.id,
            target=row.target,
            operation=row.operation,
            attempts=row.attempts,
            first_sent_at=_aware(row.first_sent_at) or now,
            created_at=_aware(row.created_at),
            payload=parse_xml(row.payload_xml) if row.payload_xml else None,
            case_id=row.case_id,
            case_xml=row.case_xml,
            case_number=row.case_number,
            filing_id=row.filing_id,
            flow_id=row.flow_id,
            channel=row.channel,
            bureau=row.bureau,
            siblings=siblings,
        )

    def _attempt(self, job: Job) -> bool:
        handler = HANDLERS[(job.target, job.operation)]
        crashpoint("deliver.before_send")
        try:
            outcome = handler(self.rt, job)
        except NotReady:
            self._postpone(job, seconds=0.5, count_attempt=False)
            return False
        except Stale as reason:
            self._stale(job, str(reason))
            return False
        except TransientError as exc:
            self._failed(job, exc)
            return False
        except PermanentError as exc:
            self._dead(job, exc)
            return False
        crashpoint("deliver.after_send")
        crashpoint(f"deliver.after_send:{job.target}.{job.operation}")
        self._done(job, outcome)
        return True

    def _done(self, job: Job, outcome: Outcome) -> None:
        """Record a delivered write; it is committed together with the other
        workers' waiting ones (one transaction, one chain head for the lot)."""
        mine = _Completion(job, outcome)
        with self._pending_lock:
            self._pending.append(mine)
        self._settle(mine)
        if mine.error is not None:
            raise mine.error
        if mine.fenced:
            raise FencedError(
                "delivery claimed by another process",
                system=job.target,
                operation=job.operation,
                record=str(job.id),
            )
        self._count(job, "delivered")
        metrics.records_out.labels(job.target).inc()
        log.info(
            "delivery.done",
            target=job.target,
            operation=job.operation,
            case=outcome.case_updates.get("case_number", job.case_number),
            attempts=job.attempts,
            result=outcome.result,
        )

    def _settle(self, mine: _Completion) -> None:
        """Wait until ``mine`` is committed, committing the waiting ones
        (``mine`` among them) when no other worker is doing so."""
        while not mine.settled.is_set():
            if not self._committing.acquire(blocking=False):
                mine.settled.wait(0.05)
                continue
            while True:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        # released under the pending lock: a completion added
                        # after this finds the committing lock free
                        self._committing.release()
                        break
                self._commit_done(batch)

    def _commit_done(self, batch: list[_Completion]) -> None:
        """One transaction for ``batch``; a delivery whose claim was lost is
        left out of it, a store failure is every one's error. Never raises."""
        try:
            with self.rt.store.begin() as conn:
                for item in batch:
                    item.fenced = not self._write_done(conn, item.job, item.outcome)
        except Exception as exc:  # noqa: BLE001 - handed to each waiting worker
            for item in batch:
                item.error = exc
        for item in batch:
            item.settled.set()

    def _write_done(self, conn: Connection, job: Job, outcome: Outcome) -> bool:
        """The done mark, case updates and audit entry of one delivery; False
        (and nothing written) when this process's claim no longer stands."""
        moved = _MARK_DONE.execute(
            conn,
            {
                "b_id": job.id,
                "b_owner": self.holder,
                "b_token": self._tokens.get(job.id, -1),
                "b_result": outcome.result,
                "b_at": datetime.now(UTC),
            },
        )
        if moved != 1:
            return False
        if outcome.case_updates:
            statement, params = _case_update(job.case_id, outcome.case_updates)
            statement.execute(conn, params)
        number = outcome.case_updates.get("case_number", job.case_number)
        self.rt.store.audit(
            conn,
            system=job.target,
            operation=job.operation,
            outcome="delivered",
            case_number=number,
            record_key=job.filing_id or number,
            detail=outcome.result,
            payload_digest=digest(job.payload if job.payload is not None else job.case),
        )
        return True

    def _postpone(self, job: Job, seconds: float, count_attempt: bool) -> None:
        values: dict[str, Any] = {
            "next_attempt_at": datetime.now(UTC) + timedelta(seconds=seconds),
            "claim_until": None,
        }
        if not count_attempt:
            values["attempts"] = job.attempts - 1
            values["status"] = "pending" if job.attempts == 1 else "inflight"
        with self.rt.store.begin() as conn:
            self._fenced_update(conn, job, **values)
        self._started.pop(job.id, None)

    def _failed(self, job: Job, error: TransientError) -> None:
        policy = self.rt.config.delivery
        age = (datetime.now(UTC) - job.created_at).total_seconds()
        if job.attempts >= policy.max_attempts or age > policy.max_age_seconds:
            self._dead(job, error)
            return
        backoff = min(
            policy.backoff_max_seconds,
            policy.backoff_base_seconds * 2 ** (job.attempts - 1),
        ) * (0.5 + random.random())
        with self.rt.store.begin() as conn:
            self._fenced_update(
                conn,
                job,
                last_error=str(error),
                claim_until=None,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=backoff),
            )
            self._audit(
                conn,
                job,
                "failed",
                f"attempt {job.attempts}, retry in {backoff:.1f} s: {error}",
            )
        self._count(job, "retried")
        metrics.retries.labels(job.target).inc()
        log.warning(
            "delivery.retry",
            target=job.target,
            operation=job.operation,
            case=job.case_number,
            attempts=job.attempts,
            error=str(error),
            retry_in_s=round(backoff, 2),
        )

    def _audit(self, conn: Connection, job: Job, outcome: str, detail: str) -> None:
        """The audit entry of an attempt's outcome, keyed by the job's case."""
        self.rt.store.audit(
            conn,
            system=job.target,
            operation=job.operation,
            outcome=outcome,
            case_number=job.case_number,
            record_key=job.filing_id or job.case_number,
            detail=detail,
        )

    def _stale(self, job: Job, reason: str) -> None:
        """Record an event the target has outgrown; it is never sent."""
        with self.rt.store.begin() as conn:
            self._fenced_update(
                conn, job, status="stale", last_error=reason, claim_until=None
            )
            self._audit(conn, job, "stale", reason)
        log.info(
            "delivery.stale",
            target=job.target,
            operation=job.operation,
            case=job.case_number,
            reason=reason,
        )

    def _dead(self, job: Job, error: BridgeError) -> None:
        key = job.case_number or job.filing_id or str(job.case_id)
        with self.rt.store.begin() as conn:
            self._fenced_update(
                conn, job, status="dead", last_error=str(error), claim_until=None
            )
            dead_letter(
                conn,
                error,
                system=job.target,
                operation=job.operation,
                record_key=key,
                payload=to_text(job.payload if job.payload is not None else job.case),
                delivery_id=job.id,
            )
            self.rt.store.audit(
                conn,
                system=job.target,
                operation=job.operation,
                outcome="dead-lettered",
                case_number=job.case_number,
                record_key=key,
                detail=str(error),
            )
        self._count(job, "dead")


def _siblings_of(conn: Connection, rows: list[Any]) -> dict[int, list[Sibling]]:
    """For each claimed step among ``rows``: its case's deliveries to the same
    target, in one query for the lot (on SQLite; elsewhere none, and each step
    reads them before it is sent).

    On SQLite, where writers take turns, a delivery's id follows the order of
    the commits, so the claim reads what the send would read: an earlier
    delivery of the case to that target is done before the step can be
    claimed, a later one waits for the step, and rows are only ever added. On
    PostgreSQL an id is drawn before its transaction commits: an earlier
    delivery (a withdrawal) can appear after the claim.
    """
    if conn.dialect.name != "sqlite":
        return {}
    steps = [row for row in rows if (row.target, row.operation) in ORDERED]
    if not steps:
        return {}
    by_case: dict[tuple[int, str], list[Sibling]] = {}
    for case_id, target, operation, status, key in conn.execute(
        _SIBLINGS, {"b_cases": sorted({row.case_id for row in steps})}
    ):
        by_case.setdefault((case_id, target), []).append((operation, status, key))
    return {row.id: by_case.get((row.case_id, row.target), []) for row in steps}


FINAL_STATES = ("completed", "withdrawn")


def _case_update(
    case_id: int, updates: dict[str, Any]
) -> tuple[Prepared, dict[str, Any]]:
    """The statement (built once per shape) and parameters of a delivery's
    case updates. They leave a completed or withdrawn case so: a delivery that
    finishes after the case ended (a flow launched just before a withdrawal)
    neither revives its state nor reopens its flow for sweeping."""
    shape = tuple(
        sorted(
            (
                key,
                value in FINAL_STATES
                if key == "state"
                else bool(value)
                if key == "flow_open"
                else None,
            )
            for key, value in updates.items()
        )
    )
    params: dict[str, Any] = {"b_case": case_id, "b_updated_at": datetime.now(UTC)}
    for key, flag in shape:
        if (key, flag) not in (("state", False), ("flow_open", True)):
            params[f"b_{key}"] = updates[key]
        elif key == "state":
            params["b_state"] = updates[key]
    return _case_statement(shape), params


@functools.lru_cache(maxsize=64)
def _case_statement(shape: tuple[tuple[str, bool | None], ...]) -> Prepared:
    ended = or_(*(cases.c.state == state for state in FINAL_STATES))
    values: dict[str, Any] = {"updated_at": bindparam("b_updated_at")}
    for key, flag in shape:
        if key == "state" and flag is False:
            values[key] = sql_case((ended, cases.c.state), else_=bindparam("b_state"))
        elif key == "flow_open" and flag is True:
            values[key] = sql_case((ended, False), else_=True)
        else:
            values[key] = bindparam(f"b_{key}")
    return Prepared(
        update(cases).where(cases.c.id == bindparam("b_case")).values(**values)
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# -- handlers: one per (target, operation) ---------------------------------------


def _mapping(rt: Runtime, job: Job) -> Any:
    """The mapping of the case's bureau."""
    return rt.bureau(job.bureau).mapping


def _oa(rt: Runtime, job: Job) -> Any:
    """The OA adapter of the case's bureau."""
    oa = rt.bureau(job.bureau).oa
    if oa is None:
        raise ConfigError(
            f"bureau {job.bureau} has no OA",
            system="oa",
            operation=job.operation,
            record=job.case_number,
        )
    return oa


def _docs(job: Job, name: str | None) -> dict[str, etree._Element]:
    docs = {"case": job.case}
    if name is not None and job.payload is not None:
        docs[name] = job.payload
    return docs


def center_register(rt: Runtime, job: Job) -> Outcome:
    number = None
    if job.retrying:
        held = read(rt.center.get_apply_info, filing_id=job.filing_id)
        if held is not None:
            number = held.findtext(".//SBLSH_SHORT")
    if not number:
        message = _mapping(rt, job).outbound("center", "registration", _docs(job, None))
        number, _ = rt.center.register_online_case(message.root)
    set_case_number(job.case, number)
    return Outcome(
        result=number,
        case_updates={
            "case_number": number,
            "case_xml": to_text(job.case),
            "state": "registered",
        },
    )


def _center_holds(rt: Runtime, job: Job, path: str) -> bool:
    held = read(
        rt.center.get_apply_info,
        case_number=job.case_number,
        matter_code=get(job.case, "matter/code"),
    )
    return held is not None and bool(held.xpath(path))


def center_accept(rt: Runtime, job: Job) -> Outcome:
    if job.case_number is None:
        raise NotReady
    if job.retrying and _center_holds(rt, job, ".//SPSHOULI[normalize-space(SLSJ)]"):
        return Outcome("already held")
    message = _mapping(rt, job).outbound("center", "acceptance", _docs(job, None))
    outcome = rt.center.accept(message.root)
    return Outcome(outcome.value, {"state": "accepted"})


def _in_order(rt: Runtime, job: Job) -> None:
    """Keep a case's steps in order at a target.

    A step for a case whose end (ENDINGS: its completion or result, or its
    withdrawal) the target already has is stale. A step whose predecessor has
    not been seen yet waits for it, up to ``delivery.order_wait_seconds``, and
    is then sent anyway.
    """
    seq = int(get(job.payload, "seq"))
    predecessor = f"{job.target}:{job.operation}:{job.case_id}:{seq - 1}"
    rows = job.siblings
    if rows is None:
        with rt.store.reading() as conn:
            rows = _CASE_AT_TARGET.rows(
                conn, {"b_case": job.case_id, "b_target": job.target}
            )
    endings = ENDINGS[job.target]
    ended = next(
        (
            operation
            for operation, status, _key in rows
            if operation in endings and status == "done"
        ),
        None,
    )
    before = next((key for _op, _status, key in rows if key == predecessor), None)
    if ended is not None:
        raise Stale(f"step {seq} arrived after the case's {ended}")
    waited = (datetime.now(UTC) - job.created_at).total_seconds()
    if seq > 1 and before is None:
        if waited < rt.config.delivery.order_wait_seconds:
            raise NotReady
        log.warning(
            "delivery.predecessor_missing",
            target=job.target,
            case=job.case_number,
            seq=seq,
            waited_s=round(waited),
        )


def center_step(rt: Runtime, job: Job) -> Outcome:
    _in_order(rt, job)
    seq = get(job.payload, "seq")
    path = f".//GDBSSPCL[normalize-space(SPHJXH)='{int(seq)}']"
    if job.retrying and _center_holds(rt, job, path):
        return Outcome("already held")
    message = _mapping(rt, job).outbound("center", "step", _docs(job, "stepEvent"))
    return Outcome(rt.center.record_step(message.root).value)


def center_finish(rt: Runtime, job: Job) -> Outcome:
    if job.retrying and _center_holds(rt, job, ".//SPBANJIE[normalize-space(BJJGDM)]"):
        return Outcome("already held", {"state": "completed"})
    message = _mapping(rt, job).outbound("center", "completion", _docs(job, "result"))
    return Outcome(rt.center.finish(message.root).value, {"state": "completed"})


def _find_flow(rt: Runtime, job: Job) -> int | None:
    """Look for a flow launched for this case by an earlier, unconfirmed attempt.

    Lists the flows started around the first attempt (widened by the clock-skew
    allowance) and reads the form of each flow not linked to another case.
    """
    skew = timedelta(seconds=rt.config.poll.clock_skew_seconds + 60)
    begin = format_local(job.first_sent_at - skew, rt.config.zone)
    end = format_local(datetime.now(UTC) + skew, rt.config.zone)
    oa = _oa(rt, job)
    listed = read(oa.list_flow_ids, begin, end)
    with rt.store.reading() as conn:
        linked = {
            row.flow_id
            for row in conn.execute(
                select(cases.c.flow_id).where(
                    cases.c.flow_id.in_(listed), cases.c.bureau == job.bureau
                )
            )
        }
    for flow_id in listed:
        if flow_id in linked:
            continue
        exported = read(oa.export_flow, flow_id)
        values = exported.xpath(".//formExport/values/column/value/text()")
        if job.case_number in (value.strip() for value in values):
            return int(flow_id)
    return None


def oa_launch(rt: Runtime, job: Job) -> Outcome:
    if job.case_number is None:
        raise NotReady
    flow_id = _find_flow(rt, job) if job.retrying else None
    if flow_id is None:
        message = _mapping(rt, job).outbound("oa", "launch", _docs(job, None))
        attachments = _upload_attachments(rt, job)
        flow_id = _oa(rt, job).launch(
            message.params["templateCode"],
            message.params.get("subject", ""),
            to_text(message.root, declaration=True),
            attachments,
            record=job.case_number,
        )
    sweep_at = datetime.now(UTC) + timedelta(
        seconds=rt.config.poll.sweep_interval_seconds
    )
    return Outcome(
        str(flow_id),
        {
            "flow_id": flow_id,
            "flow_open": True,
            "next_sweep_at": sweep_at,
            "state": "in_approval",
        },
    )


def _upload_attachments(rt: Runtime, job: Job) -> list[int]:
    """Copy an online case's attachments from the portal to the OA."""
    if job.channel != "online":
        return []
    ids = []
    for attachment_id in job.case.xpath(
        ".//*[local-name()='material']/*[local-name()='attachmentId']/text()"
    ):
        fetched = read(rt.portal.get_attachment, attachment_id.strip())
        ids.append(
            _oa(rt, job).upload(fetched.file_name, fetched.content, fetched.media_type)
        )
    return ids


def portal_progress(rt: Runtime, job: Job) -> Outcome:
    _in_order(rt, job)
    message = _mapping(rt, job).outbound("portal", "progress", _docs(job, "stepEvent"))
    return Outcome(rt.portal.post_progress(message.params).value)


def portal_publish(rt: Runtime, job: Job) -> Outcome:
    if job.retrying and read(rt.portal.get_publication, job.case_number):
        return Outcome("already held")
    message = _mapping(rt, job).outbound("portal", "publication", _docs(job, "result"))
    return Outcome(rt.portal.publish_result(message.params).value)


def _center_suspension(rt: Runtime, job: Job, kind: str, block: str) -> Outcome:
    """A suspension's start or end (by XH, the pausing node's serial number)."""
    serial = int(get(job.payload, "seq"))
    path = f".//{block}[normalize-space(XH)='{serial}']"
    if job.retrying and _center_holds(rt, job, path):
        return Outcome("already held")
    message = _mapping(rt, job).outbound("center", kind, _docs(job, kind))
    return Outcome(rt.center.suspend(message.root).value)


def center_suspend(rt: Runtime, job: Job) -> Outcome:
    return _center_suspension(rt, job, "suspension", "SPTEBIESHENQING")


def center_resume(rt: Runtime, job: Job) -> Outcome:
    return _center_suspension(rt, job, "resumption", "SPTEBIEJIEGUO")


def center_withdraw(rt: Runtime, job: Job) -> Outcome:
    if job.case_number is None:
        raise NotReady
    if job.retrying and _center_holds(rt, job, ".//SPBANJIE[normalize-space(BJJGDM)]"):
        return Outcome("already held", {"state": "withdrawn"})
    message = _mapping(rt, job).outbound(
        "center", "withdrawal", _docs(job, "withdrawal")
    )
    return Outcome(rt.center.finish(message.root).value, {"state": "withdrawn"})


def withdrawal_notice(job: Job) -> str:
    """The text the flow's handlers receive when the applicant withdraws."""
    matter = get(job.case, "matter/name")
    return (
        f"办件 {job.case_number}（{matter}）申请人已撤回，请停止办理。"
        f"Case {job.case_number} was withdrawn by the applicant."
    )


def oa_notify(rt: Runtime, job: Job) -> Outcome:
    """Tell the handlers of a withdrawn case's flow (messageService)."""
    if job.flow_id is None:
        raise NotReady
    oa = _oa(rt, job)
    exported = read(oa.export_flow, job.flow_id)
    logins = sorted(
        {
            login.strip()
            for login in exported.xpath("//processRecord/node/handlerLogin/text()")
            if login.strip()
        }
    ) or [oa.sender_login]
    oa.notify(logins, withdrawal_notice(job))
    return Outcome(",".join(logins))


def portal_withdrawn(rt: Runtime, job: Job) -> Outcome:
    """Publish a withdrawal recorded at the center as the case's result."""
    if job.retrying and read(rt.portal.get_publication, job.case_number):
        return Outcome("already held")
    message = _mapping(rt, job).outbound(
        "portal", "withdrawal", _docs(job, "withdrawal")
    )
    return Outcome(rt.portal.publish_result(message.params).value)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("center", "register"): center_register,
    ("center", "accept"): center_accept,
    ("center", "step"): center_step,
    ("center", "finish"): center_finish,
    ("oa", "launch"): oa_launch,
    ("portal", "progress"): portal_progress,
    ("portal", "publish"): portal_publish,
    ("center", "withdraw"): center_withdraw,
    ("center", "suspend"): center_suspend,
    ("center", "resume"): center_resume,
    ("oa", "notify"): oa_notify,
    ("portal", "withdrawn"): portal_withdrawn,
}
