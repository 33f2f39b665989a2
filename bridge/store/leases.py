"""Leases: at most one holder per name at a time, with a fencing token.

A lease is a row in ``leases``: its holder, its token and when it expires. A
holder renews it by writing a later expiry; when it stops renewing, anyone may
take it over once it has expired, and the takeover raises the token. A holder
that restarts under the same name takes its leases back at once. Every write
the holder makes checks, in the same transaction, that the row still names it
with its token and has not expired, so a holder that was paused past its
expiry cannot write once it wakes up.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bridge.errors import TransientError
from bridge.store.db import Store, commit_check
from bridge.store.schema import leases

log = structlog.get_logger()


class FencedError(TransientError):
    """The lease behind a write was lost: the write is rolled back."""


def holder_id() -> str:
    """A name for this process that no other process has: host, pid, nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


class Leases:
    """The leases one process holds, on one store."""

    def __init__(self, store: Store, holder: str, seconds: float) -> None:
        self.store = store
        self.holder = holder
        self.seconds = seconds
        self.held: dict[str, int] = {}

    def acquire(self, name: str) -> int | None:
        """Renew or take the lease; its token when held, None when another has it."""
        now = _now()
        with self.store.writing() as conn:
            row = conn.execute(self._locked(conn, name)).first()
            if row is None:
                token = self._create(conn, name, now)
            elif row.holder == self.holder and self.held.get(name) == row.token:
                token = self._renew(conn, name, row.token, now)
            elif row.holder == self.holder or _aware(row.expires_at) <= now:
                token = self._take(conn, name, row.token, now)
            else:
                token = None
        self._note(name, token)
        return token

    def _locked(self, conn: Connection, name: str) -> Any:
        query = select(leases).where(leases.c.name == name)
        return query.with_for_update() if conn.dialect.name == "postgresql" else query

    def _create(self, conn: Connection, name: str, now: datetime) -> int | None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        inserted = conn.execute(
            dialect.insert(leases)
            .values(name=name, holder=self.holder, token=1, acquired_at=now,
                    expires_at=now + timedelta(seconds=self.seconds))
            .on_conflict_do_nothing()
            .returning(leases.c.token)
        )
        return inserted.scalar()

    def _renew(
        self, conn: Connection, name: str, token: int, now: datetime
    ) -> int | None:
        renewed = conn.execute(
            update(leases)
            .where(leases.c.name == name, leases.c.token == token,
                   leases.c.holder == self.holder)
            .values(expires_at=now + timedelta(seconds=self.seconds))
        )
        return token if renewed.rowcount == 1 else None

    def _take(
        self, conn: Connection, name: str, token: int, now: datetime
    ) -> int | None:
        taken = conn.execute(
            update(leases)
            .where(leases.c.name == name, leases.c.token == token)
            .values(holder=self.holder, token=token + 1, acquired_at=now,
                    expires_at=now + timedelta(seconds=self.seconds))
        )
        return token + 1 if taken.rowcount == 1 else None

    def _note(self, name: str, token: int | None) -> None:
        before = self.held.get(name)
        if token is None:
            self.held.pop(name, None)
            if before is not None:
                log.warning("lease.lost", lease=name, token=before)
            return
        self.held[name] = token
        if before != token:
            log.info("lease.acquired", lease=name, token=token, holder=self.holder)

    def check(self, conn: Connection, name: str, token: int) -> None:
        """Inside the caller's transaction: still ours and unexpired, or raise.

        The check renews the expiry, so a long job keeps its lease while it writes.
        """
        now = _now()
        kept = conn.execute(
            update(leases)
            .where(leases.c.name == name, leases.c.holder == self.holder,
                   leases.c.token == token, leases.c.expires_at > now)
            .values(expires_at=now + timedelta(seconds=self.seconds))
        )
        if kept.rowcount != 1:
            log.warning("lease.fenced", lease=name, token=token)
            raise FencedError("lease lost; write refused", operation=name,
                              detail=f"token {token}")

    @contextmanager
    def fenced(self, name: str, token: int) -> Iterator[None]:
        """Every store transaction in this context checks the lease before commit."""
        check: Callable[[Connection], None] = lambda conn: self.check(conn, name, token)
        reset = commit_check.set(check)
        try:
            yield
        finally:
            commit_check.reset(reset)

    def succeeded(self, name: str, token: int) -> None:
        """Note a successful run of the lease's job (what /healthz reports)."""
        with self.store.writing() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.token == token,
                       leases.c.holder == self.holder)
                .values(last_success_at=_now())
            )

    def release_all(self) -> None:
        """Let the leases expire now, so another process need not wait."""
        with self.store.writing() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.holder == self.holder)
                .values(expires_at=_now())
            )
        for name in list(self.held):
            log.info("lease.released", lease=name, token=self.held.pop(name))


def lease_rows(store: Store) -> list[Any]:
    """Every lease, by name."""
    with store.begin() as conn:
        return list(conn.execute(select(leases).order_by(leases.c.name)))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)



