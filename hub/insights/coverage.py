"""Coverage: the families the school has not reached this term, and the pupils who have
had no positive call home in the date range (this school year unless chosen otherwise).

"This term" is the school calendar's term holding the last day of the date range
(``scope.this_term``), and runs to that day. A family is everyone in one household;
it counts in each year and form one of its pupils is in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hub.insights.scope import (
    EAL,
    PUPIL_PREMIUM,
    SEN,
    AttemptFacts,
    Filters,
    PupilFacts,
    Term,
    by_name,
    load_scope,
    natural,
    range_scope,
    this_term,
)

TRACKED = (SEN, PUPIL_PREMIUM, EAL)


@dataclass(frozen=True)
class Share:
    """Of ``total`` (families or pupils) in a group, how many are ``missed``."""

    label: str
    total: int
    missed: int

    @property
    def rate(self) -> float | None:
        """The share missed."""
        return self.missed / self.total if self.total else None


@dataclass(frozen=True)
class FamilyNotReached:
    """A family no call reached this term: its pupils, and the calls that tried."""

    household_id: int
    pupils: tuple[PupilFacts, ...]
    calls: int
    last_tried: datetime | None


@dataclass(frozen=True)
class Coverage:
    """Families not reached this term, listed and counted by year and form."""

    term: Term
    families: int
    not_reached: tuple[FamilyNotReached, ...]
    by_year: tuple[Share, ...]
    by_form: tuple[Share, ...]


def coverage(session: Session, filters: Filters) -> Coverage:
    """The families in scope that no call reached from the term's start to the range's end.

    With a campaign chosen, the families in that campaign and its calls only.
    """
    term = this_term(session, filters.end)
    scope = load_scope(session, filters, since=term.start)
    households = scope.households
    if filters.campaign_id is not None:
        in_campaign = {household_id for _, _, household_id in scope.entries}
        households = {key: value for key, value in households.items() if key in in_campaign}
    calls: dict[int, list[AttemptFacts]] = defaultdict(list)
    for attempt in scope.attempts:
        if term.start <= filters.day_of(attempt.at) <= filters.end:
            calls[attempt.household_id].append(attempt)
    missed = {
        household_id
        for household_id in households
        if not any(attempt.reached for attempt in calls[household_id])
    }
    listed = sorted(
        (FamilyNotReached(household_id, households[household_id], len(calls[household_id]),
                          max((a.at for a in calls[household_id]), default=None))
         for household_id in missed),
        key=lambda family: [(p.surname.casefold(), p.forename.casefold()) for p in family.pupils],
    )  # fmt: skip
    years: dict[str, set[int]] = defaultdict(set)
    forms: dict[str, set[int]] = defaultdict(set)
    for household_id, pupils in households.items():
        for pupil in pupils:
            if pupil.year:
                years[pupil.year].add(household_id)
            if pupil.form:
                forms[pupil.form].add(household_id)
    return Coverage(
        term=term,
        families=len(households),
        not_reached=tuple(listed),
        by_year=tuple(Share(f"Year {year}", len(years[year]), len(years[year] & missed))
                      for year in natural(years)),
        by_form=tuple(Share(form, len(forms[form]), len(forms[form] & missed))
                      for form in natural(forms)),
    )  # fmt: skip


@dataclass(frozen=True)
class PositiveCoverage:
    """The pupils with no positive call in the date range, and the share in each group."""

    pupils: int
    without: tuple[PupilFacts, ...]
    # Every pupil, then each tracked group (SEN, pupil premium, EAL).
    groups: tuple[Share, ...]


def no_positive_call(session: Session, filters: Filters) -> PositiveCoverage:
    """Pupils in scope with no positive call in the date range; pupils in a tracked group
    first, then by name."""
    scope = range_scope(session, filters)
    counts = scope.positive_calls()
    without = [pupil for pupil in scope.pupils if counts[pupil.id] == 0]
    groups = [Share("All pupils", len(scope.pupils), len(without))]
    for group in TRACKED:
        groups.append(Share(group, sum(group in p.groups for p in scope.pupils),
                            sum(group in p.groups for p in without)))  # fmt: skip
    tracked = [pupil for pupil in by_name(without) if pupil.groups]
    others = [pupil for pupil in by_name(without) if not pupil.groups]
    return PositiveCoverage(len(scope.pupils), tuple(tracked + others), tuple(groups))
