"""Audit log as a hash chain: seq and hashes, chain head, payloads, personal hashes.

Entries written before the chain existed are chained here, in id order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger))
        batch.add_column(sa.Column("duration_ms", sa.Integer))
        batch.add_column(sa.Column("hash_alg", sa.String(16)))
        batch.add_column(sa.Column("entry_hash", sa.String(64)))
    _head_and_side_tables()
    _chain_existing()
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger, nullable=False)
        batch.alter_column("hash_alg", existing_type=sa.String(16), nullable=False)
        batch.alter_column("entry_hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_audit_log_seq", ["seq"])
    op.create_index("ix_audit_at", "audit_log", ["at"])


def _head_and_side_tables() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_payloads",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("expires_at", STAMP, nullable=False),
    )
    op.create_index("ix_audit_payloads_expiry", "audit_payloads", ["expires_at"])
    op.create_table(
        "audit_personal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("value_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_personal", "audit_personal", ["value_hash"])


def _chain_existing() -> None:
    from bridge.audit.chain import GENESIS, entry_hash

    conn = op.get_bind()
    log = sa.table(
        "audit_log",
        sa.column("at", STAMP),
        *(
            sa.column(name)
            for name in (
                "id",
                "seq",
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
                "entry_hash",
            )
        ),
    )
    head, seq = GENESIS, 0
    for row in conn.execute(sa.select(log).order_by(log.c.id)).mappings().all():
        seq += 1
        entry = {**row, "seq": seq, "hash_alg": "sha256"}
        head = entry_hash(head, entry)
        conn.execute(
            log.update()
            .where(log.c.id == row["id"])
            .values(seq=seq, hash_alg="sha256", entry_hash=head)
        )
    head_table = sa.table(
        "audit_head", sa.column("id"), sa.column("seq"), sa.column("head_hash")
    )
    conn.execute(head_table.insert().values(id=1, seq=seq, head_hash=head))


def downgrade() -> None:
    op.drop_index("ix_audit_at", table_name="audit_log")
    op.drop_table("audit_personal")
    op.drop_table("audit_payloads")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("uq_audit_log_seq", type_="unique")
        for name in ("entry_hash", "hash_alg", "duration_ms", "seq"):
            batch.drop_column(name)
