"""The figures of "what the school learns", on a school whose every answer is known.

The school is tests/insights_school.py; each number below is worked out by hand from
its calls. The viewer is an admin (no DSL-only campaigns, no vulnerable pupils' families)
unless a test says the DSL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import insights, positive
from hub.db import Database
from hub.insights import Filters
from hub.insights.scope import groups_of
from hub.models import CalendarPeriod, Outcome, PeriodKind, Pupil, StaffUser
from tests.factories import call
from tests.insights_school import END, START, School, at, build_school

ADMIN = Filters(START, END)
DSL = replace(ADMIN, dsl=True)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session on a migrated database, SQLite and PostgreSQL in turn."""
    with database.session() as session:
        yield session


@pytest.fixture
def school(session: Session) -> School:
    """The school with known answers."""
    return build_school(session)


def week(calls: insights.CallsByWeek, monday: date) -> dict[str, int]:
    """One week's calls, by outcome, leaving out the outcomes nobody recorded."""
    [found] = [w for w in calls.weeks if w.monday == monday]
    return {
        label: count for label, count in zip(calls.outcomes, found.counts, strict=True) if count
    }


def test_calls_by_week_and_outcome(session, school):
    calls = insights.calls_by_week(session, ADMIN)
    assert len(calls.weeks) == 13 and calls.weeks[0].monday == date(2025, 9, 1)
    assert calls.total == 14
    assert calls.outcomes[-1] == "No outcome recorded"
    assert "Spoke to a parent or carer" in calls.outcomes
    assert week(calls, date(2025, 9, 8)) == {
        "Spoke to a parent or carer": 2,
        "No answer": 1,
        "Left a voicemail": 1,
        "Wrong number": 1,
    }
    assert week(calls, date(2025, 9, 15)) == {"Spoke to a parent or carer": 1, "No answer": 1,
                                              "Declined to talk": 1}  # fmt: skip
    assert week(calls, date(2025, 11, 3)) == {"Spoke to a parent or carer": 2, "No answer": 1}
    assert week(calls, date(2025, 11, 10)) == {"Spoke to the pupil": 1, "Left a voicemail": 1,
                                               "No outcome recorded": 1}  # fmt: skip
    assert sum(w.total for w in calls.weeks if w.monday.month == 10) == 0


def test_every_outcome_has_a_column_so_a_new_one_needs_no_change_here(session, school):
    calls = insights.calls_by_week(session, ADMIN)
    assert len(calls.outcomes) == len(Outcome) + 1


def test_the_dsl_also_sees_their_own_queue(session, school):
    assert insights.calls_by_week(session, DSL).total == 15


def test_filters_change_the_calls_counted(session, school):
    assert insights.calls_by_week(session, replace(ADMIN, campaign_id=school.positive)).total == 6
    assert insights.calls_by_week(session, replace(ADMIN, end=date(2025, 9, 30))).total == 8
    assert insights.calls_by_week(session, replace(ADMIN, year="8")).total == 8
    assert insights.calls_by_week(session, replace(ADMIN, form="7B")).total == 3
    # The DSL's queue is someone else's: an admin choosing it sees nothing of it.
    assert insights.calls_by_week(session, replace(ADMIN, campaign_id=school.dsl_queue)).total == 0


def reach_rows(rows: tuple[insights.Reach, ...]) -> list[tuple[str, int, int, int]]:
    return [(r.label, r.families, r.tried, r.reached) for r in rows]


def test_reach_by_campaign_year_and_form(session, school):
    found = insights.reach(session, ADMIN)
    assert reach_rows((found.overall,)) == [("All campaigns", 8, 7, 5)]
    assert found.overall.rate == pytest.approx(5 / 8)
    assert reach_rows(found.by_campaign) == [("Autumn welfare", 5, 4, 3),
                                             ("Positive calls", 3, 3, 2)]  # fmt: skip
    assert reach_rows(found.by_year) == [("Year 7", 6, 5, 4), ("Year 8", 4, 4, 3)]
    assert reach_rows(found.by_form) == [("7A", 4, 4, 4), ("7B", 2, 1, 0), ("8A", 4, 4, 3)]


def test_reach_counts_only_the_calls_in_the_date_range(session, school):
    found = insights.reach(session, replace(ADMIN, end=date(2025, 9, 30)))
    # The positive campaign's November calls are outside it: Brown tried, not reached.
    assert reach_rows(found.by_campaign) == [("Autumn welfare", 5, 4, 3),
                                             ("Positive calls", 3, 1, 1)]  # fmt: skip


