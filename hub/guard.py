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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hub import audit, calls
from hub.config import DAYS, Config
from hub.exceptions import DialRefused, NumberError
from hub.models import CallAttempt, Campaign, EndReason, PhoneNumber, Role, StaffUser, utcnow
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, Number, parse
from hub.queues.rules import CallerBar, caller_bar

HOUR = timedelta(hours=1)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Refusal(enum.StrEnum):
    """Which rule stopped a dial; stored as ``reason`` in the audit event."""

    NO_NUMBER_RECORD = "no_number_record"
    WRONG_HOUSEHOLD = "wrong_household"
    ALREADY_ENDED = "already_ended"
    STAFF_INACTIVE = "staff_inactive"
    NOT_OPTED_IN = "not_opted_in"
    NOT_DSL = "not_dsl"
    NOT_ADMIN = "not_admin"
    DO_NOT_CONTACT = "do_not_contact"
    NOT_A_NUMBER = "not_a_number"
    INTERNATIONAL = "international"
    KIND_NOT_ALLOWED = "kind_not_allowed"
    CAMPAIGN_CLOSED = "campaign_closed"
    OUTSIDE_HOURS = "outside_hours"
    OUTSIDE_CAMPAIGN_WINDOW = "outside_campaign_window"
    STAFF_RATE = "staff_rate"
    NUMBER_RATE = "number_rate"
    HUB_RATE = "hub_rate"


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


@dataclass(frozen=True)
class DialPlan:
    """What may be dialled, how often and when: the [dialplan] config section."""

    allowed: frozenset[Kind]
    international: bool
    per_staff_per_hour: int
    per_number_per_day: int
    per_hub_per_day: int
    calling_window: tuple[time, time]
    calling_days: frozenset[int]  # 0 is Monday, as datetime.weekday() counts
    zone: ZoneInfo

    @classmethod
    def from_config(cls, config: Config) -> DialPlan:
        """The dial plan a loaded config describes."""
        section = config.dialplan
        return cls(
            allowed=frozenset(section.allowed),
            international=section.international,
            per_staff_per_hour=section.per_staff_per_hour,
            per_number_per_day=section.per_number_per_day,
            per_hub_per_day=section.per_hub_per_day,
            calling_window=section.calling_window,
            calling_days=frozenset(DAYS.index(day) for day in section.calling_days),
            zone=section.zone,
        )

    @property
    def calling_hours(self) -> str:
        """When calls may be made, as a person says it: "Monday to Friday, 08:00 to 19:00"."""
        start, end = self.calling_window
        return f"{_days(self.calling_days)}, {start:%H:%M} to {end:%H:%M}"


class _Refused(Exception):
    """A rule failed; the public checks audit it and raise DialRefused instead."""

    def __init__(self, reason: Refusal, sentence: str, **detail: str | int) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.sentence = sentence
        self.detail = detail


def check_attempt(
    session: Session, plan: DialPlan, attempt: CallAttempt, *, now: datetime | None = None
) -> Number:
    """The number to dial for a family call attempt; DialRefused once a refusal is recorded."""
    now = _utc(now)
    if attempt.id is None:
        # The rate limits leave the attempt itself out by its id.
        session.flush()
    staff = session.get(StaffUser, attempt.staff_id) if attempt.staff_id is not None else None
    try:
        return _family_number(session, plan, attempt, staff, now)
    except _Refused as refused:
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
            raise _Refused(Refusal.NOT_ADMIN, "Only an active admin can make a test call.")
        try:
            typed = parse(number_text)
        except NumberError:
            raise _Refused(Refusal.NOT_A_NUMBER, "That is not a phone number.") from None
        number = _allowed_kind(plan, typed)
        # No calling-hours check: IT tests the line when installing or mending it,
        # often after school, and a test call reaches no family. The rate limits
        # still apply, since a stolen admin login is a toll fraudster's way in.
        _check_staff_rate(session, plan, staff.id, now, exclude=None)
        _check_hub_rate(session, plan, hub_id, now, exclude=None)
        return number
    except _Refused as refused:
        raise _recorded(
            session, refused, actor=staff, hub_id=hub_id, detail={"test_call": True}
        ) from None


