"""Calls: how many each week and how they ended, how many families were reached, how soon.

Reached means a call's outcome says someone spoke for the family (the hub's CONTACT
outcomes: a parent or the pupil spoke, or a parent declined to talk). A call that
ended in a safeguarding concern is counted as a call, not as reaching the family:
the concern's outcome does not say who answered, and the DSL follows it up.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from hub.insights.scope import (
    AttemptFacts,
    Filters,
    Scope,
    earlier_calls,
    natural,
    outcome_label,
    range_scope,
    weeks,
)
from hub.models import Outcome


@dataclass(frozen=True)
class WeekOfCalls:
    """One week's calls (from Monday), counted by outcome in ``CallsByWeek.outcomes`` order."""

    monday: date
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        """Every call that week."""
        return sum(self.counts)


@dataclass(frozen=True)
class CallsByWeek:
    """Calls by week and outcome; the last outcome column is "no outcome recorded"."""

    outcomes: tuple[str, ...]
    weeks: tuple[WeekOfCalls, ...]

    @property
    def total(self) -> int:
        """Every call in the date range."""
        return sum(week.total for week in self.weeks)


def calls_by_week(session: Session, filters: Filters, *, scope: Scope | None = None) -> CallsByWeek:
    """Every call dialled in the date range, by week and by the outcome staff recorded."""
    return _calls_by_week(scope or range_scope(session, filters))


def _calls_by_week(scope: Scope) -> CallsByWeek:
    # Every member of the enum, so an outcome added later has its own column.
    order: list[Outcome | None] = [*Outcome, None]
    counts: dict[date, Counter[Outcome | None]] = defaultdict(Counter)
    for attempt in scope.in_period():
        day = scope.filters.day_of(attempt.at)
        counts[date.fromordinal(day.toordinal() - day.weekday())][attempt.outcome] += 1
    return CallsByWeek(
        outcomes=tuple(outcome_label(outcome) for outcome in order),
        weeks=tuple(
            WeekOfCalls(monday, tuple(counts[monday][outcome] for outcome in order))
            for monday in weeks(scope.filters.start, scope.filters.end)
        ),
    )


@dataclass(frozen=True)
class Reach:
    """Families in campaigns, how many were called and how many reached."""

    label: str
    families: int
    tried: int
    reached: int

    @property
    def rate(self) -> float | None:
        """Reached as a share of the families the campaigns set out to call."""
        return self.reached / self.families if self.families else None


@dataclass(frozen=True)
class ReachFigures:
    """The reach rate overall, by campaign, by year and by form."""

    overall: Reach
    by_campaign: tuple[Reach, ...]
    by_year: tuple[Reach, ...]
    by_form: tuple[Reach, ...]


def reach(session: Session, filters: Filters, *, scope: Scope | None = None) -> ReachFigures:
    """Of the families in the campaigns running in the date range, how many were reached.

    A family counts once in each campaign it is in (one entry). It was tried when the
    campaign called it in the date range, and reached when one of those calls reached
    someone. A family counts in each year and form one of its pupils is in. In the
    standing nominations campaign, which never closes, only the families called in the
    date range count.
    """
    scope = scope or range_scope(session, filters)
    running = {
        c.id for c in scope.campaigns.values()
        if filters.day_of(c.created_at) <= filters.end
        and (c.closed_at is None or filters.day_of(c.closed_at) >= filters.start)
    }  # fmt: skip
    by_entry: dict[int, list[AttemptFacts]] = defaultdict(list)
    for attempt in scope.in_period():
        by_entry[attempt.entry_id].append(attempt)
    households = scope.households
    groups: dict[str, dict[str, list[tuple[bool, bool]]]] = {
        "campaign": defaultdict(list), "year": defaultdict(list), "form": defaultdict(list),
    }  # fmt: skip
    everyone: list[tuple[bool, bool]] = []
    for entry_id, campaign_id, household_id in scope.entries:
        if campaign_id not in running:
            continue
        attempts = by_entry.get(entry_id, [])
        if not attempts and scope.campaigns[campaign_id].for_nominations:
            continue  # nominated some other time: not one of this range's families
        outcome = (bool(attempts), any(attempt.reached for attempt in attempts))
        everyone.append(outcome)
        groups["campaign"][scope.campaigns[campaign_id].name].append(outcome)
        pupils = households.get(household_id, ())
        for year in {pupil.year for pupil in pupils if pupil.year}:
            groups["year"][year].append(outcome)
        for form in {pupil.form for pupil in pupils if pupil.form}:
            groups["form"][form].append(outcome)

    def rows(
        found: dict[str, list[tuple[bool, bool]]], labels: list[str], prefix: str = ""
    ) -> tuple[Reach, ...]:
        return tuple(_reach(prefix + label, found[label]) for label in labels)

    return ReachFigures(
        overall=_reach("All campaigns", everyone),
        by_campaign=rows(groups["campaign"], sorted(groups["campaign"], key=str.casefold)),
        by_year=rows(groups["year"], natural(groups["year"]), "Year "),
        by_form=rows(groups["form"], natural(groups["form"])),
    )


def _reach(label: str, outcomes: list[tuple[bool, bool]]) -> Reach:
    return Reach(label, len(outcomes), sum(tried for tried, _ in outcomes),
                 sum(reached for _, reached in outcomes))  # fmt: skip


@dataclass(frozen=True)
class FirstContact:
    """How long families took to reach: from the first call in a campaign to the first
    call that reached them, in days (hours / 24)."""

    families: int
    median_days: float | None
    lower_quartile_days: float | None
    upper_quartile_days: float | None
    longest_days: float | None
    # (what, families): on the first call, later the same day, and so on.
    spread: tuple[tuple[str, int], ...]


SPREAD = ("On the first call", "Later the same day", "1 or 2 days later", "3 to 7 days later",
          "More than 7 days later")  # fmt: skip


def first_contact(
    session: Session, filters: Filters, *, scope: Scope | None = None
) -> FirstContact:
    """Time to first contact, for the families first reached in the date range."""
    # The range's calls one by one; before it, only each family's first call and whether
    # it was reached already (then its first contact is not in the range).
    scope = scope or range_scope(session, filters)
    earlier = earlier_calls(session, scope, filters.start)
    by_entry: dict[int, list[AttemptFacts]] = defaultdict(list)
    for attempt in scope.attempts:  # in time order
        by_entry[attempt.entry_id].append(attempt)
    waits: list[float] = []
    spread: Counter[str] = Counter()
    for entry_id, attempts in by_entry.items():
        first_at, reached_before = earlier.get(entry_id, (attempts[0].at, False))
        contact = next((attempt for attempt in attempts if attempt.reached), None)
        if reached_before or contact is None or not filters.holds(contact.at):
            continue
        waits.append((contact.at - first_at).total_seconds() / 86400)
        days = (filters.day_of(contact.at) - filters.day_of(first_at)).days
        if contact is attempts[0] and entry_id not in earlier:
            spread[SPREAD[0]] += 1
        elif days == 0:
            spread[SPREAD[1]] += 1
        else:
            spread[SPREAD[2 if days <= 2 else 3 if days <= 7 else 4]] += 1
    if len(waits) >= 2:
        lower, median, upper = statistics.quantiles(waits, n=4, method="inclusive")
    else:
        lower = median = upper = waits[0] if waits else None
    return FirstContact(
        families=len(waits),
        median_days=median,
        lower_quartile_days=lower,
        upper_quartile_days=upper,
        longest_days=max(waits) if waits else None,
        spread=tuple((what, spread[what]) for what in SPREAD),
    )
