"""Staff load: how many calls each member of staff made, for planning their time.

Not a league table: the figures are listed by name, never ranked by count, and
only admins see them. Calls in the DSL-only campaigns are left out for everyone
but the DSL, who does not see this page: an admin planning time should know the
DSL's own queue is not counted here. Positive calls home are left out too: they
are each teacher's own weekly habit, which nobody else sees except as a whole-school
total (hub.positive).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.insights.scope import Filters, range_scope
from hub.models import Purpose, StaffUser


@dataclass(frozen=True)
class StaffLoad:
    """One member of staff's calls in the date range, and how many of them reached a family."""

    name: str
    calls: int
    reached: int


def staff_load(session: Session, filters: Filters) -> tuple[StaffLoad, ...]:
    """Calls per member of staff who made one, or who calls (active and opted in), by name."""
    scope = range_scope(session, filters)
    calls: Counter[int] = Counter()
    reached: Counter[int] = Counter()
    for attempt in scope.in_period():
        positive = scope.campaigns[attempt.campaign_id].purpose is Purpose.POSITIVE
        if attempt.staff_id is not None and not positive:
            calls[attempt.staff_id] += 1
            reached[attempt.staff_id] += attempt.reached
    staff = session.scalars(
        select(StaffUser).where(
            or_(
                StaffUser.id.in_(list(calls)),
                StaffUser.active.is_(True) & StaffUser.opted_in.is_(True),
            )
        )
    ).all()
    rows = [StaffLoad(member.name, calls[member.id], reached[member.id]) for member in staff]
    return tuple(sorted(rows, key=lambda row: (row.name.casefold(), row.name)))
