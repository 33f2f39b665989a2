"""The hash chain: which fields an entry's hash covers, and appending one entry.

Entry ``seq`` hashes ``prev_hash + "\\n" + canonical(values)``; the first entry's
``prev_hash`` is :data:`GENESIS`. Appends take the chain head row with an
UPDATE first, so on PostgreSQL the row lock (and on SQLite the write lock)
orders concurrent appends until the caller's transaction ends.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from bridge.audit.crypto import digest
from bridge.store.driver import DriverStatement, Prepared, compile_insert
from bridge.store.schema import audit_head, audit_log, audit_payloads, audit_personal

GENESIS = "0" * 64

#: The entry fields the hash covers, in this order.
CHAINED = (
    "seq",
    "at",
    "system",
    "operation",
    "outcome",
    "case_number",
    "record_key",
    "detail",
    "payload_digest",
    "correlation_id",
    "duration_ms",
    "hash_alg",
)

#: Resident ID numbers (18 characters) and mainland mobiles inside a payload.
PERSONAL = re.compile(
    r"(?<![0-9A-Za-z])(?:[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx]|1[3-9][0-9]{9})"
    r"(?![0-9A-Za-z])"
)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def at_text(value: datetime) -> str:
    """The one text form of an entry time: UTC, microseconds, ``Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def canonical(values: Sequence[Any]) -> bytes:
    """The bytes an entry's hash covers: its CHAINED values as one JSON array."""
    listed = list(values)
    if isinstance(listed[1], datetime):
        listed[1] = at_text(listed[1])
    return _ENCODER.encode(listed).encode("utf-8")


def hash_values(prev_hash: str, values: Sequence[Any]) -> str:
    """The hash of an entry given as its CHAINED values, after ``prev_hash``."""
    data = prev_hash.encode("ascii") + b"\n" + canonical(values)
    return digest(str(values[-1]), data)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The hash of ``entry`` following ``prev_hash``, by the entry's algorithm."""
    return hash_values(prev_hash, [entry.get(name) for name in CHAINED])


def person_hash(secret: bytes, value: str) -> str:
    """The keyed hash that makes a personal value searchable by exact match."""
    return hmac.new(secret, value.strip().upper().encode(), "sha256").hexdigest()


#: the chain head, bumped by a count and read back in one statement
_BUMP = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + bindparam("count"))
    .returning(audit_head.c.seq, audit_head.c.head_hash)
)
_SET_HEAD = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(head_hash=bindparam("head"))
)
#: the entries' insert, compiled once per dialect and set of columns
_INSERTS: dict[tuple[str, tuple[str, ...]], DriverStatement] = {}


def _take_head(conn: Connection, count: int = 1) -> tuple[int, str]:
    """Reserve ``count`` sequence numbers at the chain head; the first of them
    and the head hash they follow."""
    rows = _BUMP.rows(conn, {"count": count})
    if not rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        first = dialect.insert(audit_head).values(id=1, seq=0, head_hash=GENESIS)
        conn.execute(first.on_conflict_do_nothing(index_elements=["id"]))
        rows = _BUMP.rows(conn, {"count": count})
    seq, head = rows[0]
    return int(seq) - count + 1, str(head)


def _insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the entries ``rows`` (each with the same columns) in one call."""
    columns = tuple(rows[0])
    slot = (conn.dialect.name, columns)
    statement = _INSERTS.get(slot)
    if statement is None:
        statement = _INSERTS[slot] = compile_insert(
            conn, audit_log, insert(audit_log), list(columns)
        )
    statement.execute_many(conn, rows)


def append(
    conn: Connection,
    fields: Mapping[str, Any],
    *,
    hash_alg: str = "sha256",
    payload: str | None = None,
    retention: timedelta = timedelta(days=365),
    secret: bytes = b"",
) -> int:
    """Append one entry inside the caller's transaction; returns its ``seq``."""
    return append_many(
        conn,
        [(fields, payload)],
        hash_alg=hash_alg,
        retention=retention,
        secret=secret,
    )[0]


def append_many(
    conn: Connection,
    entries: Sequence[tuple[Mapping[str, Any], str | None]],
    *,
    hash_alg: str = "sha256",
    retention: timedelta = timedelta(days=365),
    secret: bytes = b"",
) -> list[int]:
    """Append entries (fields, payload) in order inside the caller's
    transaction, taking the head once; returns their ``seq`` numbers."""
    if not entries:
        return []
    seq, prev = _take_head(conn, len(entries))
    rows = []
    kept = []
    for fields, payload in entries:
        entry = {**fields, "seq": seq, "hash_alg": hash_alg}
        entry["at"] = (entry.get("at") or datetime.now(UTC)).astimezone(UTC)
        if payload is not None and not entry.get("payload_digest"):
            entry["payload_digest"] = digest(hash_alg, payload.encode("utf-8"))
        prev = entry_hash(prev, entry)
        rows.append({**entry, "entry_hash": prev})
        if payload is not None:
            kept.append((seq, entry["at"], payload))
        seq += 1

    columns = sorted({name for row in rows for name in row})
    _insert_entries(conn, [{name: row.get(name) for name in columns} for row in rows])
    _SET_HEAD.execute(conn, {"head": prev})
    for entry_seq, at, payload in kept:
        _keep_payload(conn, entry_seq, at, payload, retention, secret)
    return [row["seq"] for row in rows]


def _keep_payload(
    conn: Connection,
    seq: int,
    at: datetime,
    payload: str,
    retention: timedelta,
    secret: bytes,
) -> None:
    conn.execute(
        insert(audit_payloads).values(
            seq=seq, payload=payload, expires_at=at + retention
        )
    )
    values = sorted({match.group(0) for match in PERSONAL.finditer(payload)})
    if values and secret:
        rows = [{"seq": seq, "value_hash": person_hash(secret, v)} for v in values]
        conn.execute(insert(audit_personal), rows)
