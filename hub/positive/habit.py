"""The weekly habit: a member of staff's positive calls this week, their run, the reminder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hub.config.sections import DAYS, DialplanSection, PositiveSection
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Purpose,
    Role,
    StaffUser,
)
from hub.queues import CONTACT, not_reached
from hub.school_days import SchoolCalendar

RUN_WEEKS = 52  # how far back a run of weeks is counted


@dataclass(frozen=True)
class Week:
    """A member of staff's positive calls this week, and their run of weeks."""

    reached: int  # positive calls this week that reached a family
    tried: int  # positive calls this week that reached nobody
    run: int  # school weeks in a row, to this one, with a positive call that reached a family

    @property
    def made(self) -> bool:
        """Whether this week's positive call is made."""
        return self.reached > 0


def positive_calls(staff: StaffUser | None = None) -> list[ColumnElement[bool]]:
    """Calls in positive campaigns: ``staff``'s, or everyone's."""
    conditions = [
        CallAttempt.entry_id == CampaignEntry.id,
        CampaignEntry.campaign_id == Campaign.id,
        Campaign.purpose == Purpose.POSITIVE,
    ]
    return conditions if staff is None else [CallAttempt.staff_id == staff.id, *conditions]


def week_start(now: datetime, zone: ZoneInfo) -> date:
    """The Monday of ``now``'s week, in the school's time zone."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=today.weekday())


def my_week(
    session: Session, staff: StaffUser, *, now: datetime, zone: ZoneInfo, calendar: SchoolCalendar
) -> Week:
    """``staff``'s positive calls this week and their run of weeks with one."""
    monday = week_start(now, zone)
    since = datetime.combine(monday - timedelta(weeks=RUN_WEEKS), time(0), tzinfo=zone)
    reached_at = session.scalars(
        select(CallAttempt.requested_at).where(
            *positive_calls(staff), CallAttempt.requested_at >= since,
            CallAttempt.outcome.in_(CONTACT))
    ).all()  # fmt: skip
    weeks = [week_start(moment, zone) for moment in reached_at]
    this_week = datetime.combine(monday, time(0), tzinfo=zone)
    tried = session.scalar(
        select(func.count()).where(
            *positive_calls(staff), CallAttempt.requested_at >= this_week, not_reached())
    )  # fmt: skip
    return Week(reached=weeks.count(monday), tried=tried or 0,
                run=_run(set(weeks), monday, calendar))  # fmt: skip


def _run(weeks: set[date], monday: date, calendar: SchoolCalendar) -> int:
    """School weeks in a row with a call, back from this one; this week counts once made.

    A week with no school day in it (a holiday) neither adds to the run nor breaks it.
    """
    run = 1 if monday in weeks else 0
    for back in range(1, RUN_WEEKS + 1):
        week = monday - timedelta(weeks=back)
        if week in weeks:
            run += 1
        elif any(calendar.is_school_day(week + timedelta(days=d)) for d in range(5)):
            break
    return run


def reminder_due(
    week: Week,
    *,
    now: datetime,
    settings: PositiveSection,
    dialplan: DialplanSection,
    calendar: SchoolCalendar,
) -> bool:
    """Whether to remind someone with ``week`` to make their positive call, now."""
    if week.made:
        return False
    local = now.astimezone(dialplan.zone)
    if DAYS[local.weekday()] != reminder_day(settings, dialplan):
        return False
    if dialplan.school_days_only and not calendar.is_school_day(local.date()):
        return False
    start, end = reminder_window(settings, dialplan)
    return start <= local.time() < end


def reminder_day(settings: PositiveSection, dialplan: DialplanSection) -> str | None:
    """The day of the reminder: the school's chosen day if it calls then, else the last day
    it calls before it in the week (Thursday, for a school that calls Monday to Thursday)."""
    chosen = DAYS.index(settings.reminder_day)
    for back in range(7):
        day = DAYS[(chosen - back) % 7]
        if day in dialplan.calling_days:
            return day
    return None


def reminder_window(settings: PositiveSection, dialplan: DialplanSection) -> tuple[time, time]:
    """When the reminder shows: the chosen hours within calling hours, so it can be acted on;
    the last hour of calling if the two do not meet (calls end before the chosen time)."""
    (start, end), (open_at, close_at) = settings.reminder_window, dialplan.calling_window
    start, end = max(start, open_at), min(end, close_at)
    if start < end:
        return start, end
    last_hour = datetime.combine(date.min, close_at) - timedelta(hours=1)
    return max(open_at, last_hour.time()), close_at


def school_week(session: Session, *, now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """Whole-school totals for this week: staff with a positive call made, staff who call."""
    since = datetime.combine(week_start(now, zone), time(0), tzinfo=zone)
    # Counted among the same people on both sides, so it never reads "5 of 4".
    callers = (StaffUser.active.is_(True),
               or_(StaffUser.role != Role.STAFF, StaffUser.opted_in.is_(True)))  # fmt: skip
    made = session.scalar(
        select(func.count(func.distinct(CallAttempt.staff_id))).where(
            *positive_calls(),
            CallAttempt.requested_at >= since,
            CallAttempt.outcome.in_(CONTACT),
            CallAttempt.staff_id == StaffUser.id,
            *callers,
        )
    )
    everyone = session.scalar(select(func.count()).where(*callers))
    return made or 0, everyone or 0
