"""Writing to the outbox, the case table and the dead-letter store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from lxml import etree
from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from bridge.errors import BridgeError
from bridge.store.driver import DriverStatement, compile_insert
from bridge.store.schema import cases, dead_letters, deliveries, seen_records

log = structlog.get_logger()


def digest(element: etree._Element) -> str:
    """SHA-256 of a record's canonical form: the same content, the same digest."""
    return hashlib.sha256(etree.tostring(element, method="c14n")).hexdigest()


#: one compiled insert per dialect, table and set of columns
_IGNORING: dict[tuple[str, str, tuple[str, ...]], DriverStatement] = {}


def _insert_ignore(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert unless a unique key is taken; True when the row was inserted.

    The outbox's most frequent statement, so it runs on the driver's cursor.
    """
    slot = (conn.dialect.name, table.name, tuple(values))
    statement = _IGNORING.get(slot)
    if statement is None:
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        insert_ignoring = dialect.insert(table).on_conflict_do_nothing()
        statement = _IGNORING[slot] = compile_insert(
            conn, table, insert_ignoring, list(values)
        )
    return bool(statement.execute(conn, values))


def already_seen(conn: Connection, system: str, key: str, version: str) -> bool:
    row = conn.execute(
        select(seen_records.c.id).where(
            seen_records.c.system == system,
            seen_records.c.record_key == key,
            seen_records.c.digest == version,
        )
    ).first()
    return row is not None


def seen_versions(
    conn: Connection, system: str, keys: Iterable[str]
) -> set[tuple[str, str]]:
    """The (key, digest) pairs already seen of ``keys``, in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    rows = conn.execute(
        select(seen_records.c.record_key, seen_records.c.digest).where(
            seen_records.c.system == system, seen_records.c.record_key.in_(wanted)
        )
    )
    return {(row.record_key, row.digest) for row in rows}


def mark_seen(
    conn: Connection, system: str, key: str, version: str, outcome: str
) -> None:
    _insert_ignore(
        conn,
        seen_records,
        {
            "system": system,
            "record_key": key,
            "digest": version,
            "outcome": outcome,
            "seen_at": datetime.now(UTC),
        },
    )


def add_case(
    conn: Connection,
    *,
    bureau: str,
    channel: str,
    matter_code: str,
    case_xml: str,
    case_number: str | None = None,
    filing_id: str | None = None,
) -> int | None:
    """Record a new case; None when a case with that key is already known."""
    now = datetime.now(UTC)
    inserted = _insert_ignore(
        conn,
        cases,
        {
            "bureau": bureau,
            "channel": channel,
            "matter_code": matter_code,
            "case_number": case_number,
            "filing_id": filing_id,
            "case_xml": case_xml,
            "state": "received",
            "flow_open": False,
            "created_at": now,
            "updated_at": now,
        },
    )
    if not inserted:
        return None
    found = _CASE_BY_FILING if filing_id else _CASE_BY_NUMBER
    row = conn.execute(found, {"b_key": filing_id or case_number})
    return int(row.scalar_one())


_CASE_BY_FILING = select(cases.c.id).where(cases.c.filing_id == bindparam("b_key"))
_CASE_BY_NUMBER = select(cases.c.id).where(cases.c.case_number == bindparam("b_key"))


def enqueue(
    conn: Connection,
    case_id: int,
    target: str,
    operation: str,
    dedupe_key: str,
    payload_xml: str | None = None,
) -> bool:
    """Add one delivery to the outbox unless the same one is there already."""
    now = datetime.now(UTC)
    return _insert_ignore(
        conn,
        deliveries,
        {
            "case_id": case_id,
            "target": target,
            "operation": operation,
            "dedupe_key": dedupe_key,
            "payload_xml": payload_xml,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


def dead_letter(
    conn: Connection,
    error: BridgeError,
    *,
    system: str,
    operation: str,
    record_key: str,
    payload: str | None,
    delivery_id: int | None = None,
) -> None:
    """Park a record or a delivery with its reason, for inspection and replay."""
    conn.execute(
        insert(dead_letters).values(
            system=error.system or system,
            operation=operation,
            record_key=record_key,
            field=error.field,
            error_class=type(error).__name__,
            reason=str(error),
            payload=payload,
            delivery_id=delivery_id,
            created_at=datetime.now(UTC),
        )
    )
    log.error(
        "record.dead_lettered",
        system=error.system or system,
        operation=operation,
        record=record_key,
        field=error.field,
        error=type(error).__name__,
        reason=error.message,
    )
