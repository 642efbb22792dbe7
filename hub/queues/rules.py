"""The rules every part of a queue shares.

Who may work a campaign, what counts as reaching a family, and how each change is
audited, never with a phone number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from hub import audit
from hub.exceptions import QueueError
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    EntryState,
    Outcome,
    Purpose,
    Role,
    StaffUser,
)

SCHOOL_ZONE = ZoneInfo("Europe/London")
ESCALATE_AFTER_DAYS = 2
NOTE_LIMIT = 300  # characters of a note shown in a household's history
VULNERABLE_FLAG = "vulnerable"
OVERRIDE_ACTION = "entry.cadence_overridden"
# Someone answered and spoke for the family. A parent who declined to talk was
# still reached: calling them again within the fortnight is what the cap prevents.
CONTACT = frozenset({Outcome.SPOKE_TO_PARENT, Outcome.SPOKE_TO_PUPIL, Outcome.DECLINED})
FAILED = frozenset({Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.WRONG_NUMBER})
# How the line saw a call fail, for attempts staff never gave an outcome. A
# cancelled, refused or interrupted call never really tried the family.
FAILED_ENDS = frozenset(
    {EndReason.NO_ANSWER, EndReason.BUSY, EndReason.DROPPED, EndReason.FAILED, EndReason.REJECTED}
)
OPEN = (EntryState.WAITING, EntryState.CALL_BACK)
FINISHED = (EntryState.DONE, EntryState.ESCALATED)


def may_work(staff: StaffUser, campaign: Campaign) -> bool:
    """True if ``staff`` may take calls from ``campaign``."""
    return _work_refusal(staff, campaign) is None


class CallerBar(enum.Enum):
    """Why someone may not call a campaign's families."""

    DISABLED = "disabled"
    NOT_DSL = "not_dsl"
    NOT_OPTED_IN = "not_opted_in"


def caller_bar(staff: StaffUser | None, campaign: Campaign | None) -> CallerBar | None:
    """What stops ``staff`` calling ``campaign``'s families, or None if nothing does.

    One rule for the queue (offering a card) and the dial guard (dialling it), so a
    call the queue would not offer is never dialled either.
    """
    if staff is None or not staff.active:
        return CallerBar.DISABLED
    # The vulnerable-children queue is the DSL's alone.
    if campaign is not None and campaign.dsl_only and staff.role != Role.DSL:
        return CallerBar.NOT_DSL
    if staff.role == Role.STAFF and not staff.opted_in:
        return CallerBar.NOT_OPTED_IN
    return None


WORK_REFUSALS = {
    CallerBar.DISABLED: "Your account is disabled, so you cannot take calls.",
    CallerBar.NOT_DSL: "Only the designated safeguarding lead can work this campaign.",
    CallerBar.NOT_OPTED_IN: "You have not opted in to making calls through the hub.",
}


def _work_refusal(staff: StaffUser, campaign: Campaign) -> str | None:
    bar = caller_bar(staff, campaign)
    if bar is not None:
        return WORK_REFUSALS[bar]
    if not campaign.any_opted_in_staff and staff.id not in {s.id for s in campaign.staff}:
        return "Only the staff named on this campaign can work it."
    return None


def _check_manager(actor: StaffUser | str, campaign: Campaign) -> None:
    if campaign.closed_at is not None:
        raise QueueError("This campaign is closed, so its households cannot be changed.")
    if isinstance(actor, str):
        return  # the CLI or the hub itself, trusted as whoever runs it
    if not actor.active or actor.role == Role.STAFF:
        raise QueueError("Only an admin or the DSL can change a campaign's households.")
    if campaign.dsl_only and actor.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can change this campaign.")


