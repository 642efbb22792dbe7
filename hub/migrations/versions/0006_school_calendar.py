"""The school's own calendar, and campaigns that call later in the day for a period.

Escalation after two school days, and calls on school days only, count weekends,
the nation's bank holidays (from the holidays library) and the terms, holidays and
INSET days an admin imports. A campaign can call later in the day for a period (the
NEU's note on Ramadan): its own hours between two dates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "term",
                "holiday",
                "inset",
                name="period_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_calendar_periods_in_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_periods")),
    )
    with op.batch_alter_table("calendar_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_periods_starts_on"), ["starts_on"],
                              unique=False)  # fmt: skip

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("later_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("later_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("later_start", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("later_end", sa.Time(), nullable=True))


def downgrade() -> None:
    # Not a batch: on SQLite that rebuilds the table, and dropping the old one would
    # take every campaign's households with it (ON DELETE CASCADE). SQLite 3.35 and
    # later drop a column in place.
    for column in ("later_end", "later_start", "later_until", "later_from"):
        op.drop_column("campaigns", column)
    with op.batch_alter_table("calendar_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_periods_starts_on"))
    op.drop_table("calendar_periods")
