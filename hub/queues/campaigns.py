"""Who is in a campaign and who calls them: adding households and sharing them out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.db import take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    Campaign,
    CampaignEntry,
    EntryState,
    Pupil,
    Purpose,
    Role,
    StaffUser,
)
from hub.queues.rules import (
    OPEN,
    _audit,
    _check_can_work,
    _check_manager,
    _flags,
    _households,
    as_utc,
    may_work,
)

AssignMethod = Literal["round_robin", "manual", "key_adult"]
MAX_CADENCE_DAYS = 365
NAME_LIMIT = 200  # characters of a campaign's name


@dataclass(frozen=True)
class AddSummary:
    """What adding households to a campaign did, for the admin who asked."""

    added: int
    already_in: int
    vulnerable_left_out: int

    @property
    def message(self) -> str:
        """The summary as one or two sentences for the panel."""
        text = f"Added {_households(self.added)}"
        if self.already_in:
            text += f"; {_households(self.already_in)} already in the campaign"
        text += "."
        if self.vulnerable_left_out:
            count = self.vulnerable_left_out
            text += (
                f" {_households(count).capitalize()} with a vulnerable pupil "
                f"{'was' if count == 1 else 'were'} left out, because only the DSL's "
                "campaigns may hold them."
            )
        return text


@dataclass(frozen=True)
class AssignSummary:
    """What an assignment did: how many entries got a member of staff, how many did not."""

    assigned: int
    left_unassigned: int

    @property
    def message(self) -> str:
        """The summary as one sentence for the panel."""
        text = f"Assigned {_households(self.assigned)}"
        if self.left_unassigned:
            text += f"; {_households(self.left_unassigned)} left unassigned"
        return text + "."


def add_households(
    session: Session,
    campaign: Campaign,
    *,
    actor: StaffUser | str,
    now: datetime,
    years: Collection[str] = (),
    forms: Collection[str] = (),
    flags: Collection[str] = (),
    everyone: bool = False,
) -> AddSummary:
    """Add one entry per chosen household: pupils matching every filter given, or everyone."""
    now = as_utc(now)
    _check_manager(actor, campaign)
    if everyone == bool(years or forms or flags):
        raise QueueError("Choose years, forms or flags, or everyone, but not both.")
    take_write_lock(session)
    query = select(Pupil.household_id, Pupil.flags, Pupil.vulnerable)
    if years:
        query = query.where(Pupil.year.in_(list(years)))
    if forms:
        query = query.where(Pupil.form.in_(list(forms)))
    wanted = {flag.strip().casefold() for flag in flags}
    chosen = {
        household_id
        for household_id, pupil_flags, vulnerable in session.execute(query)
        if not wanted or wanted & _flags(pupil_flags, vulnerable)
    }
    already = set(
        session.scalars(
            select(CampaignEntry.household_id).where(CampaignEntry.campaign_id == campaign.id)
        )
    )
    left_out: set[int] = set()
    if not campaign.dsl_only:
        # The whole household is the DSL's if any child in it is vulnerable,
        # whichever of its pupils matched the filters.
        left_out = set(
            session.scalars(select(Pupil.household_id).where(Pupil.vulnerable.is_(True)))
        )
    new = sorted(chosen - already - left_out)
    session.add_all(CampaignEntry(campaign_id=campaign.id, household_id=h) for h in new)
    summary = AddSummary(
        added=len(new),
        already_in=len(chosen & already),
        vulnerable_left_out=len((chosen - already) & left_out),
    )
    _audit(
        session,
        "campaign.households_added",
        actor=actor,
        now=now,
        target=campaign,
        detail={
            "added": summary.added,
            "already_in": summary.already_in,
            "vulnerable_left_out": summary.vulnerable_left_out,
            "everyone": everyone,
        },
    )
    session.flush()
    return summary


def assign(
    session: Session,
    campaign: Campaign,
    *,
    actor: StaffUser | str,
    method: AssignMethod,
    now: datetime,
    staff: Sequence[StaffUser] = (),
    entries: Sequence[CampaignEntry] | None = None,
) -> AssignSummary:
    """Give entries still to call a member of staff; by default every unassigned one."""
    now = as_utc(now)
    _check_manager(actor, campaign)
    take_write_lock(session)
    if entries is None:
        chosen = list(
            session.scalars(
                select(CampaignEntry)
                .where(
                    CampaignEntry.campaign_id == campaign.id,
                    CampaignEntry.state.in_(OPEN),
                    CampaignEntry.assignee_id.is_(None),
                )
                .order_by(CampaignEntry.id)
            )
        )
    else:
        if any(entry.campaign_id != campaign.id for entry in entries):
            raise QueueError("Some of those households are not in this campaign.")
        # A claimed card stays with whoever holds it; a finished one needs nobody.
        chosen = [entry for entry in entries if entry.state in OPEN]
    if method == "round_robin":
        given = _round_robin(session, campaign, chosen, staff)
    elif method == "manual":
        given = _manual(campaign, chosen, staff)
    elif method == "key_adult":
        given = _key_adults(session, campaign, chosen)
    else:
        raise ValueError(f"unknown assignment method {method!r}")
    for entry, member in given.items():
        entry.assignee_id = member.id
    skipped = (len(entries) if entries is not None else len(chosen)) - len(given)
    _audit(
        session,
        "campaign.assigned",
        actor=actor,
        now=now,
        target=campaign,
        detail={"method": method, "assigned": len(given), "left_unassigned": skipped},
    )
    session.flush()
    return AssignSummary(assigned=len(given), left_unassigned=skipped)


def sharing_staff(session: Session, campaign: Campaign) -> list[StaffUser]:
    """Who an even share-out of ``campaign`` goes to: everyone who may work it and makes calls."""
    candidates = (
        campaign.staff
        if not campaign.any_opted_in_staff
        else session.scalars(select(StaffUser).where(StaffUser.active.is_(True)))
    )
    # Only people who make calls share the work out: an admin or DSL who may call
    # but has not said they do would hold families nobody rings.
    return sorted(
        (member for member in candidates if member.opted_in and may_work(member, campaign)),
        key=lambda member: (member.name, member.id),
    )


def _round_robin(
    session: Session,
    campaign: Campaign,
    entries: list[CampaignEntry],
    staff: Sequence[StaffUser],
) -> dict[CampaignEntry, StaffUser]:
    team = list(staff) or sharing_staff(session, campaign)
    _check_can_work(team, campaign)
    if not team:
        raise QueueError("Nobody may work this campaign yet, so there is no one to assign.")
    # Counting what each already has keeps a second share-out fair, not just the first.
    load = Counter(
        session.scalars(
            select(CampaignEntry.assignee_id).where(
                CampaignEntry.campaign_id == campaign.id,
                CampaignEntry.state.in_((*OPEN, EntryState.CLAIMED)),
                CampaignEntry.assignee_id.in_([member.id for member in team]),
                CampaignEntry.id.not_in([entry.id for entry in entries]),
            )
        )
    )
    given = {}
    for entry in entries:
        member = min(team, key=lambda m: load[m.id])  # min keeps the first of equals
        given[entry] = member
        load[member.id] += 1
    return given


def _manual(
    campaign: Campaign, entries: list[CampaignEntry], staff: Sequence[StaffUser]
) -> dict[CampaignEntry, StaffUser]:
    if len(staff) != 1:
        raise QueueError("Choose one member of staff to give these households to.")
    _check_can_work(staff, campaign)
    return dict.fromkeys(entries, staff[0])


def _key_adults(
    session: Session, campaign: Campaign, entries: list[CampaignEntry]
) -> dict[CampaignEntry, StaffUser]:
    # Needs Pupil.key_adult_id (see the model change this module's tests describe).
    households = {entry.household_id for entry in entries}
    adults: dict[int, list[int]] = {}
    for household_id, adult_id in session.execute(
        select(Pupil.household_id, Pupil.key_adult_id)
        .where(Pupil.household_id.in_(households), Pupil.key_adult_id.is_not(None))
        .order_by(Pupil.household_id, Pupil.surname, Pupil.forename, Pupil.id)
    ):
        adults.setdefault(household_id, []).append(adult_id)
    staff = {
        member.id: member
        for member in session.scalars(
            select(StaffUser).where(StaffUser.id.in_({a for ids in adults.values() for a in ids}))
        )
        if may_work(member, campaign)
    }
    given = {}
    for entry in entries:
        # Siblings may have different key adults: the first who may work the campaign.
        member = next((staff[a] for a in adults.get(entry.household_id, []) if a in staff), None)
        if member is not None:
            given[entry] = member
    return given


@dataclass(frozen=True)
class CampaignPlan:
    """What an admin or the DSL asks for in a new campaign."""

    name: str
    purpose: Purpose
    talking_points: str = ""
    cadence_days: int = 14
    window_start: time | None = None
    window_end: time | None = None
    recording: bool = False
    dsl_only: bool = False
    named_staff: Sequence[StaffUser] | None = None  # None: anyone who has opted in
    deadline: date | None = None


def create_campaign(
    session: Session, plan: CampaignPlan, *, actor: StaffUser | str, now: datetime
) -> Campaign:
    """A new, open campaign, audited; QueueError with one sentence if the plan breaks a rule."""
    now = as_utc(now)
    name = plan.name.strip()
    if not name:
        raise QueueError("Give the campaign a name.")
    if isinstance(actor, StaffUser) and (not actor.active or actor.role == Role.STAFF):
        raise QueueError("Only an admin or the DSL can start a campaign.")
    if plan.dsl_only and isinstance(actor, StaffUser) and actor.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can start a DSL-only campaign.")
    if not 1 <= plan.cadence_days <= MAX_CADENCE_DAYS:
        raise QueueError(
            f"The cadence must be a whole number of days from 1 to {MAX_CADENCE_DAYS}."
        )
    if plan.window_start and plan.window_end and plan.window_start >= plan.window_end:
        raise QueueError("The calling window must end after it starts.")
    if plan.named_staff is not None and not plan.named_staff:
        raise QueueError("Choose who may work this campaign.")
    if any(audit.NUMBER_LIKE.search(text) for text in (name, plan.talking_points)):
        raise QueueError("Leave phone numbers out of the campaign's name and talking points.")
    campaign = Campaign(
        name=name[:NAME_LIMIT],
        purpose=plan.purpose,
        talking_points=plan.talking_points.strip(),
        cadence_days=plan.cadence_days,
        window_start=plan.window_start,
        window_end=plan.window_end,
        recording=plan.recording,
        dsl_only=plan.dsl_only,
        any_opted_in_staff=plan.named_staff is None,
        staff=list(plan.named_staff or ()),
        deadline=plan.deadline,
        created_by_id=actor.id if isinstance(actor, StaffUser) else None,
    )
    session.add(campaign)
    session.flush()
    _audit(session, "campaign.created", actor=actor, now=now, target=campaign,
           detail={"purpose": campaign.purpose.value})  # fmt: skip
    return campaign


def close_campaign(session: Session, campaign: Campaign, *, actor: StaffUser | str,
                   now: datetime) -> bool:  # fmt: skip
    """Close a campaign: nobody is offered its households. False if it was already closed."""
    if campaign.closed_at is not None:
        return False
    now = as_utc(now)
    campaign.closed_at = now
    _audit(session, "campaign.closed", actor=actor, now=now, target=campaign, detail={})
    return True


def reopen_campaign(session: Session, campaign: Campaign, *, actor: StaffUser | str,
                    now: datetime) -> bool:  # fmt: skip
    """Open a closed campaign again. False if it was open."""
    if campaign.closed_at is None:
        return False
    campaign.closed_at = None
    _audit(session, "campaign.reopened", actor=actor, now=as_utc(now), target=campaign, detail={})
    return True


# The latest a campaign's later hours may run: later than this is no time to phone a family.
LATEST_CALL = time(21, 0)


@dataclass(frozen=True)
class LaterPeriod:
    """From one date to another (both included), a campaign's calls at later hours."""

    starts_on: date
    ends_on: date
    start: time
    end: time

    def words(self) -> str:
        return (f"from {self.starts_on:%d/%m/%Y} to {self.ends_on:%d/%m/%Y}, calls "
                f"{self.start:%H:%M} to {self.end:%H:%M}")  # fmt: skip


