"""What the school learns: figures about its calls home, for admins and senior leaders.

Pure functions of a database session and a ``Filters`` (a date range, and optionally
one campaign, year or form), each returning plain dataclasses the panel draws as a
chart, a table and a CSV file. One module per family of figures: ``calls`` (calls
by week and outcome, reach, time to first contact), ``coverage`` (families not
reached this term, pupils with no positive call), ``fairness`` (how positive calls
are spread) and ``load`` (calls per member of staff, for planning time); ``scope``
holds the filters, the term and the facts they all read. docs/what-the-school-learns.md
gives each figure's definition.

    with database.session() as session:
        filters = Filters.this_school_year(date.today())
        for family in coverage(session, filters).not_reached: ...
"""

from hub.insights.calls import (
    CallsByWeek,
    FirstContact,
    Reach,
    ReachFigures,
    WeekOfCalls,
    calls_by_week,
    first_contact,
    reach,
)
from hub.insights.coverage import (
    TRACKED,
    Coverage,
    FamilyNotReached,
    PositiveCoverage,
    Share,
    coverage,
    no_positive_call,
)
from hub.insights.fairness import SIBLING_GAP, Fairness, Rate, Siblings, fairness
from hub.insights.load import StaffLoad, staff_load
from hub.insights.scope import (
    EAL,
    GROUP_FLAGS,
    PUPIL_PREMIUM,
    SEN,
    Filters,
    PupilFacts,
    Term,
    range_scope,
    school_year_start,
    this_term,
)

__all__ = [
    "EAL",
    "GROUP_FLAGS",
    "PUPIL_PREMIUM",
    "SEN",
    "SIBLING_GAP",
    "TRACKED",
    "CallsByWeek",
    "Coverage",
    "Fairness",
    "FamilyNotReached",
    "Filters",
    "FirstContact",
    "PositiveCoverage",
    "PupilFacts",
    "Rate",
    "Reach",
    "ReachFigures",
    "Share",
    "Siblings",
    "StaffLoad",
    "Term",
    "WeekOfCalls",
    "calls_by_week",
    "coverage",
    "fairness",
    "first_contact",
    "no_positive_call",
    "range_scope",
    "reach",
    "school_year_start",
    "staff_load",
    "this_term",
]