def test_time_to_first_contact(session, school):
    found = insights.first_contact(session, ADMIN)
    # Waits in days: 1 (Adams, welfare), 0 (Brown), 1/6 (Evans, 4 hours), 0, 1 (Brown).
    assert found.families == 5
    assert found.median_days == pytest.approx(1 / 6)
    assert (found.lower_quartile_days, found.upper_quartile_days) == (0, 1)
    assert found.longest_days == 1
    assert dict(found.spread) == {"On the first call": 2, "Later the same day": 1,
                                  "1 or 2 days later": 2, "3 to 7 days later": 0,
                                  "More than 7 days later": 0}  # fmt: skip
    september = insights.first_contact(session, replace(ADMIN, end=date(2025, 9, 30)))
    assert september.families == 4 and september.median_days == pytest.approx(1 / 12)


def test_time_to_first_contact_counts_from_a_first_call_before_the_range(session, school):
    # From 9 September: the Adams's welfare call was first tried on the 8th, so they
    # waited a day; the Browns were reached on the 8th, before the range, so are left out.
    found = insights.first_contact(session, replace(ADMIN, start=date(2025, 9, 9)))
    assert found.families == 4
    assert found.median_days == pytest.approx(7 / 12)
    assert found.longest_days == 1
    assert dict(found.spread) == {"On the first call": 1, "Later the same day": 1,
                                  "1 or 2 days later": 2, "3 to 7 days later": 0,
                                  "More than 7 days later": 0}  # fmt: skip


def test_a_page_reads_the_facts_once_for_its_figures(session, school):
    scope = insights.range_scope(session, ADMIN)
    for figure in (insights.calls_by_week, insights.reach, insights.first_contact):
        assert figure(session, ADMIN, scope=scope) == figure(session, ADMIN)


def families(coverage: insights.Coverage) -> list[list[str]]:
    return [[pupil.name for pupil in family.pupils] for family in coverage.not_reached]


def test_families_not_reached_this_term(session, school):
    found = insights.coverage(session, ADMIN)
    assert found.term == insights.Term(date(2025, 9, 1), "the autumn term",
                                       False)  # fmt: skip
    assert found.families == 5
    assert families(found) == [["Dan Chen"], ["Finn Fox"]]
    chen, fox = found.not_reached
    # The refused dial to the Foxes rang nobody, so it is no call.
    assert (chen.calls, chen.last_tried.day, fox.calls, fox.last_tried) == (3, 10, 0, None)
    assert [(s.label, s.total, s.missed) for s in found.by_year] == [
        ("Year 7", 4, 2),
        ("Year 8", 2, 0),
    ]
    assert [(s.label, s.total, s.missed) for s in found.by_form] == [
        ("7A", 2, 0), ("7B", 2, 2), ("8A", 2, 0)]  # fmt: skip


def test_this_term_comes_from_the_school_calendar_when_there_is_one(session, school):
    session.add_all([
        CalendarPeriod(starts_on=date(2025, 9, 3), ends_on=date(2025, 10, 24),
                       kind=PeriodKind.TERM, name="Autumn 1"),
        CalendarPeriod(starts_on=date(2025, 11, 3), ends_on=date(2025, 12, 19),
                       kind=PeriodKind.TERM, name="Autumn 2"),
    ])  # fmt: skip
    session.flush()
    found = insights.coverage(session, ADMIN)
    assert found.term == insights.Term(date(2025, 11, 3), "Autumn 2", True)
    # Only November's calls count: the Evanses were reached in September, not since.
    assert families(found) == [["Dan Chen"], ["Eve Evans"], ["Finn Fox"]]
    autumn_1 = insights.coverage(session, replace(ADMIN, end=date(2025, 10, 1)))
    assert autumn_1.term.name == "Autumn 1" and families(autumn_1) == [["Dan Chen"], ["Finn Fox"]]


@pytest.mark.parametrize(("day", "start"), [(date(2026, 1, 5), date(2026, 1, 1)),
                                            (date(2026, 4, 20), date(2026, 4, 5)),
                                            (date(2026, 7, 1), date(2026, 4, 5)),
                                            (date(2026, 9, 1), date(2026, 9, 1))])  # fmt: skip
def test_without_a_calendar_the_term_starts_on_a_fixed_day(session, day, start):
    assert insights.this_term(session, day).start == start


def test_coverage_for_one_campaign_or_year(session, school):
    positive = insights.coverage(session, replace(ADMIN, campaign_id=school.positive))
    assert positive.families == 3 and families(positive) == [["Eve Evans"]]
    year_8 = insights.coverage(session, replace(ADMIN, year="8"))
    assert year_8.families == 2 and families(year_8) == []


def test_the_dsl_sees_the_families_only_their_queue_holds(session, school):
    assert insights.coverage(session, DSL).families == 6
    assert insights.no_positive_call(session, DSL).pupils == 7


def test_pupils_with_no_positive_call_tracked_groups_first(session, school):
    found = insights.no_positive_call(session, ADMIN)
    assert found.pupils == 6
    assert [(p.name, sorted(p.groups)) for p in found.without] == [
        ("Dan Chen", ["EAL"]), ("Eve Evans", ["EAL", "Pupil premium"]),
        ("Ben Adams", []), ("Finn Fox", [])]  # fmt: skip
    assert [(s.label, s.total, s.missed) for s in found.groups] == [
        ("All pupils", 6, 4), ("SEN", 1, 0), ("Pupil premium", 2, 1), ("EAL", 2, 2)]  # fmt: skip
    september = insights.no_positive_call(session, replace(ADMIN, end=date(2025, 9, 30)))
    assert [p.name for p in september.without] == ["Cara Brown", "Dan Chen", "Eve Evans",
                                                   "Ben Adams", "Finn Fox"]  # fmt: skip