def later_period(campaign: Campaign) -> LaterPeriod | None:
    """The campaign's period of later calls, if it has one."""
    if None in (campaign.later_from, campaign.later_until, campaign.later_start,
                campaign.later_end):  # fmt: skip
        return None
    assert campaign.later_from and campaign.later_until and campaign.later_start
    assert campaign.later_end
    return LaterPeriod(campaign.later_from, campaign.later_until, campaign.later_start,
                       campaign.later_end)  # fmt: skip


def set_later_period(session: Session, campaign: Campaign, period: LaterPeriod | None, *,
                     actor: StaffUser, now: datetime) -> None:  # fmt: skip
    """Call later in the day for a period (None: no longer); one sentence if it breaks a rule."""
    _check_manager(actor, campaign)
    if period is not None:
        if period.ends_on < period.starts_on:
            raise QueueError("The period must end on or after the day it starts.")
        if period.start >= period.end:
            raise QueueError("The later hours must end after they start.")
        if period.end > LATEST_CALL:
            raise QueueError(f"Calls must end by {LATEST_CALL:%H:%M}: later than that is no "
                             "time to phone a family.")  # fmt: skip
    values = (period.starts_on, period.ends_on, period.start, period.end) if period else (
        None, None, None, None)  # fmt: skip
    (campaign.later_from, campaign.later_until, campaign.later_start,
     campaign.later_end) = values  # fmt: skip
    _audit(session, "campaign.later_hours", actor=actor, now=as_utc(now), target=campaign,
           detail={"period": period.words() if period else "none"})  # fmt: skip
