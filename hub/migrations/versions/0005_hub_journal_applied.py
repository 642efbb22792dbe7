"""Each hub row remembers the last call event it replayed from its local journal.

When the database cannot be written (PostgreSQL restarting, SQLite locked), the
line keeps call events in a journal on the hub's own disk and writes them when the
database is back. Each replayed event moves this mark in the same transaction, so
an event is written exactly once even if the hub stops between the commit and
clearing the journal.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("journal_applied", sa.String(length=64), server_default="",
                                      nullable=False))  # fmt: skip


def downgrade() -> None:
    # In place, not a batch rebuild, which would unlink every call from its hub.
    op.drop_column("hubs", "journal_applied")
