"""Table definitions of the store (SQLAlchemy Core), the same on every backend."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

#: The migration revision (bridge/store/migrations) whose schema this module
#: declares; a new store is stamped with it.
REVISION = "0006"

#: Where each paged source was read up to: (change time, record key).
watermarks = Table(
    "watermarks",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor_time", String(32), nullable=False),
    Column("cursor_key", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Versions of source records already taken in, so repeats are not routed again.
seen_records = Table(
    "seen_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(32), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("system", "record_key", "digest", name="uq_seen_version"),
)

#: One row per case: the keys every system gives it, and its interchange record.
cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bureau", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("matter_code", String(32), nullable=False),
    Column("case_number", String(64), unique=True),
    Column("filing_id", String(64), unique=True),
    Column("flow_id", BigInteger, unique=True),
    Column("case_xml", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("flow_open", Boolean, nullable=False, default=False),
    Column("next_sweep_at", DateTime(timezone=True)),
    #: digest of the flow's export when a sweep last routed it
    Column("swept_digest", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_cases_sweep", cases.c.flow_open, cases.c.next_sweep_at)

#: The outbox: one row per write a target must receive.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("target", String(32), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("payload_xml", Text),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("first_sent_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("result", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("claim_owner", String(128)),
    Column("claim_token", Integer, nullable=False, default=0),
    Column("claim_until", DateTime(timezone=True)),
)
#: the deliveries still to make, written out rather than bound: a query must
#: carry this very text for SQLite to use the partial index below
OPEN_DELIVERIES = text("deliveries.status IN ('pending', 'inflight')")
#: open deliveries by case, then id: the claim takes the due ones of the
#: oldest cases and stops
Index(
    "ix_deliveries_open_case",
    deliveries.c.case_id,
    deliveries.c.id,
    sqlite_where=OPEN_DELIVERIES,
    postgresql_where=OPEN_DELIVERIES,
)
Index("ix_deliveries_case", deliveries.c.case_id, deliveries.c.target)

#: Records and deliveries that failed for good, waiting for a replay.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(32), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("record_key", String(128), nullable=False),
    Column("field", String(300)),
    Column("error_class", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text),
    Column("delivery_id", Integer, ForeignKey("deliveries.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
)

#: Every step of every exchange, append-only, hash-chained in ``seq`` order
#: (bridge/audit/chain.py says which fields the hash covers).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("system", String(32), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("case_number", String(64)),
    Column("record_key", String(128)),
    Column("outcome", String(32), nullable=False),
    Column("detail", Text),
    Column("payload_digest", String(64)),
    Column("correlation_id", String(64)),
    Column("duration_ms", Integer),
    Column("hash_alg", String(16), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    UniqueConstraint("seq", name="uq_audit_log_seq"),
)
Index("ix_audit_case", audit_log.c.case_number)
Index("ix_audit_record", audit_log.c.system, audit_log.c.record_key)
Index("ix_audit_at", audit_log.c.at)

#: The chain head: one row, locked by every append so appends form one order.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
)

#: Payloads apart from the chained metadata, deleted when their retention ends.
audit_payloads = Table(
    "audit_payloads",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("payload", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_payloads_expiry", audit_payloads.c.expires_at)

#: Keyed hashes of the personal values in an entry's payload, for exact search.
audit_personal = Table(
    "audit_personal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("value_hash", String(64), nullable=False),
)
Index("ix_audit_personal", audit_personal.c.value_hash)

#: Who may run a singleton job (a source's poll) until when, with its fencing token.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("last_success_at", DateTime(timezone=True)),
)
