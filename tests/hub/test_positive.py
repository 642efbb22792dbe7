"""Positive calls home as a habit, on real SQLite and PostgreSQL databases.

Every phone number is from Ofcom's drama ranges and every name is made up. Times are
UTC; January is GMT, so 15:45 UTC is 15:45 in London.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from hub import positive
from hub.calls import record_outcome
from hub.config import parse_config
from hub.exceptions import QueueError
from hub.models import (
    AuditEvent,
    CampaignEntry,
    Concern,
    EntryState,
    Nomination,
    Outcome,
    PeriodKind,
    PupilNote,
    Purpose,
    Role,
)
from hub.queues import SCHOOL_ZONE, claim_next, held_by_cadence, history
from hub.school_days import SchoolCalendar
from tests.factories import add_call, add_campaign, add_entry, add_household, add_staff, call, pupil

# Monday 13 January 2025, 10:00 in London, and that week's Friday afternoon.
MONDAY = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
FRIDAY_AFTER_SCHOOL = datetime(2025, 1, 17, 15, 45, tzinfo=UTC)
CONFIG = parse_config('[hub]\ndata_dir = "/tmp/phonehub-test"\n')


def _family(session, *names: tuple[str, str], serial: int | None = None):
    pupils = [pupil(forename, "Nowak", year=year, form=f"{year}B") for forename, year in names]
    return add_household(session, *pupils, serial=serial)


def test_a_nomination_is_a_call_in_the_nominators_own_queue(database):
    with database.session() as session:
        teacher = add_staff(session, "Green")
        household = _family(session, ("Ali", "8"))
        ali = household.pupils[0]
        nominated = positive.nominate(session, ali, "Helped a new pupil find the science block.",
                                      by=teacher, now=MONDAY)  # fmt: skip
        campaign = nominated.entry.campaign
        assert (campaign.purpose, campaign.for_nominations) == (Purpose.POSITIVE, True)
        assert nominated.entry.assignee_id == teacher.id and not nominated.joined
        assert claim_next(session, campaign, teacher, now=MONDAY).id == nominated.entry.id
        notes = positive.waiting_notes(session, nominated.entry)
        assert [(n.pupil_id, n.note) for n in notes] == [
            (ali.id, "Helped a new pupil find the science block.")
        ]
        action = session.scalar(select(AuditEvent).where(AuditEvent.action == "nomination.made"))
        assert action.detail["pupil_id"] == ali.id and action.detail["caller_id"] == teacher.id


def test_siblings_nominated_the_same_week_are_one_call_with_both_notes(database):
    with database.session() as session:
        green, tutor = add_staff(session, "Green"), add_staff(session, "Patel")
        household = _family(session, ("Ali", "8"), ("Sara", "5"))
        ali, sara = sorted(household.pupils, key=lambda p: p.forename)
        first = positive.nominate(session, ali, "Led the assembly.", by=green, now=MONDAY)
        second = positive.nominate(session, sara, "Read to the infants.", by=tutor,
                                   caller=tutor, now=MONDAY + timedelta(days=1))  # fmt: skip
        assert second.entry.id == first.entry.id and second.joined
        # The call stays with whoever had it; the second nominator is told so.
        assert second.caller.id == green.id
        entries = select(CampaignEntry.id).where(CampaignEntry.household_id == household.id)
        assert session.scalars(entries).all() == [first.entry.id]
        notes = positive.waiting_notes(session, first.entry)
        assert [(n.pupil.forename, n.note) for n in notes] == [
            ("Ali", "Led the assembly."), ("Sara", "Read to the infants.")]  # fmt: skip


def test_a_named_colleague_gets_the_call(database):
    with database.session() as session:
        green, tutor = add_staff(session, "Green"), add_staff(session, "Patel")
        ali = _family(session, ("Ali", "8")).pupils[0]
        nominated = positive.nominate(session, ali, "Won the chess final.", by=green,
                                      caller=tutor, now=MONDAY)  # fmt: skip
        campaign = nominated.entry.campaign
        assert claim_next(session, campaign, green, now=MONDAY) is None
        assert claim_next(session, campaign, tutor, now=MONDAY).id == nominated.entry.id


def test_a_family_called_last_time_is_queued_again_with_only_the_new_note(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        first = positive.nominate(session, ali, "Led the assembly.", by=green, now=MONDAY)
        call(session, first.entry, green, MONDAY + timedelta(minutes=5), Outcome.SPOKE_TO_PARENT)
        assert first.entry.state is EntryState.DONE
        told = session.scalar(select(Nomination).where(Nomination.entry_id == first.entry.id))
        assert told.attempt_id is not None and told.delivered_at is not None

        later = MONDAY + timedelta(days=14)
        again = positive.nominate(session, ali, "Top marks in French.", by=green, now=later)
        assert again.entry.id == first.entry.id and not again.joined
        assert again.entry.state is EntryState.WAITING
        assert [n.note for n in positive.waiting_notes(session, again.entry)] == [
            "Top marks in French."]  # fmt: skip


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "Say what Ali did"),
        ("   ", "Say what Ali did"),
        ("Ring mum on 07700 900123", "Leave phone numbers out"),
        ("x" * 1001, "Keep the note to 1000 characters"),
    ],
)
def test_a_nomination_without_a_usable_note_says_why(database, note, message):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        with pytest.raises(QueueError, match=message):
            positive.nominate(session, ali, note, by=green, now=MONDAY)
        assert session.scalar(select(Nomination.id)) is None


def test_who_may_nominate_and_be_given_the_call(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        unopted = add_staff(session, "Lee", opted_in=False)
        ali = _family(session, ("Ali", "8")).pupils[0]
        with pytest.raises(QueueError, match="Only staff who make calls"):
            positive.nominate(session, ali, "Kind.", by=unopted, now=MONDAY)
        with pytest.raises(QueueError, match="Lee does not make calls"):
            positive.nominate(session, ali, "Kind.", by=green, caller=unopted, now=MONDAY)
        assert [s.name for s in positive.callers(session)] == ["Green"]


def test_a_vulnerable_pupils_family_is_left_to_the_dsl(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        household = add_household(session, pupil("Kai", "Nowak", vulnerable=True))
        with pytest.raises(QueueError, match="designated safeguarding lead"):
            positive.nominate(session, household.pupils[0], "Kind.", by=green, now=MONDAY)


def test_search_finds_pupils_by_name_or_whole_form(database):
    with database.session() as session:
        add_household(session, pupil("Ali", "Nowak", year="8", form="8B"))
        add_household(session, pupil("Zoë", "O'Brien", year="8", form="8B"))
        add_household(session, pupil("Ben", "Nowakowski", year="9", form="9C"))
        names = lambda text: [p.name for p in positive.search_pupils(session, text)]  # noqa: E731
        assert names("nowak") == ["Ali Nowak", "Ben Nowakowski"]
        assert names("ali now") == ["Ali Nowak"]
        assert names("8b") == ["Ali Nowak", "Zoë O'Brien"]
        assert names("zoë") == names("ZOË") == names("ZoË o'b") == ["Zoë O'Brien"]
        assert names("100%") == [] and names("") == []


def test_positive_calls_and_welfare_calls_are_capped_apart(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        household = _family(session, ("Ali", "8"))
        welfare = add_campaign(session, "Welfare check")
        praise = add_campaign(session, "Year 8 praise", purpose=Purpose.POSITIVE, cadence_days=14)
        welfare_entry = add_entry(session, welfare, household)
        praise_entry = add_entry(session, praise, household)
        # Reached by a welfare call on Monday: the positive call is still offered...
        call(session, welfare_entry, green, MONDAY, Outcome.SPOKE_TO_PARENT)
        tuesday = MONDAY + timedelta(days=1)
        assert held_by_cadence(session, praise, now=tuesday) == {}
        assert claim_next(session, praise, green, now=tuesday).id == praise_entry.id
        # ...and a positive call never holds back a welfare call.
        call(session, praise_entry, green, tuesday, Outcome.SPOKE_TO_PARENT)
        another_welfare = add_campaign(session, "Second welfare round")
        second = add_entry(session, another_welfare, household)
        wednesday = tuesday + timedelta(days=1)
        # Held by Monday's welfare contact alone (Tuesday's positive call does not count).
        assert held_by_cadence(session, another_welfare, now=wednesday) == {second.id: MONDAY}
        # Positive calls are capped among themselves.
        ali = household.pupils[0]
        nominated = positive.nominate(session, ali, "Kind.", by=green, now=wednesday)
        campaign = nominated.entry.campaign
        assert held_by_cadence(session, campaign, now=wednesday) == {nominated.entry.id: tuesday}
        assert claim_next(session, campaign, green, now=wednesday) is None
        assert claim_next(session, campaign, green, now=tuesday + timedelta(days=7, hours=1))


def test_a_parent_who_wants_a_meeting_books_a_follow_up_for_the_caller(database):
    with database.session() as session:
        green, other = add_staff(session, "Green"), add_staff(session, "Patel")
        ali = _family(session, ("Ali", "8")).pupils[0]
        nominated = positive.nominate(session, ali, "Led the assembly.", by=green, now=MONDAY)
        entry = nominated.entry
        entry.assignee_id = None  # anyone's, until the parent asks for a meeting
        attempt = add_call(session, entry, green, MONDAY)
        at = MONDAY + timedelta(days=1, hours=6)
        record_outcome(session, attempt, Outcome.SPOKE_TO_PARENT, staff=green, now=MONDAY,
                       call_back_at=at, meeting=True)  # fmt: skip
        assert attempt.meeting_wanted is True
        assert (entry.state, entry.call_back_at, entry.assignee_id) == (
            EntryState.CALL_BACK, at, green.id)  # fmt: skip
        assert [e.id for e in positive.follow_ups(session, green)] == [entry.id]
        earlier = history(session, entry.household, viewer=other)
        assert [(c.outcome, c.meeting) for c in earlier] == [(Outcome.SPOKE_TO_PARENT, True)]
        assert positive.follow_ups(session, other) == []
        assert claim_next(session, entry.campaign, other, now=at) is None
        assert claim_next(session, entry.campaign, green, now=at).id == entry.id


def test_a_meeting_needs_a_parent_spoken_to_and_a_time(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        entry = positive.nominate(session, ali, "Kind.", by=green, now=MONDAY).entry
        attempt = add_call(session, entry, green, MONDAY)
        with pytest.raises(QueueError, match="A meeting is booked"):
            record_outcome(session, attempt, Outcome.NO_ANSWER, staff=green, now=MONDAY,
                           call_back_at=MONDAY + timedelta(days=1), meeting=True)  # fmt: skip
        with pytest.raises(QueueError, match="A meeting is booked"):
            record_outcome(session, attempt, Outcome.SPOKE_TO_PARENT, staff=green, now=MONDAY,
                           meeting=True)  # fmt: skip


def test_the_follow_up_is_the_next_school_day_after_school():
    dialplan = CONFIG.dialplan
    calendar = SchoolCalendar()
    # Friday afternoon: the next school day is Monday, at 16:00 London time.
    when = positive.follow_up_at(FRIDAY_AFTER_SCHOOL, dialplan=dialplan, calendar=calendar)
    assert when == datetime(2025, 1, 20, 16, 0, tzinfo=SCHOOL_ZONE)
    half_term = SchoolCalendar(periods=(
        _period(date(2025, 2, 17), date(2025, 2, 21), PeriodKind.HOLIDAY),))  # fmt: skip
    when = positive.follow_up_at(datetime(2025, 2, 14, 12, tzinfo=UTC), dialplan=dialplan,
                                 calendar=half_term)  # fmt: skip
    assert when.date() == date(2025, 2, 24)


def _period(start: date, end: date, kind: PeriodKind):
    from hub.school_days import Period

    return Period(start, end, kind, "Half term")


def _positive_call(session, staff, at, outcome=Outcome.SPOKE_TO_PARENT, *, names=(("Ali", "8"),)):
    household = _family(session, *names)
    entry = positive.nominate(session, household.pupils[0], "Kind.", by=staff, now=at).entry
    call(session, entry, staff, at + timedelta(minutes=1), outcome)
    return entry


def test_my_week_and_my_run_of_weeks(database):
    calendar = SchoolCalendar()
    with database.session() as session:
        green, patel = add_staff(session, "Green"), add_staff(session, "Patel")
        week = positive.my_week(session, green, now=MONDAY, zone=SCHOOL_ZONE, calendar=calendar)
        assert (week.made, week.reached, week.tried, week.run) == (False, 0, 0, 0)
        for weeks_ago in (1, 2, 4):
            _positive_call(session, green, MONDAY - timedelta(weeks=weeks_ago))
        _positive_call(session, green, MONDAY, Outcome.NO_ANSWER)
        week = positive.my_week(session, green, now=MONDAY, zone=SCHOOL_ZONE, calendar=calendar)
        # Not yet this week (one family tried, not reached); the run is still last week's.
        assert (week.made, week.reached, week.tried, week.run) == (False, 0, 1, 2)
        _positive_call(session, green, MONDAY + timedelta(hours=2))
        week = positive.my_week(session, green, now=MONDAY, zone=SCHOOL_ZONE, calendar=calendar)
        assert (week.made, week.reached, week.run) == (True, 1, 3)
        # A welfare call is not a positive call; a colleague's week is their own.
        assert positive.my_week(session, patel, now=MONDAY, zone=SCHOOL_ZONE,
                                calendar=calendar).run == 0  # fmt: skip
        assert positive.school_week(session, now=MONDAY, zone=SCHOOL_ZONE) == (1, 2)


def test_a_holiday_week_neither_adds_to_the_run_nor_breaks_it(database):
    # The week of 6 January 2025 is a school holiday here.
    holiday = SchoolCalendar(periods=(
        _period(date(2025, 1, 6), date(2025, 1, 10), PeriodKind.HOLIDAY),))  # fmt: skip
    with database.session() as session:
        green = add_staff(session, "Green")
        _positive_call(session, green, MONDAY - timedelta(weeks=2))
        _positive_call(session, green, MONDAY)
        week = positive.my_week(session, green, now=MONDAY, zone=SCHOOL_ZONE, calendar=holiday)
        assert week.run == 2
        week = positive.my_week(session, green, now=MONDAY, zone=SCHOOL_ZONE,
                                calendar=SchoolCalendar())  # fmt: skip
        assert week.run == 1


@pytest.mark.parametrize(
    ("now", "made", "expected"),
    [
        (FRIDAY_AFTER_SCHOOL, False, True),
        (FRIDAY_AFTER_SCHOOL, True, False),  # already made this week
        (FRIDAY_AFTER_SCHOOL - timedelta(hours=1), False, False),  # before the afternoon
        (FRIDAY_AFTER_SCHOOL - timedelta(days=1), False, False),  # Thursday
        (datetime(2025, 1, 17, 18, 30, tzinfo=UTC), False, False),  # after its hours
    ],
)
def test_the_friday_reminder(now, made, expected):
    week = positive.Week(reached=int(made), tried=0, run=0)
    due = positive.reminder_due(week, now=now, settings=CONFIG.positive,
                                dialplan=CONFIG.dialplan, calendar=SchoolCalendar())  # fmt: skip
    assert due is expected


def test_no_reminder_on_a_friday_in_the_holidays():
    holiday = SchoolCalendar(periods=(
        _period(date(2025, 1, 13), date(2025, 1, 17), PeriodKind.HOLIDAY),))  # fmt: skip
    week = positive.Week(reached=0, tried=0, run=0)
    assert not positive.reminder_due(week, now=FRIDAY_AFTER_SCHOOL, settings=CONFIG.positive,
                                     dialplan=CONFIG.dialplan, calendar=holiday)  # fmt: skip


def test_a_reflection_is_asked_for_a_few_days_after_a_call_and_is_private(database):
    with database.session() as session:
        green, patel = add_staff(session, "Green"), add_staff(session, "Patel")
        entry = _positive_call(session, green, MONDAY, names=(("Ali", "8"), ("Sara", "5")))
        attempt_id = entry.attempts[-1].id
        due = lambda now: positive.reflections_due(session, green, now=now, after_days=3)  # noqa: E731
        assert due(MONDAY + timedelta(days=3)) == []  # the call was a minute after
        (found,) = due(MONDAY + timedelta(days=3, minutes=1))
        assert found.attempt_id == attempt_id and found.about == "Ali Nowak, year 8"
        assert positive.reflections_due(session, patel, now=MONDAY + timedelta(days=4),
                                        after_days=3) == []  # fmt: skip
        later = MONDAY + timedelta(days=4)
        with pytest.raises(QueueError):
            positive.reflection_for(session, patel, attempt_id, now=later, after_days=3)
        reflection = positive.reflection_for(session, green, attempt_id, now=later, after_days=3)
        assert reflection.age == "Year 8 (age 12–13)"
        with pytest.raises(QueueError, match="Leave phone numbers out of “The parent's reaction”"):
            positive.save(session, reflection, {"reaction": "Call me on 07700 900123"},
                          author=green, now=later)  # fmt: skip
        answers = {prompt.key: f"{prompt.label} in five words." for prompt in positive.PROMPTS}
        count = positive.save(session, reflection, answers, author=green, now=later)
        assert count == positive.words(reflection) == sum(
            positive.count_words(text) for text in answers.values())  # fmt: skip
        assert due(later) == [] and positive.mine(session, green) == [reflection]
        with pytest.raises(QueueError, match="private"):
            positive.save(session, reflection, answers, author=patel, now=later)
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "reflection.written"))
        assert event.detail == {}  # neither its words nor how many: the habit is theirs


def test_each_call_due_says_who_it_was_about(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        _positive_call(session, green, MONDAY, names=(("Ali", "8"), ("Sara", "5")))
        # Rung before the nomination was made, so no note was read out: the whole family.
        family = _family(session, ("Tom", "7"), ("Amy", "9"))
        entry = positive.nominate(session, family.pupils[1], "Kind.", by=green,
                                  now=MONDAY + timedelta(hours=1)).entry  # fmt: skip
        call(session, entry, green, MONDAY + timedelta(minutes=30), Outcome.SPOKE_TO_PARENT)
        due = positive.reflections_due(session, green, now=MONDAY + timedelta(days=4),
                                       after_days=3)  # fmt: skip
        assert [found.about for found in due] == [
            "Ali Nowak, year 8", "Amy Nowak, year 9; Tom Nowak, year 7"]  # fmt: skip


def test_a_call_not_reached_or_long_ago_is_not_asked_about(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        _positive_call(session, green, MONDAY, Outcome.NO_ANSWER)
        _positive_call(session, green, MONDAY - timedelta(weeks=7))
        assert positive.reflections_due(session, green, now=MONDAY + timedelta(days=5),
                                        after_days=3) == []  # fmt: skip


def test_skipping_a_reflection_stops_the_asking(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        entry = _positive_call(session, green, MONDAY)
        later = MONDAY + timedelta(days=4)
        reflection = positive.reflection_for(session, green, entry.attempts[-1].id, now=later,
                                             after_days=3)  # fmt: skip
        positive.skip(session, reflection, author=green, now=later)
        assert positive.reflections_due(session, green, now=later, after_days=3) == []
        assert positive.mine(session, green) == []


def test_words_and_initials():
    assert positive.count_words("Didn't stop; a well-known   fact — truly.") == 6
    assert (
        positive.initials("Ali Nowak, year 8; Zoë O'Brien, year 5")
        == "A. N., year 8; Z. O., year 5"
    )
    assert positive.opening_line("Hillside School", ["Ali", "Sara"]) == (
        "I'm calling from Hillside School, everything's fine — I wanted to tell you about "
        "something Ali and Sara did.")  # fmt: skip


def test_the_nominations_campaign_is_made_once(database):
    with database.session() as session:
        first = positive.nominations_campaign(session, now=MONDAY)
        assert positive.nominations_campaign(session, now=MONDAY).id == first.id
        assert first.name == positive.NOMINATIONS and first.cadence_days == 7
        assert session.scalar(select(AuditEvent.actor).where(
            AuditEvent.action == "campaign.created")) == "system"  # fmt: skip


def test_nominations_by_role(database):
    with database.session() as session:
        admin = add_staff(session, "Office", role=Role.ADMIN, opted_in=False)
        ali = _family(session, ("Ali", "8")).pupils[0]
        assert positive.nominate(session, ali, "Kind.", by=admin, now=MONDAY).caller.id == admin.id


def test_a_double_click_on_nominate_makes_one_nomination(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        first = positive.nominate(session, ali, "Led the assembly.", by=green, now=MONDAY)
        again = positive.nominate(session, ali, " Led the assembly. ", by=green, now=MONDAY)
        assert again.nomination.id == first.nomination.id and not again.joined
        assert len(positive.waiting_notes(session, first.entry)) == 1
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "nomination.made")).all()  # fmt: skip
        assert actions == ["nomination.made"]


@pytest.mark.parametrize(
    ("dialplan", "now", "expected"),
    [
        # Calls end at 15:00: the reminder takes the last hour of calling.
        ('calling_hours = "09:30-15:00"', datetime(2025, 1, 17, 14, 30, tzinfo=UTC), True),
        ('calling_hours = "09:30-15:00"', datetime(2025, 1, 17, 13, 30, tzinfo=UTC), False),
        # No calls on Fridays: the last calling day before it, Thursday.
        ('calling_days = ["mon", "tue", "wed", "thu"]', FRIDAY_AFTER_SCHOOL - timedelta(days=1),
         True),
        ('calling_days = ["mon", "tue", "wed", "thu"]', FRIDAY_AFTER_SCHOOL, False),
    ],
)  # fmt: skip
def test_the_reminder_keeps_within_the_schools_calling_hours_and_days(dialplan, now, expected):
    config = parse_config(f'[hub]\ndata_dir = "/tmp/phonehub-test"\n[dialplan]\n{dialplan}\n')
    week = positive.Week(reached=0, tried=0, run=0)
    due = positive.reminder_due(week, now=now, settings=config.positive,
                                dialplan=config.dialplan, calendar=SchoolCalendar())  # fmt: skip
    assert due is expected


def test_a_sister_nominated_during_or_just_after_the_call_waits_for_the_next_one(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        household = _family(session, ("Ali", "8"), ("Sara", "5"))
        ali, sara = sorted(household.pupils, key=lambda p: p.forename)
        entry = positive.nominate(session, ali, "Led the assembly.", by=green, now=MONDAY).entry
        assert claim_next(session, entry.campaign, green, now=MONDAY).id == entry.id
        attempt = add_call(session, entry, green, MONDAY, end_reason=None)  # ringing now
        during = positive.nominate(session, sara, "Read to the infants.", by=green,
                                   now=MONDAY + timedelta(minutes=1))  # fmt: skip
        assert during.joined and during.next_call
        record_outcome(session, attempt, Outcome.SPOKE_TO_PARENT, staff=green,
                       now=MONDAY + timedelta(minutes=5))  # fmt: skip
        # Ali's note was told; Sara's waits for the family's next positive call, a week on.
        next_week = MONDAY + timedelta(days=7)
        assert (entry.state, entry.call_back_at) == (EntryState.CALL_BACK, next_week)
        assert [n.note for n in positive.waiting_notes(session, entry)] == ["Read to the infants."]
        assert claim_next(session, entry.campaign, green, now=MONDAY + timedelta(hours=1)) is None
        assert claim_next(session, entry.campaign, green, now=next_week).id == entry.id


def test_a_brother_nominated_an_hour_after_the_call_is_not_rung_the_same_day(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        household = _family(session, ("Ali", "8"), ("Sara", "5"))
        ali, sara = sorted(household.pupils, key=lambda p: p.forename)
        entry = positive.nominate(session, sara, "Read to the infants.", by=green, now=MONDAY).entry
        call(session, entry, green, MONDAY, Outcome.SPOKE_TO_PARENT)
        later = MONDAY + timedelta(hours=1)
        again = positive.nominate(session, ali, "Led the assembly.", by=green, now=later)
        assert not again.joined and not again.next_call
        assert (entry.state, entry.call_back_at) == (
            EntryState.CALL_BACK,
            MONDAY + timedelta(days=7),
        )
        assert claim_next(session, entry.campaign, green, now=later) is None


def test_a_family_in_the_dsls_hands_cannot_be_nominated_and_stays_with_the_dsl(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        entry = positive.nominate(session, ali, "Kind.", by=green, now=MONDAY).entry
        call(session, entry, green, MONDAY, Outcome.CONCERN, notes="Mum sounded frightened.")
        refusal = (
            "Ali's family cannot be given a positive call through the hub just now: pass "
            "your note to the designated safeguarding lead."
        )
        with pytest.raises(QueueError, match=re.escape(refusal)):
            positive.nominate(session, ali, "Top marks.", by=green, now=MONDAY + timedelta(days=8))
        assert entry.state is EntryState.DONE


def test_a_positive_call_not_answered_never_goes_to_the_dsl(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        ali = _family(session, ("Ali", "8")).pupils[0]
        entry = positive.nominate(session, ali, "Kind.", by=green, now=MONDAY).entry
        for day in (0, 1, 2):
            call(session, entry, green, MONDAY + timedelta(days=day), Outcome.NO_ANSWER)
        assert entry.state is EntryState.WAITING
        assert session.scalars(select(Concern)).all() == []


def test_a_link_to_one_family_claims_that_family_and_lets_the_other_go(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        first = positive.nominate(session, _family(session, ("Ali", "8")).pupils[0], "Kind.",
                                  by=green, now=MONDAY).entry  # fmt: skip
        second = positive.nominate(session, _family(session, ("Zoë", "7")).pupils[0], "Brave.",
                                   by=green, now=MONDAY).entry  # fmt: skip
        campaign = first.campaign
        assert claim_next(session, campaign, green, now=MONDAY).id == first.id
        chosen = claim_next(session, campaign, green, now=MONDAY, wanted=second.id)
        assert chosen.id == second.id and first.state is EntryState.WAITING
        # A family not offerable now (its call is booked for later) is not claimed.
        first.state, first.call_back_at = EntryState.CALL_BACK, MONDAY + timedelta(days=1)
        assert claim_next(session, campaign, green, now=MONDAY, wanted=first.id).id == second.id


def test_the_call_to_book_a_meeting_is_not_asked_about_again(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        entry = _positive_call(session, green, MONDAY)  # reached: one reflection due
        first = entry.attempts[-1]
        first.meeting_wanted = True
        call(session, entry, green, MONDAY + timedelta(days=1), Outcome.SPOKE_TO_PARENT)
        due = positive.reflections_due(session, green, now=MONDAY + timedelta(days=5),
                                       after_days=3)  # fmt: skip
        assert [d.attempt_id for d in due] == [first.id]


def test_an_office_campaigns_reflection_is_about_the_pupils_its_note_names(database):
    with database.session() as session:
        green = add_staff(session, "Green")
        household = _family(session, ("Ali", "8"), ("Sara", "5"))
        praise = add_campaign(session, "Star of the week", purpose=Purpose.POSITIVE)
        entry = add_entry(session, praise, household)
        sara = next(p for p in household.pupils if p.forename == "Sara")
        session.add(PupilNote(entry_id=entry.id, pupil_id=sara.id, note="Won the spelling bee."))
        call(session, entry, green, MONDAY, Outcome.SPOKE_TO_PARENT)
        [due] = positive.reflections_due(session, green, now=MONDAY + timedelta(days=4),
                                         after_days=3)  # fmt: skip
        assert due.about == "Sara Nowak, year 5"
