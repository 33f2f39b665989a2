"""Payload retention: payloads go when their period ends; the chain stays whole,
since it covers only each payload's digest."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import delete, select

from bridge.store import Store
from bridge.store.schema import audit_payloads, audit_personal

log = structlog.get_logger()


def purge_payloads(store: Store, now: datetime | None = None) -> int:
    """Delete payloads (and their personal-value hashes) past retention."""
    moment = now or datetime.now(UTC)
    expired = select(audit_payloads.c.seq).where(audit_payloads.c.expires_at < moment)
    with store.begin() as conn:
        conn.execute(delete(audit_personal).where(audit_personal.c.seq.in_(expired)))
        removed = conn.execute(
            delete(audit_payloads).where(audit_payloads.c.expires_at < moment)
        ).rowcount
    log.info("audit.payloads_purged", removed=removed)
    return int(removed)
