"""A family's preferred call times: understood where the text is clear, and waited for."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.models import Guardian
from hub.preferred_times import understood
from hub.queues import claim_next, outside_their_times, waiting_for
from tests.factories import add_campaign, add_entry, add_household, add_staff, pupil

LONDON = ZoneInfo("Europe/London")
MONDAY_4PM = datetime(2026, 11, 30, 16, 0)
MONDAY_6PM = datetime(2026, 11, 30, 18, 0)
SATURDAY_11AM = datetime(2026, 12, 5, 11, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("after 5pm", "every day 17:00–23:59"),
        ("After 5", "every day 17:00–23:59"),
        ("weekday mornings", "weekdays 08:00–12:00"),
        ("Tues/Thurs 4-6pm", "Tue, Thu 16:00–18:00"),
        ("not before 10", "every day 10:00–23:59"),
        ("between 9am and 11am", "every day 09:00–11:00"),
        ("evenings or weekends", "every day 17:00–21:00; Sat, Sun 00:00–23:59"),
        ("Mon and Wed after 3.30pm", "Mon, Wed 15:30–23:59"),
        ("16:00-18:00", "every day 16:00–18:00"),
    ],
)
def test_the_ways_offices_write_call_times_are_understood(text, words):
    times = understood(text)
    assert times is not None and times.words() == words


@pytest.mark.parametrize("text", ["any time", "ring mum first", "after 5pm unless it's raining",
                                  "", "after 25:00"])  # fmt: skip
def test_text_not_understood_is_never_guessed_at(text):
    assert understood(text) is None


def test_understood_times_allow_only_their_days_and_hours():
    times = understood("Tues/Thurs 4-6pm")
    assert times.allows(datetime(2026, 12, 1, 16, 30))  # a Tuesday
    assert not times.allows(datetime(2026, 12, 1, 18, 0))
    assert not times.allows(datetime(2026, 11, 30, 16, 30))  # a Monday


def at(local: datetime) -> datetime:
    return local.replace(tzinfo=LONDON).astimezone(UTC)


def test_the_queue_waits_for_a_familys_preferred_times(database):
    with database.session() as session:
        campaign = add_campaign(session)
        sam = add_staff(session, "Sam")
        evenings = add_entry(session, campaign, add_household(session, pupil("Kai", "Nowak")))
        evenings.household.guardians[0].preferred_times = "after 5pm"
        add_entry(session, campaign, add_household(session, pupil("Ada", "Okafor")))
        unclear = add_entry(session, campaign, add_household(session, pupil("Finn", "Byrne")))
        unclear.household.guardians[0].preferred_times = "ring mum first"
        # Two guardians: one who gave times, one who did not, so either can be called now.
        both = add_entry(session, campaign, add_household(session, pupil("Lena", "Kowalski")))
        both.household.guardians[0].preferred_times = "weekends"
        session.add(Guardian(household=both.household, name="Piotr Kowalski"))
        session.flush()

        assert outside_their_times(session, campaign, at(MONDAY_4PM), LONDON) == {
            evenings.household_id}  # fmt: skip
        assert waiting_for(session, campaign, sam, now=at(MONDAY_4PM), zone=LONDON) == 3
        offered = []
        for _ in range(3):
            entry = claim_next(session, campaign, sam, now=at(MONDAY_4PM), zone=LONDON)
            offered.append(entry.household_id)
            entry.state, entry.claimed_by_id = entry.state.DONE, None
        assert evenings.household_id not in offered
        assert claim_next(session, campaign, sam, now=at(MONDAY_4PM), zone=LONDON) is None
        # At six the family's time has come.
        assert outside_their_times(session, campaign, at(MONDAY_6PM), LONDON) == set()
        entry = claim_next(session, campaign, sam, now=at(MONDAY_6PM), zone=LONDON)
        assert entry.household_id == evenings.household_id


def test_a_weekend_family_is_held_in_the_week(database):
    with database.session() as session:
        campaign = add_campaign(session)
        entry = add_entry(session, campaign)
        entry.household.guardians[0].preferred_times = "Saturdays"
        session.flush()
        assert outside_their_times(session, campaign, at(MONDAY_4PM), LONDON) == {
            entry.household_id}  # fmt: skip
        assert outside_their_times(session, campaign, at(SATURDAY_11AM), LONDON) == set()
