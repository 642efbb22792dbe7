"""What every figure shares: the filters, the school year and term, and the facts they read.

The figures are computed in Python from a few plain queries: one school's year of
calls is a few thousand rows, and the rules (which pupil a positive call was for,
which family counts in which year) read more clearly here than in SQL.

Who may see what follows the rest of the hub: a viewer who is not the DSL sees
nothing of the DSL-only campaigns (the vulnerable-children queue) and nothing of
the families with a vulnerable pupil, whom only those campaigns may hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.easter import easter
from sqlalchemy import ColumnElement, case, func, or_, select, true
from sqlalchemy.orm import Session

from hub import calls, languages
from hub.models import (
    CalendarPeriod,
    CallAttempt,
    Campaign,
    CampaignEntry,
    EndReason,
    Nomination,
    Outcome,
    PeriodKind,
    Pupil,
    PupilNote,
    Purpose,
)
from hub.queues.rules import CONTACT, SCHOOL_ZONE

# The groups schools track, as MIS exports flag them (compared case-insensitively).
SEN, PUPIL_PREMIUM, EAL = "SEN", "Pupil premium", "EAL"
GROUP_FLAGS = {
    SEN: frozenset({"sen", "send", "sen support", "ehcp"}),
    PUPIL_PREMIUM: frozenset({"pp", "pupil premium"}),
    EAL: frozenset({"eal"}),
}
NO_OUTCOME = "no outcome recorded"


def school_year_start(day: date) -> date:
    """The 1 September on or before ``day``: the start of its school year."""
    return date(day.year if day.month >= 9 else day.year - 1, 9, 1)


@dataclass(frozen=True)
class Filters:
    """Which calls and pupils a figure counts: a date range, and optionally one campaign,
    year or form. ``dsl``: the viewer is the DSL, who also sees the DSL-only campaigns."""

    start: date
    end: date
    campaign_id: int | None = None
    year: str = ""
    form: str = ""
    dsl: bool = False
    zone: ZoneInfo = SCHOOL_ZONE

    @classmethod
    def this_school_year(cls, today: date, **fields: object) -> Filters:
        """From 1 September to ``today``, with ``fields`` as given."""
        return cls(start=school_year_start(today), end=today, **fields)  # type: ignore[arg-type]

    def day_of(self, moment: datetime) -> date:
        """The school-local date of ``moment``."""
        return moment.astimezone(self.zone).date()

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the date range (both days included, school time)."""
        return self.start <= self.day_of(moment) <= self.end


@dataclass(frozen=True)
class Term:
    """The term the figures call "this term": from ``start``, named as the page says it."""

    start: date
    name: str
    from_calendar: bool


def this_term(session: Session, day: date) -> Term:
    """The term ``day`` is in (or the last one before it) from the school calendar, if one
    was imported; otherwise since 1 September, 1 January or Easter Sunday, the latest."""
    term = session.scalars(
        select(CalendarPeriod)
        .where(CalendarPeriod.kind == PeriodKind.TERM, CalendarPeriod.starts_on <= day)
        .order_by(CalendarPeriod.starts_on.desc())
        .limit(1)
    ).first()
    if term is not None:
        return Term(term.starts_on, term.name or "the term", True)
    starts = [
        (school_year_start(day), "the autumn term"),
        (date(day.year, 1, 1), "the spring term"),
        (easter(day.year), "the summer term"),
    ]
    start, name = max((s for s in starts if s[0] <= day), key=lambda s: s[0])
    return Term(start, name, False)


def outcome_label(outcome: Outcome | None) -> str:
    """How an outcome reads in a chart or a table ("Spoke to a parent or carer")."""
    words = calls.SAID.get(outcome, outcome.value.replace("_", " ")) if outcome else NO_OUTCOME
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class PupilFacts:
    """A pupil as the figures need them: no contact details, ever."""

    id: int
    household_id: int
    forename: str
    surname: str
    year: str
    form: str
    groups: frozenset[str]

    @property
    def name(self) -> str:
        """The pupil's full name."""
        return f"{self.forename} {self.surname}"


@dataclass(frozen=True)
class AttemptFacts:
    """A call the line dialled to a family in a campaign."""

    id: int
    entry_id: int
    household_id: int
    campaign_id: int
    at: datetime
    outcome: Outcome | None
    staff_id: int | None

    @property
    def reached(self) -> bool:
        """Someone spoke for the family (the hub's CONTACT outcomes)."""
        return self.outcome in CONTACT


