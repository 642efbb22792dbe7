"""A parent rang the school back about a call: the office's note, for whoever made the call.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parent_call_backs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("noted_by_id", sa.Integer(), nullable=True),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("form_token", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_parent_call_backs_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["noted_by_id"],
            ["staff_users.id"],
            name=op.f("fk_parent_call_backs_noted_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parent_call_backs")),
        sa.UniqueConstraint("form_token", name=op.f("uq_parent_call_backs_form_token")),
    )
    with op.batch_alter_table("parent_call_backs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_parent_call_backs_attempt_id"), ["attempt_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("parent_call_backs")
