"""Each pupil's home language, and the school's spoken messages in families' languages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("home_language", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_table(
        "spoken_messages",
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("voicemail_message", sa.Text(), nullable=False),
        sa.Column("recording_notice", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_spoken_messages_updated_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("language", name=op.f("pk_spoken_messages")),
    )


def downgrade() -> None:
    op.drop_table("spoken_messages")
    # Not a batch: on SQLite that rebuilds the table, and dropping the old one would take
    # every pupil's notes and contacts with it (ON DELETE CASCADE). SQLite 3.35 and later
    # drop a column in place.
    op.drop_column("pupils", "home_language")
