"""The DSL's list: families not reached, and concerns, until they are handled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.db import take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    CampaignEntry,
    Concern,
    EntryState,
    Household,
    Role,
    StaffUser,
)
from hub.queues.rules import _audit, _release, as_utc


@dataclass(frozen=True)
class Escalation:
    """A household not reached on two school days, waiting on the DSL's list."""

    entry: CampaignEntry
    campaign: str
    pupils: tuple[str, ...]
    reason: str
    escalated_at: datetime | None


def escalations(session: Session) -> list[Escalation]:
    """Households on the DSL's list, longest waiting first."""
    entries = list(
        session.scalars(
            select(CampaignEntry)
            .where(CampaignEntry.state == EntryState.ESCALATED)
            .options(
                selectinload(CampaignEntry.campaign),
                selectinload(CampaignEntry.household).selectinload(Household.pupils),
            )
            .order_by(CampaignEntry.id)
        )
    )
    concerns = open_escalation_concerns(session, [entry.id for entry in entries])
    out = []
    for entry in entries:
        concern = concerns.get(entry.id)
        out.append(
            Escalation(
                entry=entry,
                campaign=entry.campaign.name,
                pupils=tuple(pupil.name for pupil in entry.household.pupils),
                reason=concern.note if concern else "",
                escalated_at=concern.raised_at if concern else None,
            )
        )
    out.sort(key=lambda e: (e.escalated_at or datetime.max.replace(tzinfo=UTC), e.entry.id))
    return out


def mark_handled(
    session: Session, entry: CampaignEntry, dsl: StaffUser, note: str, now: datetime
) -> None:
    """Take a household off the DSL's list, with what the DSL did about it."""
    now = as_utc(now)
    if not dsl.active or dsl.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can handle an escalation.")
    if not note.strip():
        raise QueueError("Say what was done about this family.")
    take_write_lock(session)
    session.refresh(entry, with_for_update=True)
    if entry.state != EntryState.ESCALATED:
        raise QueueError("This household is not on the escalation list.")
    concern = open_escalation_concerns(session, [entry.id]).get(entry.id)
    if concern is not None:
        concern.handled_at = now
        concern.handled_by_id = dsl.id
        concern.handled_note = note.strip()
    _release(entry, EntryState.DONE)
    # The note is safeguarding information: it stays in the Concern, not the audit log.
    _audit(
        session,
        "entry.escalation_handled",
        actor=dsl,
        now=now,
        target=entry,
        detail={
            "household_id": entry.household_id,
            "concern_id": concern.id if concern is not None else None,
        },
    )
    session.flush()


def open_escalation_concerns(session: Session, entry_ids: list[int]) -> dict[int, Concern]:
    """The open Concern the hub raised for each escalated entry (on its last failed call)."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(CallAttempt.entry_id, Concern)
        .join(CallAttempt, Concern.attempt_id == CallAttempt.id)
        .where(
            CallAttempt.entry_id.in_(entry_ids),
            Concern.raised_by_id.is_(None),
            Concern.handled_at.is_(None),
        )
        .order_by(Concern.id)
    )
    return {entry_id: concern for entry_id, concern in rows}
