"""A member of staff's own phone, confirmed by a spoken code, for calling from home.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("own_phone_code_tries", "own_phone_code_until", "own_phone_code_hash",
           "own_phone_verified_at", "own_phone")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("own_phone", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("own_phone_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "own_phone_code_hash", sa.String(length=64), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("own_phone_code_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("own_phone_code_tries", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Not a batch: on SQLite that rebuilds the table, and dropping the old one would take
    # every session, invite and recovery code with it (ON DELETE CASCADE).
    for column in COLUMNS:
        op.drop_column("staff_users", column)
