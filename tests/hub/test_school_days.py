"""School days that are school days: bank holidays by nation, the school's own dates, and
what they change — escalation after two school days, and calls on school days only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub import calls, guard
from hub.exceptions import DialRefused, QueueError
from hub.models import AuditEvent, CalendarPeriod, Concern, EntryState, Outcome, Role
from hub.queues import LaterPeriod, claim_next, set_later_period
from hub.school_days import (
    CalendarFileError,
    Period,
    PeriodKind,
    SchoolCalendar,
    read_calendar_file,
    replace_calendar,
)
from tests.factories import add_campaign, add_entry, add_staff, call
from tests.hub.test_guard import PLAN

LONDON = ZoneInfo("Europe/London")
CALENDAR_CSV = (
    "Start,End,What,Name\r\n"
    "01/09/2026,18/12/2026,term,Autumn term\r\n"
    "26/10/2026,30/10/2026,holiday,October half term\r\n"
    "21/12/2026,01/01/2027,holiday,Christmas holidays\r\n"
    "04/01/2027,04/01/2027,INSET,Training day\r\n"
    "2027-01-05,2027-03-26,term,Spring term\r\n"
)


def test_bank_holidays_are_the_schools_own_nations():
    england, scotland = SchoolCalendar("england-and-wales"), SchoolCalendar("scotland")
    northern_ireland = SchoolCalendar("northern-ireland")
    assert england.why_not(date(2026, 12, 25)) == "Christmas Day, a bank holiday"
    assert england.why_not(date(2026, 12, 28)) == "Boxing Day (substitute day), a bank holiday"
    assert england.why_not(date(2026, 11, 28)) == "a Saturday"
    assert england.is_school_day(date(2026, 11, 30))
    # Scotland's summer bank holiday is the first Monday of August, England's the last.
    assert not scotland.is_school_day(date(2026, 8, 3)) and england.is_school_day(date(2026, 8, 3))
    assert not england.is_school_day(date(2026, 8, 31)) and scotland.is_school_day(
        date(2026, 8, 31)
    )
    assert "Saint Andrew" in scotland.why_not(date(2026, 11, 30))
    assert "Saint Patrick" in northern_ireland.why_not(date(2027, 3, 17))
    assert england.is_school_day(date(2027, 3, 17))


def test_a_csv_of_terms_holidays_and_inset_days_makes_the_schools_days():
    periods = read_calendar_file(CALENDAR_CSV.encode(), "calendar.csv", LONDON)
    calendar = SchoolCalendar("england-and-wales", tuple(periods))
    assert calendar.is_school_day(date(2026, 10, 23))
    assert calendar.why_not(date(2026, 10, 27)) == "October half term, a school holiday"
    assert calendar.why_not(date(2026, 12, 22)) == "Christmas holidays, a school holiday"
    assert calendar.why_not(date(2027, 1, 4)) == "Training day, an INSET day"
    assert calendar.is_school_day(date(2027, 1, 5))
    assert calendar.why_not(date(2027, 4, 6)) == "outside the school's terms"


def test_an_icalendar_export_is_read_with_all_day_ends_exclusive():
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//School//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:February Half Term\r\n"
        "DTSTART;VALUE=DATE:20270215\r\nDTEND;VALUE=DATE:20270220\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:2\r\nSUMMARY:INSET Day - no pupils\r\n"
        "DTSTART;VALUE=DATE:20270222\r\nDTEND;VALUE=DATE:20270223\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:3\r\nSUMMARY:Year 9 parents' evening\r\n"
        "DTSTART:20270225T170000Z\r\nDTEND:20270225T190000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    periods = read_calendar_file(ics.encode(), "school.ics", LONDON)
    assert periods == [
        Period(date(2027, 2, 15), date(2027, 2, 19), PeriodKind.HOLIDAY, "February Half Term"),
        Period(date(2027, 2, 22), date(2027, 2, 22), PeriodKind.INSET, "INSET Day - no pupils"),
    ]


def test_a_file_with_bad_lines_says_each_in_one_sentence_and_imports_nothing():
    bad = (
        "start,end,what\r\n"
        "01/09/2026,18/12/2026,term\r\n"
        "31/02/2027,05/03/2027,term\r\n"
        "10/03/2027,09/03/2027,holiday\r\n"
        "12/03/2027,12/03/2027,sports day\r\n"
    )
    with pytest.raises(CalendarFileError) as raised:
        read_calendar_file(bad.encode(), "calendar.csv", LONDON)
    assert raised.value.problems == [
        "line 3: '31/02/2027' is not a date (write it as 25/12/2026)",
        "line 4: it ends (09/03/2027) before it starts (10/03/2027)",
        "line 5: say whether it is a term, a holiday or an INSET day, not 'sports day'",
    ]
    with pytest.raises(CalendarFileError, match="must name the columns"):
        read_calendar_file(b"01/09/2026,18/12/2026\r\n", "calendar.csv", LONDON)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON).astimezone(UTC)


def fail_a_call(session, entry, staff, day: date) -> None:
    claim_next(session, entry.campaign, staff, now=at(day))
    call(session, entry, staff, at(day), Outcome.NO_ANSWER, zone=LONDON,
         nation="england-and-wales")  # fmt: skip


def test_escalation_counts_only_the_schools_days(database):
    with database.session() as session:
        replace_calendar(session, read_calendar_file(CALENDAR_CSV.encode(), "c.csv", LONDON),
                         actor="test")  # fmt: skip
        campaign = add_campaign(session, "Holiday welfare", cadence_days=1)
        sam = add_staff(session, "Sam")
        entry = add_entry(session, campaign)
        # In the holidays, on a bank holiday and on an INSET day: no school day yet.
        for day in (date(2026, 12, 23), date(2026, 12, 28), date(2027, 1, 4)):
            fail_a_call(session, entry, sam, day)
        assert entry.state is not EntryState.ESCALATED
        fail_a_call(session, entry, sam, date(2027, 1, 5))
        assert entry.state is not EntryState.ESCALATED
        fail_a_call(session, entry, sam, date(2027, 1, 6))
        assert entry.state is EntryState.ESCALATED
        concern = session.scalars(select(Concern)).one()
        assert concern.note.startswith(
            "Not reached on 2 school days (Tue 5 Jan, Wed 6 Jan) after 5 failed calls"
        )


def test_calls_are_made_on_school_days_only_unless_the_school_says_otherwise(database):
    with database.session() as session:
        sam = add_staff(session, "Sam")
        entry = add_entry(session, add_campaign(session))
        claim_next(session, entry.campaign, sam, now=at(date(2026, 12, 28)))
        number = entry.household.guardians[0].numbers[0]
        attempt = calls.request(session, sam, entry, number.id, hub_id=None)
        boxing_day = at(date(2026, 12, 28))
        plan = replace(PLAN, zone=LONDON)
        with pytest.raises(DialRefused) as refused:
            guard.check_attempt(session, plan, attempt, now=boxing_day)
        assert str(refused.value) == (
            "Today is not a school day (Boxing Day (substitute day), a bank holiday); "
            "calls are made on school days only."
        )
        line = session.scalars(select(AuditEvent).where(AuditEvent.action == "dial.refused")).one()
        assert line.detail["reason"] == "not_a_school_day"
        attempt = calls.request(session, sam, entry, number.id, hub_id=None)
        anyway = replace(plan, school_days_only=False)
        assert guard.check_attempt(session, anyway, attempt, now=boxing_day).e164 == number.e164


def test_importing_replaces_the_calendar_and_is_audited(database):
    with database.session() as session:
        replace_calendar(session, [Period(date(2026, 9, 1), date(2026, 12, 18), PeriodKind.TERM)],
                         actor="test")  # fmt: skip
        replace_calendar(session, [Period(date(2027, 1, 5), date(2027, 3, 26), PeriodKind.TERM,
                                          "Spring term")], actor="test")  # fmt: skip
        assert session.scalars(select(CalendarPeriod.name)).all() == ["Spring term"]
        line = session.scalars(select(AuditEvent).where(AuditEvent.action == "calendar.imported")
                               .order_by(AuditEvent.id.desc())).first()  # fmt: skip
        assert line.detail == {"term": 1, "holiday": 0, "inset": 0}
        assert SchoolCalendar.load(session).why_not(date(2026, 11, 30)) == (
            "outside the school's terms")  # fmt: skip


def test_a_campaign_calls_later_in_the_day_for_a_period(database):
    with database.session() as session:
        dsl = add_staff(session, "Dana", Role.DSL)
        sam = add_staff(session, "Sam")
        campaign = add_campaign(session, "Spring welfare")
        entry = add_entry(session, campaign)
        number = entry.household.guardians[0].numbers[0]
        ramadan = LaterPeriod(date(2027, 2, 8), date(2027, 3, 9), time(18, 30), time(21, 0))
        with pytest.raises(QueueError, match="Calls must end by 21:00"):
            set_later_period(session, campaign, replace(ramadan, end=time(22, 0)), actor=dsl,
                             now=at(date(2027, 2, 1)))  # fmt: skip
        set_later_period(session, campaign, ramadan, actor=dsl, now=at(date(2027, 2, 1)))
        plan = replace(PLAN, zone=LONDON, calling_window=(time(8), time(19)))

        def dial(day: date, hour: int, minute: int = 0) -> str:
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
            claim_next(session, campaign, sam, now=moment)
            attempt = calls.request(session, sam, entry, number.id, hub_id=None)
            try:
                guard.check_attempt(session, plan, attempt, now=moment)
            except DialRefused as refused:
                return str(refused)
            finally:
                calls.failed(session, attempt, "test", hub_id=None)
            return "dialled"

        # In the period: 19:45 is fine (after the school's usual 19:00), 10:00 is not.
        assert dial(date(2027, 2, 10), 19, 45) == "dialled"
        assert dial(date(2027, 2, 10), 10) == ("Until 09/03/2027 calls for this campaign are "
                                               "made 18:30 to 21:00.")  # fmt: skip
        # After it, the usual hours again.
        assert dial(date(2027, 3, 10), 10) == "dialled"
        assert (
            dial(date(2027, 3, 10), 19, 45)
            == "Calls can only be made Monday to Friday, 08:00 to 19:00."
        )
        line = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "campaign.later_hours")).one()  # fmt: skip
        assert line.detail == {"period": "from 08/02/2027 to 09/03/2027, calls 18:30 to 21:00"}
