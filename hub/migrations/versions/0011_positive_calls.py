"""Positive calls home as a habit: nominations, the caller's plan, reflections, and a
parent who wants a meeting.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place, not in batches: on SQLite a batch rebuilds the table, and dropping the
    # old one would take every entry, note and call under it (ON DELETE CASCADE, SET NULL).
    # For the same reason "parent wants a meeting" is a column, not a new outcome: a new
    # outcome would change call_attempts' CHECK constraint, which SQLite cannot do in place.
    op.add_column(
        "campaigns",
        sa.Column("for_nominations", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("uq_campaigns_for_nominations", "campaigns", ["for_nominations"],
                    unique=True, sqlite_where=sa.text("for_nominations"),
                    postgresql_where=sa.text("for_nominations"))  # fmt: skip
    op.add_column(
        "campaign_entries", sa.Column("plan", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "call_attempts",
        sa.Column("meeting_wanted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "nominations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("nominated_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"],
                                name=op.f("fk_nominations_attempt_id_call_attempts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["entry_id"], ["campaign_entries.id"],
                                name=op.f("fk_nominations_entry_id_campaign_entries"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["nominated_by_id"], ["staff_users.id"],
                                name=op.f("fk_nominations_nominated_by_id_staff_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["pupil_id"], ["pupils.id"],
                                name=op.f("fk_nominations_pupil_id_pupils"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nominations")),
    )  # fmt: skip
    for column in ("attempt_id", "entry_id", "nominated_by_id", "pupil_id"):
        op.create_index(op.f(f"ix_nominations_{column}"), "nominations", [column])
    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("about", sa.String(length=300), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False)
          for name in ("age", "impressed", "plan", "reaction", "change", "wider")),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"],
                                name=op.f("fk_reflections_attempt_id_call_attempts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["author_id"], ["staff_users.id"],
                                name=op.f("fk_reflections_author_id_staff_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"],
                                name=op.f("fk_reflections_household_id_households"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reflections")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_reflections_attempt_id")),
    )  # fmt: skip
    for column in ("author_id", "household_id"):
        op.create_index(op.f(f"ix_reflections_{column}"), "reflections", [column])


def downgrade() -> None:
    op.drop_index("uq_campaigns_for_nominations", table_name="campaigns")
    op.drop_table("reflections")
    op.drop_table("nominations")
    # Not batches, as in upgrade(); SQLite 3.35 and later drop a column in place.
    op.drop_column("call_attempts", "meeting_wanted")
    op.drop_column("campaign_entries", "plan")
    op.drop_column("campaigns", "for_nominations")
