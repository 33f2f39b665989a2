"""Several instances: leases with fencing tokens, claims on deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("expires_at", STAMP, nullable=False),
        sa.Column("acquired_at", STAMP, nullable=False),
        sa.Column("last_success_at", STAMP),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claim_owner", sa.String(128)))
        batch.add_column(
            sa.Column("claim_token", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("claim_until", STAMP))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claim_until")
        batch.drop_column("claim_token")
        batch.drop_column("claim_owner")
    op.drop_table("leases")
