"""Open deliveries are claimed case by case, through a partial index.

The claim took the oldest due deliveries by id. A flow's steps are found
after later cases were read, so in a backlog every case was launched before
any was finished. The claim now takes the due deliveries of the oldest cases
first; the partial index of open deliveries is ordered by (case, id) so that
it still stops after the first ones that fit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'inflight')")


def upgrade() -> None:
    op.drop_index("ix_deliveries_open", table_name="deliveries")
    op.create_index(
        "ix_deliveries_open_case",
        "deliveries",
        ["case_id", "id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_open_case", table_name="deliveries")
    op.create_index(
        "ix_deliveries_open",
        "deliveries",
        ["id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
