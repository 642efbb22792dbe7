"""Fairness: how positive calls home are spread across pupils, forms, years and siblings.

Each pupil's positive calls are counted as ``Scope.positive_calls`` says: calls in a
positive campaign that reached the family, for the pupils the campaign's note named
(or every pupil of the family when it named nobody), in the date range.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.insights.scope import Filters, PupilFacts, natural, range_scope

# Siblings whose positive calls differ by this many or more are listed.
SIBLING_GAP = 2
SPREAD = ("No positive calls", "1 positive call", "2 positive calls", "3 or more")


@dataclass(frozen=True)
class Rate:
    """A group's pupils, their positive calls, and how many had none."""

    label: str
    pupils: int
    calls: int
    without: int

    @property
    def per_pupil(self) -> float | None:
        """Positive calls per pupil."""
        return self.calls / self.pupils if self.pupils else None


@dataclass(frozen=True)
class Siblings:
    """Pupils of one family whose positive calls differ by ``SIBLING_GAP`` or more."""

    household_id: int
    pupils: tuple[tuple[PupilFacts, int], ...]

    @property
    def gap(self) -> int:
        """The most calls one sibling had over another."""
        counts = [count for _, count in self.pupils]
        return max(counts) - min(counts)


@dataclass(frozen=True)
class Fairness:
    """The spread of positive calls across pupils, forms and years, and the siblings apart."""

    spread: tuple[tuple[str, int], ...]
    by_form: tuple[Rate, ...]
    by_year: tuple[Rate, ...]
    siblings: tuple[Siblings, ...]


def fairness(session: Session, filters: Filters) -> Fairness:
    """How many pupils had 0, 1, 2 or 3+ positive calls, the rate per form and year, and
    the siblings whose positive calls differ by two or more."""
    scope = range_scope(session, filters)
    counts = scope.positive_calls()
    spread = [0] * len(SPREAD)
    for count in counts.values():
        spread[min(count, len(SPREAD) - 1)] += 1
    forms: dict[str, list[int]] = defaultdict(list)
    years: dict[str, list[int]] = defaultdict(list)
    for pupil in scope.pupils:
        forms[pupil.form or "No form"].append(counts[pupil.id])
        years[pupil.year or "No year"].append(counts[pupil.id])
    siblings = []
    for household_id, pupils in scope.households.items():
        found = tuple((pupil, counts[pupil.id]) for pupil in pupils)
        if len(found) > 1 and max(c for _, c in found) - min(c for _, c in found) >= SIBLING_GAP:
            siblings.append(Siblings(household_id, found))
    siblings.sort(key=lambda family: [(p.surname.casefold(), p.forename.casefold())
                                      for p, _ in family.pupils])  # fmt: skip
    return Fairness(
        spread=tuple(zip(SPREAD, spread, strict=True)),
        by_form=tuple(_rate(form, forms[form]) for form in natural(forms)),
        by_year=tuple(_rate(f"Year {year}" if year != "No year" else year, years[year])
                      for year in natural(years)),
        siblings=tuple(siblings),
    )  # fmt: skip


def _rate(label: str, counts: list[int]) -> Rate:
    return Rate(label, len(counts), sum(counts), sum(1 for count in counts if count == 0))
