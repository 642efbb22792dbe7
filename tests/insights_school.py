"""A small school with known answers, for the "what the school learns" figures.

Six pupils in five families (and a sixth family only the DSL sees), a welfare and a
positive campaign, the DSL's own queue, and calls in September and November 2025
whose every figure is worked out by hand in tests/hub/test_insights.py. Times are
10:00-ish UTC, so the school-local date is the UTC date in summer and winter time.
Every phone number is from Ofcom's drama ranges (07700 900xxx, 01632 960xxx).

    Adams:  Ava (7A, SEN) and Ben (8A)    Brown: Cara (7A, PP)
    Chen:   Dan (7B, home language Polish) Evans: Eve (8A, "EAL, pp")
    Fox:    Finn (7B), never called        Grey:  Vic (8A, vulnerable; the DSL's queue)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from hub.models import EndReason, Outcome, PupilNote, Purpose, Role
from tests.factories import add_call, add_campaign, add_entry, add_household, add_staff, pupil

START, END = date(2025, 9, 1), date(2025, 11, 28)
# Each family's numbers end in its serial: 07700 900<serial> and 01632 960<serial>.
SERIALS = {"Adams": 401, "Brown": 402, "Chen": 403, "Evans": 404, "Fox": 405, "Grey": 406}
NUMBERS = tuple(
    text
    for serial in SERIALS.values()
    for text in (f"7700900{serial}", f"7700 900{serial}", f"900{serial}", f"1632960{serial}",
                 f"960{serial}")
)  # fmt: skip


def at(month: int, day: int, hour: int = 10) -> datetime:
    """A moment in autumn 2025, in UTC."""
    return datetime(2025, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class School:
    """The ids a test needs."""

    households: dict[str, int]
    welfare: int
    positive: int
    dsl_queue: int


def build_school(session: Session) -> School:
    """The school above, its campaigns and its calls."""
    sam = add_staff(session, "Sam Teacher")
    alex = add_staff(session, "Alex Head")
    dana = add_staff(session, "Dana Safeguarding", Role.DSL)
    family = {
        "Adams": add_household(session, pupil("Ava", "Adams", "7", "7A", flags="SEN"),
                               pupil("Ben", "Adams", "8", "8A"), serial=SERIALS["Adams"]),
        "Brown": add_household(session, pupil("Cara", "Brown", "7", "7A", flags="PP"),
                               serial=SERIALS["Brown"]),
        "Chen": add_household(session, pupil("Dan", "Chen", "7", "7B", home_language="Polish"),
                              serial=SERIALS["Chen"]),
        "Evans": add_household(session, pupil("Eve", "Evans", "8", "8A", flags="EAL, pp"),
                               serial=SERIALS["Evans"]),
        "Fox": add_household(session, pupil("Finn", "Fox", "7", "7B"), serial=SERIALS["Fox"]),
        "Grey": add_household(session, pupil("Vic", "Grey", "8", "8A", vulnerable=True),
                              serial=SERIALS["Grey"]),
    }  # fmt: skip
    created = at(9, 1, 8)
    welfare = add_campaign(session, "Autumn welfare", created_at=created)
    positive = add_campaign(session, "Positive calls", purpose=Purpose.POSITIVE,
                            created_at=created)  # fmt: skip
    dsl_queue = add_campaign(session, "Vulnerable check", dsl_only=True, created_at=created)
    w = {name: add_entry(session, welfare, family[name]) for name in SERIALS if name != "Grey"}
    p = {name: add_entry(session, positive, family[name]) for name in ("Adams", "Brown", "Evans")}
    ava = family["Adams"].pupils[0]
    assert ava.forename == "Ava"
    session.add(PupilNote(entry_id=p["Adams"].id, pupil_id=ava.id, note="Brilliant poem."))
    calls = [
        (w["Adams"], sam, at(9, 8), Outcome.NO_ANSWER),
        (w["Adams"], sam, at(9, 9), Outcome.SPOKE_TO_PARENT),
        (w["Brown"], alex, at(9, 8, 11), Outcome.SPOKE_TO_PARENT),
        (w["Chen"], sam, at(9, 8, 12), Outcome.VOICEMAIL),
        (w["Chen"], sam, at(9, 10, 12), Outcome.WRONG_NUMBER),
        (w["Evans"], alex, at(9, 15), Outcome.NO_ANSWER),
        (w["Evans"], alex, at(9, 15, 14), Outcome.DECLINED),
        (p["Adams"], sam, at(9, 16), Outcome.SPOKE_TO_PARENT),
        (p["Adams"], sam, at(11, 3), Outcome.SPOKE_TO_PARENT),
        (p["Adams"], sam, at(11, 10), Outcome.SPOKE_TO_PUPIL),
        (p["Brown"], alex, at(11, 3, 11), Outcome.NO_ANSWER),
        (p["Brown"], alex, at(11, 4, 11), Outcome.SPOKE_TO_PARENT),
        (p["Evans"], sam, at(11, 10, 12), Outcome.VOICEMAIL),
    ]
    for entry, staff, moment, outcome in calls:
        add_call(session, entry, staff, moment, outcome)
    # Rang out with no outcome given; and one the dial guard refused, which rang nobody.
    add_call(session, w["Chen"], sam, at(11, 10, 9), None, EndReason.NO_ANSWER)
    add_call(session, w["Fox"], sam, at(11, 10, 9), None, EndReason.REFUSED)
    grey = add_entry(session, dsl_queue, family["Grey"])
    add_call(session, grey, dana, at(9, 8, 13), Outcome.SPOKE_TO_PARENT)
    session.flush()
    return School({name: household.id for name, household in family.items()},
                  welfare.id, positive.id, dsl_queue.id)  # fmt: skip
