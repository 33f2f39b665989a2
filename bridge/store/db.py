"""Opening the store: the engine, SQLite pragmas, and small shared queries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.engine import make_url

from bridge.store.schema import watermarks

if TYPE_CHECKING:
    from bridge.audit.trail import AuditTrail
    from bridge.config import AuditConfig


#: Set by a lease holder (bridge/store/leases.py): raises to roll a write back.
commit_check: ContextVar[Callable[[Connection], None] | None] = ContextVar(
    "commit_check", default=None
)


#: A process frozen inside a transaction must not keep its row locks: the server
#: ends such a session, so another instance can take over (bridge/store/leases.py).
PG_SESSION_OPTIONS = "-c idle_in_transaction_session_timeout=10000"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # transactions are begun by _sqlite_begin, not by the driver
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE for the store's writes: the write lock is taken up front,
    so a transaction that read first never fails to upgrade; other
    transactions (reports, searches) begin deferred and only read."""
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """The bridge's database: one SQLAlchemy engine and its tables."""

    def __init__(self, engine: Engine, trail: AuditTrail | None = None) -> None:
        from bridge.audit.trail import AuditTrail

        self.engine = engine
        self.trail = trail or AuditTrail()
        # SQLite has one writer at a time: this process's threads queue here
        # for it, instead of in SQLite's busy handler, which sleeps up to
        # 100 ms between tries; other processes still wait in busy_timeout
        self._write_lock = threading.RLock() if self.is_sqlite else None
        self._writer = (
            engine.execution_options(sqlite_immediate=True)
            if self.is_sqlite
            else engine
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def create(self) -> None:
        """Bring the database to the newest schema (the Alembic migrations)."""
        from bridge.store.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction that may write (on SQLite: holding the write lock)."""
        with self._write_lock or nullcontext(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only look at the store (on SQLite it takes no write lock)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; a lease holder's ``commit_check`` runs before commit."""
        with self.writing() as conn, self.trail.batching(conn):
            yield conn
            self.trail.flush(conn)
            check = commit_check.get()
            if check is not None:
                check(conn)
        self.trail.after_commit(self.engine)

    def audit(
        self,
        conn: Connection,
        *,
        system: str,
        operation: str,
        outcome: str,
        case_number: str | None = None,
        record_key: str | None = None,
        detail: str | None = None,
        payload_digest: str | None = None,
        correlation_id: str | None = None,
        payload: str | None = None,
        duration_ms: int | None = None,
    ) -> None:
        """Append one entry to the chained audit log inside the caller's
        transaction; ``payload`` is kept apart under its own retention."""
        fields = {
            "at": datetime.now(UTC),
            "system": system,
            "operation": operation,
            "outcome": outcome,
            "case_number": case_number,
            "record_key": record_key,
            "detail": detail,
            "payload_digest": payload_digest,
            "correlation_id": correlation_id,
            "duration_ms": duration_ms,
        }
        self.trail.append(conn, fields, payload)

    def watermark(self, conn: Connection, source: str) -> tuple[str, str] | None:
        row = conn.execute(
            select(watermarks.c.cursor_time, watermarks.c.cursor_key).where(
                watermarks.c.source == source
            )
        ).first()
        return (row[0], row[1]) if row else None

    def set_watermark(
        self, conn: Connection, source: str, cursor_time: str, cursor_key: str
    ) -> None:
        values = {
            "cursor_time": cursor_time,
            "cursor_key": cursor_key,
            "updated_at": datetime.now(UTC),
        }
        updated = conn.execute(
            watermarks.update().where(watermarks.c.source == source).values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(insert(watermarks).values(source=source, **values))

    def dispose(self) -> None:
        self.trail.close(self.engine)
        self.engine.dispose()


def open_store(
    url: str, *, create: bool = True, audit: AuditConfig | None = None
) -> Store:
    """Open the store at a SQLAlchemy URL; SQLite files get their folder made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # the connection returned last is handed out next: SQLite keeps a
            # page cache per connection and drops it when another connection
            # wrote since, so reusing the one that wrote last saves re-reading
            # pages (an in-memory store has one connection per thread instead)
            pool["pool_use_lifo"] = True
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10,
                               connect_args={"options": PG_SESSION_OPTIONS})
    from bridge.audit.trail import AuditTrail

    store = Store(engine, AuditTrail(audit))
    if create:
        store.create()
    return store
