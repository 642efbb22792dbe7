"""An index for the call desk's question: has this member of staff a call without an outcome?

Every desk page asks it. Without the index the database reads every call the
member of staff ever made (SQLite) or the whole call log backwards (PostgreSQL)
to find none: tens of milliseconds a page once a school has a year of calls.
Partial, so it holds only the few calls without an outcome.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_OUTCOME = sa.text("outcome IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_call_attempts_staff_no_outcome",
            ["staff_id", "id"],
            unique=False,
            sqlite_where=NO_OUTCOME,
            postgresql_where=NO_OUTCOME,
        )


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_call_attempts_staff_no_outcome")
