"""A note per pupil for a positive call, not one per household.

The campaign page asked admins to write what each pupil did, but kept one note
for the whole household, so siblings' news ran together under no name. Each
pupil in a campaign now has their own note, shown on the card under their name.
An existing household note is given to each of the household's pupils: nothing is
lost, and nothing is put under one child's name that may have been about another.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pupil_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["campaign_entries.id"],
            name=op.f("fk_pupil_notes_entry_id_campaign_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_pupil_notes_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pupil_notes")),
        sa.UniqueConstraint("entry_id", "pupil_id", name=op.f("uq_pupil_notes_entry_id")),
    )
    with op.batch_alter_table("pupil_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pupil_notes_pupil_id"), ["pupil_id"], unique=False)
    op.execute(
        "INSERT INTO pupil_notes (entry_id, pupil_id, note, updated_at) "
        "SELECT e.id, p.id, e.note, e.updated_at FROM campaign_entries e "
        "JOIN pupils p ON p.household_id = e.household_id WHERE e.note <> ''"
    )
    # Not a batch: on SQLite that rebuilds the table, and dropping the old one with
    # foreign keys on would empty pupil_notes and unlink every call from its entry.
    # SQLite 3.35 and later drop a plain column in place.
    op.drop_column("campaign_entries", "note")


def downgrade() -> None:
    op.add_column(
        "campaign_entries", sa.Column("note", sa.Text(), server_default="", nullable=False)
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT n.entry_id, p.forename, n.note FROM pupil_notes n "
            "JOIN pupils p ON p.id = n.pupil_id WHERE n.note <> '' "
            "ORDER BY n.entry_id, p.surname, p.forename"
        )
    )
    notes: dict[int, list[tuple[str, str]]] = {}
    for entry_id, forename, note in rows:
        notes.setdefault(entry_id, []).append((forename, note))
    for entry_id, pupils in notes.items():
        texts = {note for _, note in pupils}
        # One note copied to every sibling goes back as it was; different ones by name.
        joined = texts.pop() if len(texts) == 1 else "; ".join(f"{n}: {t}" for n, t in pupils)
        connection.execute(
            sa.text("UPDATE campaign_entries SET note = :note WHERE id = :id"),
            {"note": joined, "id": entry_id},
        )
    op.drop_table("pupil_notes")
