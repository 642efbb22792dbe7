"""Each hub row remembers which machine holds its name.

Two hubs sharing a database under one name (Raspberry Pis cloned from one image
are all called raspberrypi) looked like one hub, and the one that restarted
closed the other's calls in progress as interrupted. The line now refuses to
start under a name another live machine holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("machine", sa.String(length=64), server_default="",
                                      nullable=False))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.drop_column("machine")
