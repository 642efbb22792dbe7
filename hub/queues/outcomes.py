"""What a call's outcome does to its family: done, called back, waiting, or the DSL's."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import audit
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    CampaignEntry,
    Concern,
    EntryState,
    Outcome,
    Purpose,
    Role,
    StaffUser,
)
from hub.queues.rules import (
    CONTACT,
    ESCALATE_AFTER_DAYS,
    FAILED,
    FINISHED,
    OPEN,
    OVERRIDE_ACTION,
    SCHOOL_ZONE,
    _audit,
    _dates,
    _failed,
    _release,
    as_utc,
)
from hub.school_days import DEFAULT_NATION, SchoolCalendar


def override_cadence(
    session: Session, entry: CampaignEntry, dsl: StaffUser, reason: str, now: datetime
) -> None:
    """Let the DSL offer ``entry`` although the family was reached recently."""
    now = as_utc(now)
    if not dsl.active or dsl.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can override the cadence cap.")
    if not reason.strip():
        raise QueueError("Give a reason for overriding the cadence cap.")
    if entry.state in FINISHED:
        raise QueueError("This household's call is finished, so there is nothing to override.")
    # The audit event is the override: claim_next looks for it, so it is never
    # in effect without a record of who allowed it and why.
    try:
        _audit(
            session,
            OVERRIDE_ACTION,
            actor=dsl,
            now=now,
            target=entry,
            detail={"household_id": entry.household_id, "reason": reason.strip()},
        )
    except ValueError:
        raise QueueError("Leave phone numbers out of the reason.") from None
    session.flush()


def outcome_recorded(
    session: Session,
    attempt: CallAttempt,
    outcome: Outcome,
    *,
    staff: StaffUser,
    now: datetime,
    notes: str,
    call_back_at: datetime | None,
    meeting: bool = False,
    zone: ZoneInfo = SCHOOL_ZONE,
    nation: str = DEFAULT_NATION,
) -> CampaignEntry:
    """Move the household on once ``hub.calls`` has written a call's outcome.

    A concern goes to the DSL; a family reached is done unless they asked for a call
    back (a parent who wants a meeting: the caller's own call back, to book it); a
    family not reached waits, or goes to the DSL after two school days.
    """
    entry = attempt.entry
    assert entry is not None  # hub.calls records outcomes of campaign calls only
    # Read (and on PostgreSQL lock) the entry as it is now: the stale-claim
    # sweep or another member of staff may have moved it since the call began.
    session.refresh(entry, with_for_update=True)
    detail: audit.Detail = {"attempt_id": attempt.id, "outcome": outcome.value}
    if outcome == Outcome.CONCERN:
        concern = Concern(
            household_id=entry.household_id,
            attempt_id=attempt.id,
            raised_by_id=staff.id,
            raised_at=now,
            note=notes,
        )
        session.add(concern)
        session.flush()
        detail["concern_id"] = concern.id
        _audit(
            session,
            "concern.raised",
            actor=staff,
            now=now,
            target=concern,
            detail={"household_id": entry.household_id, "attempt_id": attempt.id},
        )
    held_by_other = entry.state == EntryState.CLAIMED and entry.claimed_by_id not in (
        None,
        attempt.staff_id,
    )
    if entry.state in FINISHED:
        pass  # a late outcome never reopens a finished household or the DSL's list
    elif outcome == Outcome.CONCERN or (outcome in CONTACT and call_back_at is None):
        _release(entry, EntryState.DONE)
    elif held_by_other:
        pass  # the stale sweep gave it to someone else, who is on it now
    elif call_back_at is not None:
        _release(entry, EntryState.CALL_BACK)
        entry.call_back_at = call_back_at
        if meeting:
            entry.assignee_id = attempt.staff_id
            detail["meeting"] = True
    else:
        _release(entry, EntryState.WAITING)
    detail["state"] = entry.state.value
    _audit(session, "entry.outcome", actor=staff, now=now, target=entry, detail=detail)
    if outcome in FAILED and entry.state in OPEN:
        _escalate_if_unreached(session, entry, now=now, zone=zone, nation=nation)
    session.flush()
    return entry


def _escalate_if_unreached(
    session: Session,
    entry: CampaignEntry,
    *,
    now: datetime,
    zone: ZoneInfo,
    nation: str = DEFAULT_NATION,
) -> None:
    if entry.campaign.purpose is Purpose.POSITIVE:
        # Good news that did not get through is not a safeguarding matter: the family
        # waits for another try, and no other campaign is held back by it.
        return
    # Only failures since the family was last reached count, in any campaign:
    # a family someone spoke to yesterday is not unreachable.
    last_contact = session.scalar(
        select(func.max(CallAttempt.requested_at)).where(
            CallAttempt.household_id == entry.household_id, CallAttempt.outcome.in_(CONTACT)
        )
    )
    query = select(CallAttempt).where(CallAttempt.entry_id == entry.id)
    if last_contact is not None:
        query = query.where(CallAttempt.requested_at > last_contact)
    failures = [
        attempt
        for attempt in session.scalars(
            query.order_by(CallAttempt.requested_at).execution_options(populate_existing=True)
        )
        if _failed(attempt)
    ]
    # School days only: not weekends, bank holidays, the school's holidays or INSET days.
    calendar = SchoolCalendar.load(session, nation)
    days = calendar.school_days(
        attempt.requested_at.astimezone(zone).date() for attempt in failures
    )
    if len(days) < ESCALATE_AFTER_DAYS:
        return
    _release(entry, EntryState.ESCALATED)
    # The Concern carries the escalation to the DSL and, once handled, what was done.
    concern = Concern(
        household_id=entry.household_id,
        attempt_id=failures[-1].id,
        raised_by_id=None,
        raised_at=now,
        note=(
            f"Not reached on {len(days)} school days ({_dates(days)}) after "
            f"{len(failures)} failed calls in the campaign “{entry.campaign.name}”."
        ),
    )
    session.add(concern)
    session.flush()
    _audit(
        session,
        "entry.escalated",
        actor="system",
        now=now,
        target=entry,
        detail={
            "household_id": entry.household_id,
            "school_days": len(days),
            "failed_calls": len(failures),
            "concern_id": concern.id,
        },
    )
