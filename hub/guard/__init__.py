"""The dial guard: the last check before the line daemon sends any INVITE.

It stands between the hub and toll fraud or an honest mistake. A number is dialled
only if it is a family's, of a kind the school allows, in calling hours and within
the rate limits; otherwise the guard writes a ``dial.refused`` audit event, closes
the attempt as refused and raises DialRefused with one sentence saying why.

    plan = DialPlan.from_config(config)
    with database.session() as session:
        try:
            number = check_attempt(session, plan, attempt)
        except DialRefused as refused:
            ...  # tell the member of staff str(refused); the session still commits

The refusal is only kept if the session commits, so the daemon catches DialRefused
inside the session rather than letting it roll the audit event back.

The rules are read from a ``DialPlan`` (``plan``), the rate limits count past
calls (``rates``), and each refusal has a ``Refusal`` code (``refusals``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hub import audit, calls
from hub.exceptions import DialRefused, NumberError
from hub.guard.plan import DialPlan
from hub.guard.rates import check_hub_rate, check_number_rate, check_staff_rate
from hub.guard.refusals import Refusal, Refused
from hub.models import CallAttempt, Campaign, PhoneNumber, Role, StaffUser, utcnow
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, Number, parse
from hub.own_phone import dialable as own_phone_dialable
from hub.own_phone import ready as own_phone_ready
from hub.queues.campaigns import later_period
from hub.queues.rules import CallerBar, as_utc, caller_bar
from hub.school_days import SchoolCalendar

__all__ = [
    "CALLER_REFUSALS",
    "NO_OWN_PHONE",
    "DialPlan",
    "Refusal",
    "check_attempt",
    "check_interpreter",
    "check_own_phone_code",
    "check_test_call",
]

# The queue's rule on who may call a campaign's families, as the guard refuses a dial.
CALLER_REFUSALS = {
    CallerBar.DISABLED: (
        Refusal.STAFF_INACTIVE,
        "This call has no active member of staff making it, so it cannot be dialled.",
    ),
    CallerBar.NOT_OPTED_IN: (
        Refusal.NOT_OPTED_IN,
        "You have not opted in to making calls through the hub.",
    ),
    CallerBar.NOT_DSL: (
        Refusal.NOT_DSL,
        "Only the designated safeguarding lead can call this campaign's families.",
    ),
}


NO_OWN_PHONE = ("Your own phone is not set up for calls yet: add and confirm it under "
                "My phone, or use the hub's handset.")  # fmt: skip


def check_attempt(
    session: Session, plan: DialPlan, attempt: CallAttempt, *, now: datetime | None = None,
    own_phone: bool = False,
) -> Number:  # fmt: skip
    """The number to dial for a family call attempt; DialRefused once a refusal is recorded.

    ``own_phone``: the member of staff is to talk on their own phone, which must be
    theirs, confirmed (hub.own_phone).
    """
    now = _utc(now)
    if attempt.id is None:
        # The rate limits leave the attempt itself out by its id.
        session.flush()
    staff = session.get(StaffUser, attempt.staff_id) if attempt.staff_id is not None else None
    try:
        number = _family_number(session, plan, attempt, staff, now)
        if own_phone and (staff is None or not own_phone_ready(staff)):
            raise Refused(Refusal.NO_OWN_PHONE, NO_OWN_PHONE)
        return number
    except Refused as refused:
        calls.refused(attempt, now)
        detail: audit.Detail = {"entry_id": attempt.entry_id, "household_id": attempt.household_id}
        raise _recorded(
            session,
            refused,
            actor=staff or "system",
            target_type="call_attempt",
            target_id=attempt.id,
            hub_id=attempt.hub_id,
            detail=detail,
        ) from None


def check_test_call(
    session: Session,
    plan: DialPlan,
    staff: StaffUser,
    number_text: str,
    *,
    hub_id: int | None,
    now: datetime | None = None,
) -> Number:
    """The number an admin typed for a test call; DialRefused once a refusal is recorded."""
    now = _utc(now)
    try:
        if not staff.active or staff.role != Role.ADMIN:
            raise Refused(Refusal.NOT_ADMIN, "Only an active admin can make a test call.")
        try:
            typed = parse(number_text)
        except NumberError:
            raise Refused(Refusal.NOT_A_NUMBER, "That is not a phone number.") from None
        number = _allowed_kind(plan, typed)
        # No calling-hours check: IT tests the line when installing or mending it,
        # often after school, and a test call reaches no family. The rate limits
        # still apply, since a stolen admin login is a toll fraudster's way in.
        check_staff_rate(session, plan, staff.id, now, exclude=None)
        check_hub_rate(session, plan, hub_id, now, exclude=None)
        return number
    except Refused as refused:
        raise _recorded(
            session, refused, actor=staff, hub_id=hub_id, detail={"test_call": True}
        ) from None


def check_own_phone_code(
    session: Session, plan: DialPlan, staff: StaffUser, *, hub_id: int | None,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """May the hub ring ``staff``'s own phone to speak its code? DialRefused, recorded, if not.

    Like a test call it reaches no family, so calling hours do not apply; the rate
    limits do, so a stolen sign-in cannot make the hub ring a number over and over.
    """
    now = _utc(now)
    try:
        if not staff.active:
            raise Refused(Refusal.STAFF_INACTIVE, "This account is no longer active.")
        if not staff.own_phone:
            raise Refused(Refusal.NO_OWN_PHONE, "Give your phone's number first.")
        if not own_phone_dialable(staff.own_phone):
            raise Refused(Refusal.NO_OWN_PHONE, "The hub cannot ring that number; give your "
                          "extension, mobile or landline again.")  # fmt: skip
        if staff.own_phone.startswith("+"):
            _allowed_kind(plan, parse(staff.own_phone))
        check_staff_rate(session, plan, staff.id, now, exclude=None)
        check_hub_rate(session, plan, hub_id, now, exclude=None)
    except Refused as refused:
        raise _recorded(
            session, refused, actor=staff, hub_id=hub_id, detail={"own_phone_code": True}
        ) from None


def check_interpreter(
    session: Session, staff: StaffUser | None, number_text: str, *, hub_id: int | None,
    attempt_id: int | None,
) -> None:  # fmt: skip
    """May ``staff`` join the interpreting service to their call? DialRefused, recorded, if not.

    The school chose the number (``[line] interpreter_number``), so any kind of number
    it allows may be it (an 0800 or 0300 service, say); never one the hub never dials.
    """
    try:
        if staff is None or not staff.active:
            raise Refused(Refusal.STAFF_INACTIVE, "This account is no longer active.")
        try:
            number = parse(number_text)
        except NumberError:
            return  # an extension of the school's own phone system
        if number.kind in NEVER_DIALLED:
            description = KIND_DESCRIPTIONS[number.kind]
            raise Refused(Refusal.KIND_NOT_ALLOWED, f"The interpreting service's number is "
                          f"{description}, which the hub never dials; ask IT to check "
                          "[line] interpreter_number.", kind=number.kind.value)  # fmt: skip
    except Refused as refused:
        raise _recorded(session, refused, actor=staff or "system", hub_id=hub_id,
                        target_type="call_attempt", target_id=attempt_id,
                        detail={"interpreter": True}) from None  # fmt: skip


def _family_number(
    session: Session, plan: DialPlan, attempt: CallAttempt, staff: StaffUser | None, now: datetime
) -> Number:
    # Already-ended comes first: whatever else is wrong, a finished call is never redialled.
    if attempt.ended_at is not None:
        raise Refused(
            Refusal.ALREADY_ENDED, "This call has already ended, so it cannot be dialled again."
        )
    record = (
        session.get(PhoneNumber, attempt.phone_number_id)
        if attempt.phone_number_id is not None
        else None
    )
    if record is None:
        raise Refused(
            Refusal.NO_NUMBER_RECORD,
            "This call has no family phone number on record, so it cannot be dialled.",
        )
    guardian = record.guardian
    if guardian.household_id != attempt.household_id:
        raise Refused(
            Refusal.WRONG_HOUSEHOLD,
            "The phone number on this call belongs to a different family, so it was not dialled.",
        )
    campaign = attempt.entry.campaign if attempt.entry is not None else None
    caller = _check_caller(staff, campaign)
    if record.do_not_contact:
        raise Refused(
            Refusal.DO_NOT_CONTACT, "The family has asked not to be called on this number."
        )
    if guardian.do_not_contact:
        raise Refused(Refusal.DO_NOT_CONTACT, "This contact has asked not to be called.")
    try:
        stored = parse(record.e164)
    except NumberError:
        stored = Number(record.e164, Kind.INVALID)
    number = _allowed_kind(plan, stored)
    _check_hours(session, plan, campaign, now)
    check_staff_rate(session, plan, caller.id, now, exclude=attempt.id)
    check_number_rate(session, plan, record.e164, now, exclude=attempt.id)
    check_hub_rate(session, plan, attempt.hub_id, now, exclude=attempt.id)
    return number


def _check_caller(staff: StaffUser | None, campaign: Campaign | None) -> StaffUser:
    bar = caller_bar(staff, campaign)
    if bar is not None or staff is None:
        raise Refused(*CALLER_REFUSALS[bar or CallerBar.DISABLED])
    return staff


def _allowed_kind(plan: DialPlan, number: Number) -> Number:
    kind = number.kind
    description = KIND_DESCRIPTIONS[kind]
    if kind == Kind.INTERNATIONAL:
        if plan.international:
            return number
        raise Refused(
            Refusal.INTERNATIONAL,
            f"This number is {description}, and the hub is not set up to call abroad.",
            kind=kind.value,
        )
    if kind in NEVER_DIALLED:
        raise Refused(
            Refusal.KIND_NOT_ALLOWED,
            f"This number is {description}, which the hub never dials.",
            kind=kind.value,
        )
    if kind not in plan.allowed:
        raise Refused(
            Refusal.KIND_NOT_ALLOWED,
            f"This number is {description}, which the hub is not set up to dial.",
            kind=kind.value,
        )
    return number


def _check_hours(session: Session, plan: DialPlan, campaign: Campaign | None,
                 now: datetime) -> None:  # fmt: skip
    # A closed campaign comes first: "come back at 08:00" would send staff back for nothing.
    if campaign is not None and campaign.closed_at is not None:
        raise Refused(
            Refusal.CAMPAIGN_CLOSED,
            "This campaign is closed, so no more calls can be made from it.",
        )
    local = now.astimezone(plan.zone)
    start, end = plan.calling_window
    later = later_period(campaign) if campaign is not None else None
    if later is not None and later.starts_on <= local.date() <= later.ends_on:
        # Calling later in the day for a period: these hours replace the usual ones.
        start, end = later.start, later.end
        if local.weekday() not in plan.calling_days or not start <= local.time() < end:
            raise Refused(
                Refusal.OUTSIDE_CAMPAIGN_WINDOW,
                f"Until {later.ends_on:%d/%m/%Y} calls for this campaign are made "
                f"{start:%H:%M} to {end:%H:%M}.",
            )
        _check_school_day(session, plan, local)
        return
    if local.weekday() not in plan.calling_days or not start <= local.time() < end:
        raise Refused(Refusal.OUTSIDE_HOURS, f"Calls can only be made {plan.calling_hours}.")
    _check_school_day(session, plan, local)
    if campaign is None or (campaign.window_start is None and campaign.window_end is None):
        return
    # The campaign narrows the school's window; it never widens it.
    start = max(start, campaign.window_start or start)
    end = min(end, campaign.window_end or end)
    if not start <= local.time() < end:
        raise Refused(
            Refusal.OUTSIDE_CAMPAIGN_WINDOW,
            f"Calls for this campaign can only be made {start:%H:%M} to {end:%H:%M}.",
        )


def _check_school_day(session: Session, plan: DialPlan, local: datetime) -> None:
    if not plan.school_days_only:
        return
    why_not = SchoolCalendar.load(session, plan.nation).why_not(local.date())
    if why_not is not None:
        raise Refused(
            Refusal.NOT_A_SCHOOL_DAY,
            f"Today is not a school day ({why_not}); calls are made on school days only.",
        )


def _utc(now: datetime | None) -> datetime:
    return utcnow() if now is None else as_utc(now)


def _recorded(
    session: Session,
    refused: Refused,
    *,
    actor: StaffUser | str,
    hub_id: int | None,
    detail: audit.Detail,
    target_type: str = "",
    target_id: int | None = None,
) -> DialRefused:
    audit.record(
        session,
        "dial.refused",
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        hub_id=hub_id,
        detail={"reason": refused.reason.value, **refused.detail, **detail},
    )
    return DialRefused(refused.sentence, reason=refused.reason)