def _reached_since(since: datetime, campaign: Campaign) -> ColumnElement[bool]:
    # Reached in any other campaign with calls of the same kind; this entry's own
    # contacts (a parent who asked to be called back) are its state's business.
    return exists().where(
        CallAttempt.household_id == CampaignEntry.household_id,
        CallAttempt.outcome.in_(CONTACT),
        CallAttempt.requested_at >= since,
        or_(CallAttempt.entry_id.is_(None), CallAttempt.entry_id != CampaignEntry.id),
        same_kind_of_call(campaign),
    )


def same_kind_of_call(campaign: Campaign) -> ColumnElement[bool]:
    """The call attempt counts towards ``campaign``'s cadence cap.

    A positive call home never counts against, nor is held by, the welfare cadence:
    positive calls are capped among themselves, every other kind of call together.
    """
    earlier, kind = aliased(CampaignEntry), aliased(Campaign)
    positive = exists().where(
        earlier.id == CallAttempt.entry_id,
        kind.id == earlier.campaign_id,
        kind.purpose == Purpose.POSITIVE,
    )
    return positive if campaign.purpose is Purpose.POSITIVE else ~positive


def _cadence_overridden() -> ColumnElement[bool]:
    # The DSL's override is its audit line, so it never works without a record of who and why.
    return exists().where(
        AuditEvent.action == OVERRIDE_ACTION,
        AuditEvent.target_type == "campaign_entry",
        AuditEvent.target_id == CampaignEntry.id,
    )


def not_reached() -> ColumnElement[bool]:
    """A call that reached nobody: no answer, a machine, a wrong number, or never connected."""
    return or_(
        CallAttempt.outcome.in_(FAILED),
        and_(CallAttempt.outcome.is_(None), CallAttempt.end_reason.in_(FAILED_ENDS)),
    )


def _tried_since(since: datetime) -> ColumnElement[bool]:
    return exists().where(
        CallAttempt.entry_id == CampaignEntry.id,
        CallAttempt.requested_at >= since,
        not_reached(),
    )


def _open_concern(household_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    return exists().where(Concern.household_id == household_id, Concern.handled_at.is_(None))


def _held_for_dsl(session: Session, entry: CampaignEntry) -> bool:
    return bool(session.scalar(select(_open_concern(entry.household_id))))


def _check_can_work(staff: Iterable[StaffUser], campaign: Campaign) -> None:
    for member in staff:
        refusal = _work_refusal(member, campaign)
        if refusal is not None:
            raise QueueError(f"{member.name} cannot work this campaign: {_lower_first(refusal)}")


def _release(entry: CampaignEntry, state: EntryState) -> None:
    entry.state = state
    entry.claimed_by_id = None
    entry.claimed_at = None
    entry.call_back_at = None


def _failed(attempt: CallAttempt) -> bool:
    if attempt.outcome is not None:
        return attempt.outcome in FAILED
    return attempt.end_reason in FAILED_ENDS


def _audit(
    session: Session,
    action: str,
    *,
    actor: StaffUser | str,
    now: datetime,
    target: Campaign | CampaignEntry | Concern,
    detail: audit.Detail,
) -> None:
    kinds = {Campaign: "campaign", CampaignEntry: "campaign_entry", Concern: "concern"}
    if target.id is None:
        session.flush()
    event = audit.record(
        session,
        action,
        actor=actor,
        target_type=kinds[type(target)],
        target_id=target.id,
        detail=detail,
    )
    event.at = now


def _flags(text: str, vulnerable: bool) -> set[str]:
    flags = {flag.strip().casefold() for flag in text.split(",") if flag.strip()}
    return flags | {VULNERABLE_FLAG} if vulnerable else flags


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; every rule that takes ``now`` refuses a time with no zone."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to a rule that needs a time zone")
    return moment.astimezone(UTC)


def _dates(days: list[date]) -> str:
    return ", ".join(f"{day:%a} {day.day} {day:%b}" for day in days)


def _short(text: str) -> str:
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1].rstrip() + "…"


def _households(count: int) -> str:
    return "1 household" if count == 1 else f"{count} households"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
