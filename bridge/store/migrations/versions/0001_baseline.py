"""Baseline: the tables of the first release (watermarks to the audit log)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("cursor_time", sa.String(32), nullable=False),
        sa.Column("cursor_key", sa.String(128), nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_table(
        "seen_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("seen_at", STAMP, nullable=False),
        sa.UniqueConstraint("system", "record_key", "digest", name="uq_seen_version"),
    )
    _cases()
    _deliveries()
    _dead_letters()
    _audit_log()


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bureau", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("matter_code", sa.String(32), nullable=False),
        sa.Column("case_number", sa.String(64), unique=True),
        sa.Column("filing_id", sa.String(64), unique=True),
        sa.Column("flow_id", sa.BigInteger, unique=True),
        sa.Column("case_xml", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("flow_open", sa.Boolean, nullable=False),
        sa.Column("next_sweep_at", STAMP),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_index("ix_cases_sweep", "cases", ["flow_open", "next_sweep_at"])


def _deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("payload_xml", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", STAMP, nullable=False),
        sa.Column("first_sent_at", STAMP),
        sa.Column("last_error", sa.Text),
        sa.Column("result", sa.String(200)),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("done_at", STAMP),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_case", "deliveries", ["case_id", "target"])


def _dead_letters() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=False),
        sa.Column("field", sa.String(300)),
        sa.Column("error_class", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id")),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("replayed_at", STAMP),
    )


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", STAMP, nullable=False),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("case_number", sa.String(64)),
        sa.Column("record_key", sa.String(128)),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("payload_digest", sa.String(64)),
        sa.Column("correlation_id", sa.String(64)),
    )
    op.create_index("ix_audit_case", "audit_log", ["case_number"])
    op.create_index("ix_audit_record", "audit_log", ["system", "record_key"])


def downgrade() -> None:
    for table in ("audit_log", "dead_letters", "deliveries", "cases",
                  "seen_records", "watermarks"):
        op.drop_table(table)
