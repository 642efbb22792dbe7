"""The dial guard's rate limits: calls per member of staff, per number and per hub.

Each counts the attempts already in the database, over the last hour or since
midnight where the school is, and refuses the dial once the limit is reached.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hub.guard.plan import DialPlan
from hub.guard.refusals import Refusal, Refused
from hub.models import CallAttempt, EndReason, PhoneNumber

HOUR = timedelta(hours=1)


def check_staff_rate(
    session: Session, plan: DialPlan, staff_id: int, now: datetime, *, exclude: int | None
) -> None:
    """Refused once this member of staff has made the most calls allowed in an hour."""
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
    raise Refused(
        Refusal.STAFF_RATE,
        f"You have made {_calls(count)} in the last hour, the most allowed; "
        f"try again after {again:%H:%M}.",
        limit=limit,
    )


def check_number_rate(
    session: Session, plan: DialPlan, e164: str, now: datetime, *, exclude: int | None
) -> None:
    """Refused once this number has been called the most times allowed today."""
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
    raise Refused(
        Refusal.NUMBER_RATE,
        f"This number has been called {times} today, the most allowed; try again tomorrow.",
        limit=limit,
    )


def check_hub_rate(
    session: Session, plan: DialPlan, hub_id: int | None, now: datetime, *, exclude: int | None
) -> None:
    """Refused once this hub has made the most calls allowed today."""
    limit = plan.per_hub_per_day
    hub = CallAttempt.hub_id.is_(None) if hub_id is None else CallAttempt.hub_id == hub_id
    count = _count(session, [hub, *_dialled_since(_local_midnight(plan, now), exclude)])
    if count < limit:
        return
    raise Refused(
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
