"""Erasing a family: names, numbers, notes and recordings really gone.

What goes: the household, its pupils, guardians, their numbers and relationships,
its places in campaigns and the notes about its pupils, the notes on its calls, the
office's notes that the family rang back about one, and the calls' recordings (the
files). What stays: each call as an anonymous row — when, by whom, how it ended and
its outcome, linked to no family — so the school's counts still add up; and
safeguarding concerns, which the law lets the school keep and which only the DSL may
erase (``erase_concern``). The audit log says an erasure happened,
who did it and how much went, and nothing about the family.

``secure_delete`` overwrites deleted rows in the database file, and the write-ahead
log is emptied afterwards (``hub.db.scrub_wal``), so the names and digits are not
left in either. Nightly backups still hold the family until they age out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub import audit, calls, who_called
from hub.exceptions import PhoneHubError
from hub.models import CallAttempt, CampaignEntry, Concern, Household, StaffUser


class ErasureError(PhoneHubError):
    """A family that cannot be erased right now, and why."""


@dataclass(frozen=True)
class Erased:
    """What an erasure removed and kept."""

    calls_kept_anonymous: int
    recordings_removed: int
    concerns_kept: int


def erase_household(session: Session, household_id: int, *, actor: StaffUser,
                    data_dir: Path) -> Erased:  # fmt: skip
    """Erase the family; the caller commits, then scrubs the write-ahead log."""
    household = session.get(Household, household_id)
    if household is None:
        raise ErasureError("There is no such household; it may have been erased already.")
    attempts = session.scalars(
        select(CallAttempt).where(CallAttempt.household_id == household_id)
    ).all()
    if any(a.ended_at is None for a in attempts):
        raise ErasureError("A call to this family is in progress; erase it once the call ends.")
    recordings = Path(data_dir) / "recordings"
    removed = 0
    for attempt in attempts:
        if attempt.recording_path:
            path = recordings / Path(attempt.recording_path).name
            if path.is_file():
                path.unlink()
                removed += 1
    kept = (
        session.scalar(
            select(func.count()).select_from(Concern).where(Concern.household_id == household_id)
        )
        or 0
    )
    who_called.forget_household(session, household_id)  # while the calls still say whose
    calls.forget_household(session, household_id)
    # The database's own cascades take the pupils, guardians, numbers, relationships,
    # campaign places and pupil notes with the household, and unlink its concerns.
    session.execute(
        delete(CampaignEntry)
        .where(CampaignEntry.household_id == household_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Household)
        .where(Household.id == household_id)
        .execution_options(synchronize_session=False)
    )
    session.expunge_all()
    erased = Erased(len(attempts), removed, kept)
    audit.record(session, "household.erased", actor=actor, target_type="household",
                 target_id=household_id,
                 detail={"calls_kept_anonymous": erased.calls_kept_anonymous,
                         "recordings_removed": removed, "concerns_kept": kept})  # fmt: skip
    return erased


def erase_concern(session: Session, concern: Concern, *, dsl: StaffUser) -> None:
    """The DSL erases one safeguarding concern (their decision, recorded as theirs)."""
    concern_id = concern.id
    session.delete(concern)
    audit.record(session, "concern.erased", actor=dsl, target_type="concern",
                 target_id=concern_id)  # fmt: skip