@dataclass(frozen=True)
class CampaignFacts:
    """A campaign the viewer may see."""

    id: int
    name: str
    purpose: Purpose
    created_at: datetime
    closed_at: datetime | None
    # The standing campaign of staff's nominations (hub.positive): it never closes, and a
    # family is in it only while a nomination waits, so it counts the families it called.
    for_nominations: bool = False


@dataclass(frozen=True)
class Scope:
    """The facts one set of filters selects; dates are applied by each figure."""

    filters: Filters
    pupils: tuple[PupilFacts, ...]
    campaigns: dict[int, CampaignFacts]
    # (entry id, campaign id, household id) for every family in a campaign in scope
    entries: tuple[tuple[int, int, int], ...]
    attempts: tuple[AttemptFacts, ...]
    # The pupils a positive call's note was about, by entry (entries with a note only).
    noted: dict[int, frozenset[int]] = field(default_factory=dict)
    # The pupils whose nominations a call read out, by attempt (hub.positive).
    told: dict[int, frozenset[int]] = field(default_factory=dict)

    @property
    def households(self) -> dict[int, tuple[PupilFacts, ...]]:
        """The pupils in scope, by household, each household's in name order."""
        found: dict[int, list[PupilFacts]] = defaultdict(list)
        for pupil in self.pupils:
            found[pupil.household_id].append(pupil)
        return {key: tuple(by_name(pupils)) for key, pupils in found.items()}

    def in_period(self) -> list[AttemptFacts]:
        """The attempts in the filters' date range."""
        return [attempt for attempt in self.attempts if self.filters.holds(attempt.at)]

    def positive_calls(self) -> dict[int, int]:
        """Positive calls in the date range, by pupil id (every pupil in scope is a key).

        A positive call is a call in a campaign whose purpose is positive, with an outcome
        that reached the family. It counts for the pupils whose nominations it read out,
        else those its campaign note was about, or every pupil of the family when neither
        names anybody.
        """
        counts = {pupil.id: 0 for pupil in self.pupils}
        households = self.households
        for attempt in self.in_period():
            campaign = self.campaigns[attempt.campaign_id]
            if campaign.purpose != Purpose.POSITIVE or not attempt.reached:
                continue
            pupils = {pupil.id for pupil in households.get(attempt.household_id, ())}
            named = (self.told.get(attempt.id) or self.noted.get(attempt.entry_id)
                     or frozenset()) & pupils  # fmt: skip
            for pupil_id in named or pupils:
                counts[pupil_id] += 1
        return counts