def _family_number(
    session: Session, plan: DialPlan, attempt: CallAttempt, staff: StaffUser | None, now: datetime
) -> Number:
    # Already-ended comes first: whatever else is wrong, a finished call is never redialled.
    if attempt.ended_at is not None:
        raise _Refused(
            Refusal.ALREADY_ENDED, "This call has already ended, so it cannot be dialled again."
        )
    record = (
        session.get(PhoneNumber, attempt.phone_number_id)
        if attempt.phone_number_id is not None
        else None
    )
    if record is None:
        raise _Refused(
            Refusal.NO_NUMBER_RECORD,
            "This call has no family phone number on record, so it cannot be dialled.",
        )
    guardian = record.guardian
    if guardian.household_id != attempt.household_id:
        raise _Refused(
            Refusal.WRONG_HOUSEHOLD,
            "The phone number on this call belongs to a different family, so it was not dialled.",
        )
    campaign = attempt.entry.campaign if attempt.entry is not None else None
    caller = _check_caller(staff, campaign)
    if record.do_not_contact:
        raise _Refused(
            Refusal.DO_NOT_CONTACT, "The family has asked not to be called on this number."
        )
    if guardian.do_not_contact:
        raise _Refused(Refusal.DO_NOT_CONTACT, "This contact has asked not to be called.")
    try:
        stored = parse(record.e164)
    except NumberError:
        stored = Number(record.e164, Kind.INVALID)
    number = _allowed_kind(plan, stored)
    _check_hours(plan, campaign, now)
    _check_staff_rate(session, plan, caller.id, now, exclude=attempt.id)
    _check_number_rate(session, plan, record.e164, now, exclude=attempt.id)
    _check_hub_rate(session, plan, attempt.hub_id, now, exclude=attempt.id)
    return number


def _check_caller(staff: StaffUser | None, campaign: Campaign | None) -> StaffUser:
    bar = caller_bar(staff, campaign)
    if bar is not None or staff is None:
        raise _Refused(*CALLER_REFUSALS[bar or CallerBar.DISABLED])
    return staff


def _allowed_kind(plan: DialPlan, number: Number) -> Number:
    kind = number.kind
    description = KIND_DESCRIPTIONS[kind]
    if kind == Kind.INTERNATIONAL:
        if plan.international:
            return number
        raise _Refused(
            Refusal.INTERNATIONAL,
            f"This number is {description}, and the hub is not set up to call abroad.",
            kind=kind.value,
        )
    if kind in NEVER_DIALLED:
        raise _Refused(
            Refusal.KIND_NOT_ALLOWED,
            f"This number is {description}, which the hub never dials.",
            kind=kind.value,
        )
    if kind not in plan.allowed:
        raise _Refused(
            Refusal.KIND_NOT_ALLOWED,
            f"This number is {description}, which the hub is not set up to dial.",
            kind=kind.value,
        )
    return number


def _check_hours(plan: DialPlan, campaign: Campaign | None, now: datetime) -> None:
    # A closed campaign comes first: "come back at 08:00" would send staff back for nothing.
    if campaign is not None and campaign.closed_at is not None:
        raise _Refused(
            Refusal.CAMPAIGN_CLOSED,
            "This campaign is closed, so no more calls can be made from it.",
        )
    local = now.astimezone(plan.zone)
    start, end = plan.calling_window
    if local.weekday() not in plan.calling_days or not start <= local.time() < end:
        raise _Refused(Refusal.OUTSIDE_HOURS, f"Calls can only be made {plan.calling_hours}.")
    if campaign is None or (campaign.window_start is None and campaign.window_end is None):
        return
    # The campaign narrows the school's window; it never widens it.
    start = max(start, campaign.window_start or start)
    end = min(end, campaign.window_end or end)
    if not start <= local.time() < end:
        raise _Refused(
            Refusal.OUTSIDE_CAMPAIGN_WINDOW,
            f"Calls for this campaign can only be made {start:%H:%M} to {end:%H:%M}.",
        )


