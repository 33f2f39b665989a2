"""Searching the audit log: by case, system, time, outcome or personal value.

Personal values are found by exact match through their keyed hash and never
shown in clear; every search is itself appended to the log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select

from bridge.audit.chain import CHAINED, at_text, person_hash
from bridge.logs import mask_text
from bridge.store import Store
from bridge.store.schema import audit_log, audit_personal

#: The fields a search shows: the chained ones but the hash algorithm.
SHOWN = CHAINED[:-1]


@dataclass
class Query:
    """What an auditor asks for; unset fields do not filter."""

    case_number: str | None = None
    system: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    person: str | None = None
    limit: int = 1000


def build(query: Query, secret: bytes) -> Select[Any]:
    """The SELECT for ``query``, newest entries last."""
    columns = [audit_log.c[name] for name in SHOWN]
    statement = select(*columns).order_by(audit_log.c.seq).limit(query.limit)
    if query.case_number:
        statement = statement.where(audit_log.c.case_number == query.case_number)
    if query.system:
        statement = statement.where(audit_log.c.system == query.system)
    if query.outcome:
        statement = statement.where(audit_log.c.outcome == query.outcome)
    if query.since:
        statement = statement.where(audit_log.c.at >= query.since.astimezone(UTC))
    if query.until:
        statement = statement.where(audit_log.c.at < query.until.astimezone(UTC))
    if query.person:
        hashed = select(audit_personal.c.seq).where(
            audit_personal.c.value_hash == person_hash(secret, query.person)
        )
        statement = statement.where(audit_log.c.seq.in_(hashed))
    return statement


def search(store: Store, query: Query, auditor: str) -> list[dict[str, Any]]:
    """Entries matching ``query``, masked; the search is logged as an entry."""
    secret = store.trail.secret()
    with store.engine.connect() as conn:
        rows = conn.execute(build(query, secret)).mappings().all()
    found = [_masked(row) for row in rows]

    with store.begin() as conn:
        store.audit(
            conn,
            system="audit",
            operation="search",
            outcome="ok",
            record_key=auditor,
            detail=_described(query, secret, len(found)),
        )
    return found


def _masked(row: Any) -> dict[str, Any]:
    shown = dict(row)
    shown["at"] = at_text(shown["at"])
    for name in ("record_key", "detail", "case_number"):
        if shown[name]:
            shown[name] = mask_text(str(shown[name]))
    return shown


def _described(query: Query, secret: bytes, count: int) -> str:
    asked = {k: v for k, v in asdict(query).items() if v is not None}
    if query.person:
        asked["person"] = "hmac:" + person_hash(secret, query.person)[:16]
    for name in ("since", "until"):
        if name in asked:
            asked[name] = at_text(asked[name])
    asked["found"] = count
    return json.dumps(asked, ensure_ascii=False, sort_keys=True)