def load_scope(session: Session, filters: Filters, *, since: date | None = None) -> Scope:
    """The pupils, campaigns, families in campaigns and calls ``filters`` select.

    Calls are read up to the range's end (school time) and, when ``since`` is given,
    from that day on only: a figure of the range alone need not read every call the
    school ever made (reading 50,000 calls took most of a second on SQLite).
    """
    rows = session.execute(
        select(Pupil.id, Pupil.household_id, Pupil.forename, Pupil.surname, Pupil.year,
               Pupil.form, Pupil.flags, Pupil.home_language, Pupil.vulnerable)
    ).all()  # fmt: skip
    hidden = set() if filters.dsl else {row.household_id for row in rows if row.vulnerable}
    pupils = tuple(
        PupilFacts(row.id, row.household_id, row.forename, row.surname, row.year, row.form,
                   groups_of(row.flags, row.home_language))
        for row in rows
        if row.household_id not in hidden
        and (not filters.year or row.year == filters.year)
        and (not filters.form or row.form == filters.form)
    )  # fmt: skip
    households = {pupil.household_id for pupil in pupils}
    query = select(Campaign)
    if not filters.dsl:
        query = query.where(Campaign.dsl_only.is_(False))
    if filters.campaign_id is not None:
        query = query.where(Campaign.id == filters.campaign_id)
    campaigns = {
        c.id: CampaignFacts(c.id, c.name, c.purpose, c.created_at, c.closed_at, c.for_nominations)
        for c in session.scalars(query)
    }
    entries = tuple(
        (entry_id, campaign_id, household_id)
        for entry_id, campaign_id, household_id in session.execute(
            select(CampaignEntry.id, CampaignEntry.campaign_id, CampaignEntry.household_id)
        )
        if campaign_id in campaigns and household_id in households
    )
    in_scope = {entry[0] for entry in entries}
    attempts = tuple(
        AttemptFacts(row.id, row.entry_id, row.household_id, row.campaign_id, row.requested_at,
                     row.outcome, row.staff_id)
        for row in session.execute(
            select(CallAttempt.id, CallAttempt.entry_id, CallAttempt.household_id,
                   CampaignEntry.campaign_id, CallAttempt.requested_at, CallAttempt.outcome,
                   CallAttempt.staff_id)
            .join(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
            .where(*_dialled(),
                   CallAttempt.requested_at < _midnight(filters.end + timedelta(days=1), filters),
                   CallAttempt.requested_at >= _midnight(since, filters) if since else true())
            .order_by(CallAttempt.requested_at, CallAttempt.id)
        )
        if row.entry_id in in_scope and row.household_id is not None
    )  # fmt: skip
    noted: dict[int, set[int]] = defaultdict(set)
    for entry_id, pupil_id in session.execute(
        select(PupilNote.entry_id, PupilNote.pupil_id).where(PupilNote.note != "")
    ):
        if entry_id in in_scope:
            noted[entry_id].add(pupil_id)
    told: dict[int, set[int]] = defaultdict(set)
    for attempt_id, pupil_id in session.execute(
        select(Nomination.attempt_id, Nomination.pupil_id).where(Nomination.attempt_id.is_not(None))
    ):
        told[attempt_id].add(pupil_id)
    return Scope(filters, pupils, campaigns, entries, attempts,
                 {key: frozenset(value) for key, value in noted.items()},
                 {key: frozenset(value) for key, value in told.items()})  # fmt: skip


def range_scope(session: Session, filters: Filters) -> Scope:
    """The facts with the range's calls only: what most figures read. A page showing
    several figures loads it once and passes it to each (``scope=``)."""
    return load_scope(session, filters, since=filters.start)


def earlier_calls(session: Session, scope: Scope, before: date) -> dict[int, tuple[datetime, bool]]:
    """For each family in a campaign in ``scope`` called before ``before`` (school time):
    when it was first called, and whether any of those calls reached it; by entry id.

    One row a family, so a figure may read the calls before its range this way and
    load only the range's calls one by one.
    """
    in_scope = {entry[0] for entry in scope.entries}
    rows = session.execute(
        select(CallAttempt.entry_id, func.min(CallAttempt.requested_at),
               func.count(case((CallAttempt.outcome.in_(CONTACT), 1))))
        .where(*_dialled(), CallAttempt.household_id.is_not(None),
               CallAttempt.requested_at < _midnight(before, scope.filters))
        .group_by(CallAttempt.entry_id)
    )  # fmt: skip
    return {entry_id: (first, reached > 0) for entry_id, first, reached in rows
            if entry_id in in_scope}  # fmt: skip


def _dialled() -> list[ColumnElement[bool]]:
    """Calls the line dialled to a family: not a practice or test call, and not one the
    dial guard refused (it never rang anyone)."""
    return [
        CallAttempt.test_call.is_(False),
        or_(CallAttempt.end_reason.is_(None), CallAttempt.end_reason != EndReason.REFUSED),
    ]


def _midnight(day: date, filters: Filters) -> datetime:
    """The start of ``day`` in the school's time zone, so ``day_of`` agrees at the edges."""
    return datetime.combine(day, time(0), tzinfo=filters.zone)


def groups_of(flags: str, home_language: str) -> frozenset[str]:
    """The tracked groups a pupil is in, from the MIS flags and their home language.

    EAL is the MIS's own flag, or a home language recorded that is not English (as
    ``hub.languages`` reads it, so "ENG" and "English (British)" are English).
    """
    flagged = {flag.strip().casefold() for flag in flags.split(",") if flag.strip()}
    groups = {group for group, names in GROUP_FLAGS.items() if flagged & names}
    if languages.may_need_interpreter(home_language):
        groups.add(EAL)
    return frozenset(groups)


def natural(values: Iterable[str]) -> list[str]:
    """Years and forms in the order a school reads them: "R", 1, 2, …, 10, 11, then the rest."""

    def key(value: str) -> tuple[int, int, str]:
        digits = "".join(ch for ch in value if ch.isdigit())
        return (0, int(digits), value) if digits else (1, 0, value)

    return sorted(set(values), key=key)


def by_name(pupils: Iterable[PupilFacts]) -> list[PupilFacts]:
    """``pupils`` sorted by surname, then forename."""
    return sorted(pupils, key=lambda p: (p.surname.casefold(), p.forename.casefold(), p.id))


def weeks(start: date, end: date) -> list[date]:
    """The Mondays of the weeks from ``start`` to ``end``, both included."""
    monday = start - timedelta(days=start.weekday())
    found = []
    while monday <= end:
        found.append(monday)
        monday += timedelta(days=7)
    return found
