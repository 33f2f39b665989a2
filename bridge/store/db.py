"""Opening the store: the engine, SQLite pragmas, and small shared queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The bridge's database: one SQLAlchemy engine and its tables."""

    def __init__(self, engine: Engine, trail: AuditTrail | None = None) -> None:
        from bridge.audit.trail import AuditTrail

        self.engine = engine
        self.trail = trail or AuditTrail()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def create(self) -> None:
        """Bring the database to the newest schema (the Alembic migrations)."""
        from bridge.store.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; a lease holder's ``commit_check`` runs before commit."""
        with self.engine.begin() as conn:
            yield conn
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
    ) -> int:
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
        return self.trail.append(conn, fields, payload)

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
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10,
                               connect_args={"options": PG_SESSION_OPTIONS})
    from bridge.audit.trail import AuditTrail

    store = Store(engine, AuditTrail(audit))
    if create:
        store.create()
    return store