@pytest.mark.parametrize(("flags", "language", "groups"), [
    ("SEN", "", {"SEN"}), ("send,PP", "English", {"SEN", "Pupil premium"}),
    ("eal", "ENG", {"EAL"}), ("", "POL", {"EAL"}), ("", "English (British)", set()),
    ("EHCP, Pupil Premium", "", {"SEN", "Pupil premium"}), ("FSM", "", set()),
])  # fmt: skip
def test_the_tracked_groups_come_from_flags_and_home_language(flags, language, groups):
    assert groups_of(flags, language) == groups


def test_spread_of_positive_calls(session, school):
    found = insights.fairness(session, ADMIN)
    assert found.spread == (("No positive calls", 4), ("1 positive call", 1),
                            ("2 positive calls", 0), ("3 or more", 1))  # fmt: skip
    rates = [(r.label, r.pupils, r.calls, r.without, r.per_pupil) for r in found.by_form]
    assert rates == [("7A", 2, 4, 0, 2.0), ("7B", 2, 0, 2, 0.0), ("8A", 2, 0, 2, 0.0)]
    rates = [(r.label, r.pupils, r.calls, r.without, r.per_pupil) for r in found.by_year]
    assert rates == [("Year 7", 4, 4, 2, 1.0), ("Year 8", 2, 0, 2, 0.0)]


def test_siblings_whose_positive_calls_differ_by_two_or_more(session, school):
    [adams] = insights.fairness(session, ADMIN).siblings
    assert [(p.name, count) for p, count in adams.pupils] == [("Ava Adams", 3), ("Ben Adams", 0)]
    assert adams.gap == 3
    # By the end of September Ava had one positive call: one apart is not "a lot".
    assert insights.fairness(session, replace(ADMIN, end=date(2025, 9, 30))).siblings == ()


def test_staff_load_by_name_not_by_count(session, school):
    rows = [(r.name, r.calls, r.reached) for r in insights.staff_load(session, ADMIN)]
    # Positive calls (Alex 2, one reached; Sam 4, three reached) are each teacher's habit.
    assert rows == [("Alex Head", 3, 2), ("Dana Safeguarding", 0, 0), ("Sam Teacher", 5, 1)]
    rows = [
        (r.name, r.calls, r.reached) for r in insights.staff_load(session, replace(ADMIN, year="8"))
    ]
    assert rows == [("Alex Head", 2, 1), ("Dana Safeguarding", 0, 0), ("Sam Teacher", 2, 1)]


def test_the_school_year_starts_on_1_september():
    assert insights.school_year_start(date(2026, 8, 31)) == date(2025, 9, 1)
    assert insights.school_year_start(date(2026, 9, 1)) == date(2026, 9, 1)
    assert Filters.this_school_year(date(2026, 3, 2)) == Filters(date(2025, 9, 1), date(2026, 3, 2))


def test_a_nominated_pupils_call_counts_for_that_pupil_only(session, school):
    sam = session.scalar(select(StaffUser).where(StaffUser.name == "Sam Teacher"))
    ben = session.scalar(select(Pupil).where(Pupil.forename == "Ben"))
    entry = positive.nominate(session, ben, "Captained the chess team.", by=sam,
                              now=at(11, 20)).entry  # fmt: skip
    call(session, entry, sam, at(11, 20, 11), Outcome.SPOKE_TO_PARENT)
    found = insights.fairness(session, ADMIN)
    [adams] = found.siblings
    assert [(p.name, count) for p, count in adams.pupils] == [("Ava Adams", 3), ("Ben Adams", 1)]
    assert "Ben Adams" not in [p.name for p in insights.no_positive_call(session, ADMIN).without]


def test_the_nominations_campaign_counts_the_families_it_called_in_the_range(session, school):
    sam = session.scalar(select(StaffUser).where(StaffUser.name == "Sam Teacher"))
    cara, finn = (session.scalar(select(Pupil).where(Pupil.forename == name))
                  for name in ("Cara", "Finn"))  # fmt: skip
    called = positive.nominate(session, cara, "Kind.", by=sam, now=at(11, 3)).entry
    call(session, called, sam, at(11, 3, 11), Outcome.SPOKE_TO_PARENT)
    positive.nominate(session, finn, "Brave.", by=sam, now=at(9, 2))  # never called
    [row] = [r for r in insights.reach(session, ADMIN).by_campaign
             if r.label == positive.NOMINATIONS]  # fmt: skip
    assert (row.families, row.reached) == (1, 1)
