"""What a campaign and a family look like to staff: earlier calls, and progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    EntryState,
    Household,
    Outcome,
    Role,
    StaffUser,
)
from hub.queues.rules import (
    CONTACT,
    OPEN,
    _cadence_overridden,
    _short,
    as_utc,
    same_kind_of_call,
)


@dataclass(frozen=True)
class Contact:
    """One earlier call to a household, as the viewer may see it."""

    at: datetime
    campaign: str
    staff: str
    outcome: Outcome | None
    end_reason: EndReason | None
    notes: str
    concern: bool
    meeting: bool = False  # the parent wanted a meeting (a positive call)


def history(session: Session, household: Household, *, viewer: StaffUser) -> list[Contact]:
    """Earlier calls to ``household``, newest first; safeguarding notes for the DSL only."""
    dsl = viewer.role == Role.DSL
    # Columns, not CallAttempt objects: a year of calls is dozens of rows a page.
    query = (
        select(
            CallAttempt.id,
            CallAttempt.requested_at,
            CallAttempt.outcome,
            CallAttempt.end_reason,
            CallAttempt.notes,
            CallAttempt.meeting_wanted,
            Campaign.name,
            Campaign.dsl_only,
            StaffUser.name,
        )
        .outerjoin(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .outerjoin(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .outerjoin(StaffUser, CallAttempt.staff_id == StaffUser.id)
        .where(
            CallAttempt.household_id == household.id,
            # A refused dial never reached the family.
            or_(CallAttempt.end_reason.is_(None), CallAttempt.end_reason != EndReason.REFUSED),
        )
        .order_by(CallAttempt.requested_at.desc(), CallAttempt.id.desc())
    )
    rows = session.execute(query).all()
    concern_notes: dict[int, list[str]] = {}
    if dsl:
        for attempt_id, note in session.execute(
            select(Concern.attempt_id, Concern.note)
            .where(Concern.household_id == household.id, Concern.attempt_id.is_not(None))
            .order_by(Concern.id)
        ):
            concern_notes.setdefault(attempt_id, []).append(note)
    contacts = []
    for (
        attempt_id,
        at,
        outcome,
        end_reason,
        call_notes,
        meeting,
        campaign,
        dsl_only,
        staff_name,
    ) in rows:
        # The vulnerable-children queue, calls and all, is the DSL's alone.
        if dsl_only and not dsl:
            continue
        notes = "\n".join(filter(None, [call_notes, *concern_notes.get(attempt_id, [])]))
        contacts.append(
            Contact(
                at=at,
                campaign=campaign or "",
                staff=staff_name or "",
                outcome=outcome,
                end_reason=end_reason,
                notes=_short(notes),
                concern=outcome == Outcome.CONCERN,
                meeting=meeting,
            )
        )
    return contacts


def progress(session: Session, campaign: Campaign) -> dict[EntryState, int]:
    """How many of the campaign's households are in each state, every state present."""
    counts = dict.fromkeys(EntryState, 0)
    for state, count in session.execute(
        select(CampaignEntry.state, func.count())
        .where(CampaignEntry.campaign_id == campaign.id)
        .group_by(CampaignEntry.state)
    ):
        counts[state] = count
    return counts


def held_by_cadence(session: Session, campaign: Campaign, *, now: datetime) -> dict[int, datetime]:
    """Families the cadence cap keeps from this campaign now: entry id → when last reached.

    Reached in another campaign within the campaign's cadence (by a call of the same kind:
    positive calls home and the rest are capped apart), and not let through by
    the DSL (``override_cadence``), so nobody is offered them until the cap runs out.
    """
    since = as_utc(now) - timedelta(days=campaign.cadence_days)
    rows = session.execute(
        select(CampaignEntry.id, func.max(CallAttempt.requested_at))
        .join(CallAttempt, CallAttempt.household_id == CampaignEntry.household_id)
        .where(
            CampaignEntry.campaign_id == campaign.id,
            CampaignEntry.state.in_(OPEN),
            CallAttempt.outcome.in_(CONTACT),
            CallAttempt.requested_at >= since,
            or_(CallAttempt.entry_id.is_(None), CallAttempt.entry_id != CampaignEntry.id),
            same_kind_of_call(campaign),
            ~_cadence_overridden(),
        )
        .group_by(CampaignEntry.id)
    )
    return {entry_id: reached for entry_id, reached in rows}
