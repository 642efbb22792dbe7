"""People, campaigns and calls made to order, for tests and the bench.

Every phone number is from Ofcom's drama ranges (07700 900xxx, 01632 960xxx) and
every name is made up. Each factory flushes, so the row has its id when returned.

    with database.session() as session:
        entry = add_entry(session, add_campaign(session))
        attempt = add_call(session, entry, add_staff(session, "Sam"), at=MONDAY)
"""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import calls
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EndReason,
    Guardian,
    Household,
    Outcome,
    PhoneNumber,
    Pupil,
    Purpose,
    Role,
    StaffUser,
)

_serial = itertools.count(1)


def pupil(
    forename: str = "Zoë",
    surname: str = "O'Brien",
    year: str = "7",
    form: str = "7A",
    flags: str = "",
    vulnerable: bool = False,
    mis_id: str = "",
    **fields: object,
) -> Pupil:
    """A pupil, not yet in a household."""
    return Pupil(
        mis_id=mis_id or f"T{next(_serial)}",
        forename=forename,
        surname=surname,
        year=year,
        form=form,
        flags=flags,
        vulnerable=vulnerable,
        **fields,
    )


def add_household(
    session: Session, *pupils: Pupil, serial: int | None = None, guardian: str = ""
) -> Household:
    """A household with these pupils (one by default) and a guardian with two drama numbers.

    The numbers end in ``serial`` (three digits, a fresh one by default): 07700 900<serial>
    (mobile) and 01632 960<serial> (home).
    """
    serial = next(_serial) % 1000 if serial is None else serial
    pupils = pupils or (pupil(),)
    household = Household(pupils=list(pupils))
    parent = Guardian(household=household, name=guardian or f"Siân {pupils[0].surname}")
    parent.numbers = [
        PhoneNumber(label="mobile", e164=f"+447700900{serial:03d}", kind="mobile"),
        PhoneNumber(label="home", e164=f"+441632960{serial:03d}", kind="geographic", position=1),
    ]
    session.add(household)
    session.flush()
    return household


def add_staff(session: Session, name: str, role: Role = Role.STAFF, **fields: object) -> StaffUser:
    """An active member of staff who has opted in, unless ``fields`` say otherwise."""
    staff = StaffUser(
        email=f"{name.lower()}@school.example",
        name=name,
        role=role,
        password_hash="-",
        opted_in=True,
        active=True,
    )
    for key, value in fields.items():
        setattr(staff, key, value)
    session.add(staff)
    session.flush()
    return staff


def add_campaign(session: Session, name: str = "Welfare check", **fields: object) -> Campaign:
    """An open welfare campaign anyone opted in may work, with the default 14-day cadence,
    unless ``fields`` say otherwise."""
    campaign = Campaign(name=name, **{"purpose": Purpose.WELFARE, "cadence_days": 14, **fields})
    session.add(campaign)
    session.flush()
    return campaign


def add_entry(
    session: Session, campaign: Campaign, household: Household | None = None, **fields: object
) -> CampaignEntry:
    """A household (a new one by default) waiting in ``campaign``."""
    entry = CampaignEntry(
        campaign_id=campaign.id, household_id=(household or add_household(session)).id, **fields
    )
    session.add(entry)
    session.flush()
    return entry


def add_call(
    session: Session,
    entry: CampaignEntry,
    staff: StaffUser,
    at: datetime,
    outcome: Outcome | None = None,
    end_reason: EndReason | None = EndReason.COMPLETED,
    notes: str = "",
) -> CallAttempt:
    """A call the line made to the entry's household at ``at``, ended unless ``end_reason``
    is None; ``outcome`` is written as it stands, without the queue's rules (see ``call``)."""
    number = session.scalar(
        select(PhoneNumber.id)
        .join(Guardian)
        .where(Guardian.household_id == entry.household_id)
        .order_by(PhoneNumber.position)
        .limit(1)
    )
    attempt = calls.record_past(session, entry, staff, number_id=number, at=at,
                                end_reason=end_reason, outcome=outcome, notes=notes)  # fmt: skip
    session.flush()
    return attempt


def call(
    session: Session,
    entry: CampaignEntry,
    staff: StaffUser,
    at: datetime,
    outcome: Outcome,
    **options: object,
) -> CampaignEntry:
    """A call made at ``at`` and the outcome its caller gave it, by the queue's rules.

    ``options`` go to ``calls.record_outcome`` (``notes``, ``call_back_at``, ``now``, ``zone``).
    """
    attempt = add_call(session, entry, staff, at)
    return calls.record_outcome(session, attempt, outcome, staff=staff,
                                **{"now": at, **options})  # fmt: skip