def _check_staff_rate(
    session: Session, plan: DialPlan, staff_id: int, now: datetime, *, exclude: int | None
) -> None:
    limit = plan.per_staff_per_hour
    conditions = [CallAttempt.staff_id == staff_id, *_dialled_since(now - HOUR, exclude)]
    count = _count(session, conditions)
    if count < limit:
        return
    # The call that has to drop out of the hour before one more is allowed.
    freeing = session.scalar(
        select(CallAttempt.requested_at)
        .where(*conditions)
        .order_by(CallAttempt.requested_at)
        .offset(count - limit)
        .limit(1)
    )
    assert freeing is not None
    again = _minute_on_or_after(freeing + HOUR).astimezone(plan.zone)
    raise _Refused(
        Refusal.STAFF_RATE,
        f"You have made {_calls(count)} in the last hour, the most allowed; "
        f"try again after {again:%H:%M}.",
        limit=limit,
    )


def _check_number_rate(
    session: Session, plan: DialPlan, e164: str, now: datetime, *, exclude: int | None
) -> None:
    limit = plan.per_number_per_day
    # By the number itself, not its record: two families may share one phone.
    count = (
        session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .join(PhoneNumber, CallAttempt.phone_number_id == PhoneNumber.id)
            .where(PhoneNumber.e164 == e164, *_dialled_since(_local_midnight(plan, now), exclude))
        )
        or 0
    )
    if count < limit:
        return
    times = "once" if count == 1 else f"{count} times"
    raise _Refused(
        Refusal.NUMBER_RATE,
        f"This number has been called {times} today, the most allowed; try again tomorrow.",
        limit=limit,
    )


def _check_hub_rate(
    session: Session, plan: DialPlan, hub_id: int | None, now: datetime, *, exclude: int | None
) -> None:
    limit = plan.per_hub_per_day
    hub = CallAttempt.hub_id.is_(None) if hub_id is None else CallAttempt.hub_id == hub_id
    count = _count(session, [hub, *_dialled_since(_local_midnight(plan, now), exclude)])
    if count < limit:
        return
    raise _Refused(
        Refusal.HUB_RATE,
        f"This hub has made {_calls(count)} today, the most allowed; try again tomorrow.",
        limit=limit,
    )


def _dialled_since(since: datetime, exclude: int | None) -> list[ColumnElement[bool]]:
    # Refused attempts never reached the trunk, so they cost nothing and don't count.
    conditions = [
        CallAttempt.requested_at >= since,
        or_(CallAttempt.end_reason.is_(None), CallAttempt.end_reason != EndReason.REFUSED),
    ]
    if exclude is not None:
        conditions.append(CallAttempt.id != exclude)
    return conditions


def _count(session: Session, conditions: list[ColumnElement[bool]]) -> int:
    return session.scalar(select(func.count()).select_from(CallAttempt).where(*conditions)) or 0


def _local_midnight(plan: DialPlan, now: datetime) -> datetime:
    # Midnight where the school is, so "today" starts an hour earlier in UTC under BST.
    today = now.astimezone(plan.zone).date()
    return datetime.combine(today, time(0), tzinfo=plan.zone).astimezone(UTC)


def _minute_on_or_after(moment: datetime) -> datetime:
    # Rounded up, so "try again after 14:32" is never a minute too early.
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _calls(count: int) -> str:
    return "1 call" if count == 1 else f"{count} calls"


def _days(days: frozenset[int]) -> str:
    if len(days) == len(DAY_NAMES):
        return "every day"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) > 2:
            parts.append(f"{DAY_NAMES[run[0]]} to {DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the dial guard")
    return now.astimezone(UTC)


def _recorded(
    session: Session,
    refused: _Refused,
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
