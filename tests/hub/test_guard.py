"""The dial guard, on real SQLite and PostgreSQL databases.

Every number here is from Ofcom's drama ranges, a short code or an obviously fake
foreign number, so nothing in these tests could ever ring a real person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import parse_config
from hub.exceptions import DialRefused
from hub.guard import DialPlan, check_attempt, check_test_call
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    EndReason,
    Guardian,
    Household,
    Hub,
    PhoneNumber,
    Purpose,
    Role,
    StaffUser,
)
from hub.numbers import Kind, Number
from tests.factories import add_staff

MOBILE = "+447700900456"
LANDLINE = "+441632960789"
PREMIUM = "+449098790123"
FOREIGN = "+33199000000"

PLAN = DialPlan(
    allowed=frozenset({Kind.GEOGRAPHIC, Kind.MOBILE}),
    international=False,
    per_staff_per_hour=20,
    per_number_per_day=3,
    per_hub_per_day=300,
    calling_window=(time(8), time(19)),
    calling_days=frozenset(range(5)),
    zone=ZoneInfo("Europe/London"),
)
HOURS = "Calls can only be made Monday to Friday, 08:00 to 19:00."

# London keeps GMT (UTC+0) in January and BST (UTC+1) in July.
TUESDAY = datetime(2025, 1, 14, 12, 0, tzinfo=UTC)
WEDNESDAY = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2025, 1, 18, 12, 0, tzinfo=UTC)
SUMMER_WEDNESDAY = datetime(2025, 7, 16, 12, 0, tzinfo=UTC)


def at(day: datetime, clock: str) -> datetime:
    """``day`` at the UTC time ``clock`` ("HH:MM" or "HH:MM:SS")."""
    return datetime.combine(day.date(), time.fromisoformat(clock), tzinfo=UTC)


@dataclass
class Family:
    """A family in a campaign, and the call the panel asked the line to make to them."""

    session: Session
    household: Household
    guardian: Guardian
    number: PhoneNumber
    staff: StaffUser
    hub: Hub
    campaign: Campaign
    attempt: CallAttempt

    def calls(
        self,
        *times: datetime,
        staff: StaffUser | None = None,
        hub: Hub | None = None,
        number: PhoneNumber | None = None,
        end_reason: EndReason | None = EndReason.COMPLETED,
    ) -> None:
        """Earlier dials, by this family's caller from this hub unless told otherwise."""
        for requested_at in times:
            self.session.add(
                CallAttempt(
                    staff_id=(staff or self.staff).id,
                    hub_id=(hub or self.hub).id,
                    phone_number_id=number.id if number else None,
                    requested_at=requested_at,
                    ended_at=requested_at if end_reason else None,
                    end_reason=end_reason,
                )
            )
        self.session.flush()


def add_number(session: Session, e164: str = MOBILE) -> PhoneNumber:
    household = Household()
    guardian = Guardian(household=household, name="Siân O'Brien")
    number = PhoneNumber(guardian=guardian, label="mobile", e164=e164, kind="mobile")
    session.add(number)
    session.flush()
    return number


def make_family(session: Session, requested_at: datetime) -> Family:
    hub = Hub(name="office")
    staff = add_staff(session, "Sam")
    number = add_number(session)
    household = number.guardian.household
    campaign = Campaign(name="Welfare check", purpose=Purpose.WELFARE)
    entry = CampaignEntry(campaign=campaign, household=household)
    session.add_all([hub, entry])
    session.flush()
    attempt = CallAttempt(
        entry_id=entry.id,
        household_id=household.id,
        staff_id=staff.id,
        hub_id=hub.id,
        phone_number_id=number.id,
        requested_at=requested_at,
    )
    session.add(attempt)
    session.flush()
    return Family(session, household, number.guardian, number, staff, hub, campaign, attempt)


@dataclass
class Dial:
    """What the guard made of one attempt, read back after the session committed."""

    number: Number | None
    refused: DialRefused | None
    e164: str
    attempt: CallAttempt
    events: list[AuditEvent]


def dial(
    database,
    change: Callable[[Family], object] | None = None,
    *,
    plan: DialPlan = PLAN,
    now: datetime = WEDNESDAY,
) -> Dial:
    """Ask the guard about a fresh family's call, catching a refusal inside the session."""
    with database.session() as session:
        family = make_family(session, requested_at=now)
        if change:
            change(family)
            session.flush()
        e164 = family.number.e164
        try:
            number, refused = check_attempt(session, plan, family.attempt, now=now), None
        except DialRefused as exc:
            number, refused = None, exc
        attempt_id = family.attempt.id
    with database.session() as session:
        attempt = session.get(CallAttempt, attempt_id)
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    return Dial(number, refused, e164, attempt, events)


def assert_refused(result: Dial, reason: str, sentence: str) -> None:
    """Refused for ``reason`` with ``sentence`` and audited, the number in neither."""
    assert result.number is None
    assert result.refused is not None
    assert (result.refused.reason, str(result.refused)) == (reason, sentence)
    [event] = result.events
    assert (event.action, event.detail["reason"]) == ("dial.refused", reason)
    assert (event.target_type, event.target_id) == ("call_attempt", result.attempt.id)
    last_six = result.e164[-6:]
    assert last_six not in json.dumps(event.detail)
    assert last_six not in sentence


def assert_closed_as_refused(result: Dial, now: datetime = WEDNESDAY) -> None:
    assert result.attempt.end_reason == EndReason.REFUSED
    assert result.attempt.ended_at == now


def other_family(family: Family) -> None:
    family.attempt.household_id = add_number(family.session, LANDLINE).guardian.household_id


def number_deleted(family: Family) -> None:
    family.session.delete(family.number)
    family.session.flush()
    # The database set the attempt's number to null; read it back as the daemon would.
    family.session.expire(family.attempt)


def set_to(target: str, attribute: str, value: object) -> Callable[[Family], None]:
    """A change that sets ``family.<target>.<attribute>`` to ``value``."""
    return lambda family: setattr(getattr(family, target), attribute, value)


REFUSALS = [
    pytest.param(
        set_to("attempt", "phone_number_id", None),
        PLAN,
        WEDNESDAY,
        "no_number_record",
        "This call has no family phone number on record, so it cannot be dialled.",
        id="no-number",
    ),
    pytest.param(
        number_deleted,
        PLAN,
        WEDNESDAY,
        "no_number_record",
        "This call has no family phone number on record, so it cannot be dialled.",
        id="number-purged",
    ),
    pytest.param(
        other_family,
        PLAN,
        WEDNESDAY,
        "wrong_household",
        "The phone number on this call belongs to a different family, so it was not dialled.",
        id="wrong-household",
    ),
    pytest.param(
        set_to("staff", "active", False),
        PLAN,
        WEDNESDAY,
        "staff_inactive",
        "This call has no active member of staff making it, so it cannot be dialled.",
        id="staff-disabled",
    ),
    pytest.param(
        set_to("attempt", "staff_id", None),
        PLAN,
        WEDNESDAY,
        "staff_inactive",
        "This call has no active member of staff making it, so it cannot be dialled.",
        id="staff-deleted",
    ),
    pytest.param(
        set_to("staff", "opted_in", False),
        PLAN,
        WEDNESDAY,
        "not_opted_in",
        "You have not opted in to making calls through the hub.",
        id="not-opted-in",
    ),
    pytest.param(
        set_to("campaign", "dsl_only", True),
        PLAN,
        WEDNESDAY,
        "not_dsl",
        "Only the designated safeguarding lead can call this campaign's families.",
        id="dsl-only",
    ),
    pytest.param(
        set_to("number", "do_not_contact", True),
        PLAN,
        WEDNESDAY,
        "do_not_contact",
        "The family has asked not to be called on this number.",
        id="number-do-not-contact",
    ),
    pytest.param(
        set_to("guardian", "do_not_contact", True),
        PLAN,
        WEDNESDAY,
        "do_not_contact",
        "This contact has asked not to be called.",
        id="guardian-do-not-contact",
    ),
    pytest.param(
        set_to("number", "e164", FOREIGN),
        PLAN,
        WEDNESDAY,
        "international",
        "This number is an international number, and the hub is not set up to call abroad.",
        id="international",
    ),
    pytest.param(
        set_to("number", "e164", PREMIUM),
        replace(PLAN, allowed=PLAN.allowed | {Kind.PREMIUM_RATE}),
        WEDNESDAY,
        "kind_not_allowed",
        "This number is a premium-rate number, which the hub never dials.",
        id="premium-even-if-allowed",
    ),
    pytest.param(
        set_to("number", "e164", "+44999"),
        replace(PLAN, allowed=PLAN.allowed | {Kind.SHORT_CODE}),
        WEDNESDAY,
        "kind_not_allowed",
        "This number is a short code, which the hub never dials.",
        id="emergency-short-code",
    ),
    pytest.param(
        set_to("number", "e164", "+44118118"),
        PLAN,
        WEDNESDAY,
        "kind_not_allowed",
        "This number is a short code, which the hub never dials.",
        id="directory-short-code",
    ),
    pytest.param(
        set_to("number", "e164", LANDLINE),
        replace(PLAN, allowed=frozenset({Kind.MOBILE})),
        WEDNESDAY,
        "kind_not_allowed",
        "This number is a landline number, which the hub is not set up to dial.",
        id="kind-not-in-allowed",
    ),
    pytest.param(
        set_to("campaign", "closed_at", WEDNESDAY - timedelta(days=1)),
        PLAN,
        SATURDAY,
        "campaign_closed",
        "This campaign is closed, so no more calls can be made from it.",
        id="campaign-closed",
    ),
    pytest.param(None, PLAN, at(WEDNESDAY, "07:59"), "outside_hours", HOURS, id="07:59"),
    pytest.param(None, PLAN, at(WEDNESDAY, "19:00"), "outside_hours", HOURS, id="19:00"),
    pytest.param(None, PLAN, SATURDAY, "outside_hours", HOURS, id="saturday"),
    pytest.param(
        None, PLAN, at(WEDNESDAY, "07:30"), "outside_hours", HOURS, id="07:30-utc-in-winter"
    ),
    pytest.param(
        None, PLAN, at(SUMMER_WEDNESDAY, "18:00"), "outside_hours", HOURS, id="18:00-utc-in-summer"
    ),
    pytest.param(
        set_to("campaign", "window_start", time(13)),
        PLAN,
        WEDNESDAY,
        "outside_campaign_window",
        "Calls for this campaign can only be made 13:00 to 19:00.",
        id="before-campaign-window",
    ),
    pytest.param(
        set_to("campaign", "window_end", time(12)),
        PLAN,
        WEDNESDAY,
        "outside_campaign_window",
        "Calls for this campaign can only be made 08:00 to 12:00.",
        id="campaign-window-end",
    ),
]


@pytest.mark.parametrize(("change", "plan", "now", "reason", "sentence"), REFUSALS)
def test_each_refusal_says_why_and_is_recorded(database, change, plan, now, reason, sentence):
    result = dial(database, change, plan=plan, now=now)
    assert_refused(result, reason, sentence)
    assert_closed_as_refused(result, now)


def test_a_family_number_in_hours_is_returned_and_nothing_is_audited(database):
    result = dial(database)
    assert result.number == Number(MOBILE, Kind.MOBILE)
    assert result.events == []
    assert (result.attempt.ended_at, result.attempt.end_reason) == (None, None)


def test_the_stored_number_is_classified_again_not_trusted(database):
    result = dial(database, set_to("number", "kind", "premium_rate"))
    assert result.number == Number(MOBILE, Kind.MOBILE)


def test_an_ended_attempt_is_refused_and_keeps_how_it_ended(database):
    ended = WEDNESDAY - timedelta(minutes=5)

    def ended_earlier(family: Family) -> None:
        family.attempt.ended_at = ended
        family.attempt.end_reason = EndReason.COMPLETED
        family.number.e164 = PREMIUM  # an ended call is refused before anything else

    result = dial(database, ended_earlier)
    assert_refused(
        result, "already_ended", "This call has already ended, so it cannot be dialled again."
    )
    assert (result.attempt.ended_at, result.attempt.end_reason) == (ended, EndReason.COMPLETED)


@pytest.mark.parametrize(
    ("role", "opted_in"), [(Role.ADMIN, False), (Role.DSL, False), (Role.STAFF, True)]
)
def test_admins_and_the_dsl_need_not_opt_in(database, role, opted_in):
    def caller(family: Family) -> None:
        family.staff.role, family.staff.opted_in = role, opted_in

    assert dial(database, caller).number == Number(MOBILE, Kind.MOBILE)


def test_the_dsl_may_call_a_dsl_only_campaign(database):
    def dsl_campaign(family: Family) -> None:
        family.staff.role = Role.DSL
        family.campaign.dsl_only = True

    assert dial(database, dsl_campaign).number is not None


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(at(WEDNESDAY, "08:00"), id="08:00"),
        pytest.param(at(WEDNESDAY, "18:59:59"), id="18:59:59"),
        pytest.param(at(SUMMER_WEDNESDAY, "07:30"), id="07:30-utc-is-08:30-bst"),
    ],
)
def test_calls_inside_the_window_are_allowed(database, now):
    assert dial(database, now=now).number == Number(MOBILE, Kind.MOBILE)


def test_hours_that_end_at_24_00_take_in_the_last_minute_of_the_day(database):
    # "00:00-23:59" left out 23:59 to midnight: a test at that minute was refused.
    plan = replace(PLAN, calling_window=(time(0), time.max))
    assert dial(database, plan=plan, now=at(WEDNESDAY, "23:59:30")).number is not None
    assert DialPlan.from_config(
        parse_config('[dialplan]\ncalling_hours = "00:00-24:00"')
    ).calling_window == (time(0), time.max)
    assert replace(plan, calling_days=frozenset(range(7))).calling_hours == (
        "every day, 00:00 to 24:00"
    )


def test_an_international_number_is_dialled_when_allowed(database):
    result = dial(
        database, set_to("number", "e164", FOREIGN), plan=replace(PLAN, international=True)
    )
    assert result.number == Number(FOREIGN, Kind.INTERNATIONAL)


def test_a_campaign_window_inside_calling_hours_is_allowed(database):
    def window(family: Family) -> None:
        family.campaign.window_start, family.campaign.window_end = time(11), time(13)

    assert dial(database, window).number is not None


HOUR_LIMIT = (
    "You have made {count} calls in the last hour, the most allowed; try again after {again}."
)


@pytest.mark.parametrize(
    ("day", "earlier", "again"),
    [
        pytest.param(WEDNESDAY, 19, None, id="one-under"),
        pytest.param(WEDNESDAY, 20, "14:11", id="at-the-limit"),
        pytest.param(WEDNESDAY, 21, "14:12", id="over-a-lowered-limit"),
        pytest.param(SUMMER_WEDNESDAY, 20, "15:11", id="reset-shown-in-bst"),
    ],
)
def test_calls_per_staff_member_per_hour(database, day, earlier, again):
    # One call a minute from 13:10:30, so the oldest leaves the hour at 14:10:30.
    first = at(day, "13:10:30")
    now = at(day, "14:00")

    def busy(family: Family) -> None:
        times = [first + timedelta(minutes=i) for i in range(earlier)]
        family.calls(*times[::2])
        family.calls(*times[1::2], end_reason=None)  # still in progress: dialled all the same

    result = dial(database, busy, now=now)
    if again is None:
        assert result.number is not None
    else:
        assert_refused(result, "staff_rate", HOUR_LIMIT.format(count=earlier, again=again))
        assert_closed_as_refused(result, now)


def test_refused_older_and_other_peoples_calls_do_not_count_to_the_hour(database):
    def others(family: Family) -> None:
        kim = add_staff(family.session, "Kim")
        family.calls(*[WEDNESDAY - timedelta(minutes=5)] * 20, end_reason=EndReason.REFUSED)
        family.calls(*[WEDNESDAY - timedelta(minutes=61)] * 20)
        family.calls(*[WEDNESDAY - timedelta(minutes=5)] * 20, staff=kim)

    assert dial(database, others).number is not None


NUMBER_LIMIT = "This number has been called 3 times today, the most allowed; try again tomorrow."


@pytest.mark.parametrize(
    ("earlier", "refused"),
    [
        pytest.param(["09:00", "10:00"], False, id="one-under"),
        pytest.param(["09:00", "10:00", "11:00"], True, id="at-the-limit"),
        pytest.param(["00:00", "10:00", "11:00"], True, id="from-midnight"),
    ],
)
def test_calls_per_number_per_day(database, earlier, refused):
    def called(family: Family) -> None:
        family.calls(at(TUESDAY, "23:59"), number=family.number)  # yesterday's never count
        family.calls(*(at(WEDNESDAY, clock) for clock in earlier), number=family.number)

    result = dial(database, called)
    if refused:
        assert_refused(result, "number_rate", NUMBER_LIMIT)
        assert_closed_as_refused(result)
    else:
        assert result.number is not None


def test_the_same_number_in_another_family_counts_to_its_day(database):
    def shared(family: Family) -> None:
        # A parent who lives apart from the children is on both households' records.
        elsewhere = add_number(family.session, MOBILE)
        family.calls(*[at(WEDNESDAY, "09:00")] * 3, number=elsewhere)

    assert_refused(dial(database, shared), "number_rate", NUMBER_LIMIT)


@pytest.mark.parametrize(
    ("day", "refused"),
    [
        pytest.param(SUMMER_WEDNESDAY, True, id="bst-midnight-is-23:00-utc"),
        pytest.param(WEDNESDAY, False, id="gmt-midnight-is-00:00-utc"),
    ],
)
def test_the_day_starts_at_midnight_in_london(database, day, refused):
    def late_last_night(family: Family) -> None:
        family.calls(at(day - timedelta(days=1), "23:30"), number=family.number)
        family.calls(*[at(day, "09:00")] * 2, number=family.number)

    result = dial(database, late_last_night, now=day)
    assert (result.refused is not None) is refused


@pytest.mark.parametrize(("earlier", "refused"), [(4, False), (5, True)])
def test_calls_per_hub_per_day(database, earlier, refused):
    def busy_hub(family: Family) -> None:
        kim = add_staff(family.session, "Kim")
        elsewhere = Hub(name="staffroom")
        family.session.add(elsewhere)
        family.session.flush()
        family.calls(*[at(WEDNESDAY, "09:00")] * earlier, staff=kim)
        family.calls(*[at(WEDNESDAY, "09:00")] * 5, staff=kim, hub=elsewhere)
        family.calls(*[at(WEDNESDAY, "09:00")] * 5, staff=kim, end_reason=EndReason.REFUSED)

    result = dial(database, busy_hub, plan=replace(PLAN, per_hub_per_day=5))
    if refused:
        assert_refused(
            result,
            "hub_rate",
            "This hub has made 5 calls today, the most allowed; try again tomorrow.",
        )
    else:
        assert result.number is not None


@dataclass
class AdminCall:
    """What the guard made of an admin's test call, read back after the session committed."""

    number: Number | None
    refused: DialRefused | None
    events: list[AuditEvent]
    new_attempts: int


def admin_call(
    database,
    text: str,
    *,
    role: Role = Role.ADMIN,
    active: bool = True,
    earlier: int = 0,
    plan: DialPlan = PLAN,
    now: datetime = SATURDAY,
) -> AdminCall:
    """Ask the guard about a test call to ``text``, after ``earlier`` test calls just now."""
    with database.session() as session:
        hub = Hub(name="office")
        session.add(hub)
        admin = add_staff(session, "IT", role, active=active)
        for _ in range(earlier):
            session.add(
                CallAttempt(staff_id=admin.id, hub_id=hub.id, requested_at=now, test_call=True)
            )
        session.flush()
        try:
            number = check_test_call(session, plan, admin, text, hub_id=hub.id, now=now)
            refused = None
        except DialRefused as exc:
            number, refused = None, exc
    with database.session() as session:
        events = list(session.scalars(select(AuditEvent)))
        attempts = session.scalar(select(func.count()).select_from(CallAttempt)) or 0
    return AdminCall(number, refused, events, attempts - earlier)


@pytest.mark.parametrize(
    "now",
    [pytest.param(SATURDAY, id="saturday"), pytest.param(at(WEDNESDAY, "03:00"), id="03:00")],
)
def test_an_admin_can_make_a_test_call_at_any_time(database, now):
    result = admin_call(database, "07700 900456", now=now)
    assert result.number == Number(MOBILE, Kind.MOBILE)
    assert (result.events, result.new_attempts) == ([], 0)


NOT_ADMIN = "Only an active admin can make a test call."
NEVER = "This number is {}, which the hub never dials."


@pytest.mark.parametrize(
    ("text", "options", "reason", "sentence"),
    [
        ("07700 900456", {"role": Role.STAFF}, "not_admin", NOT_ADMIN),
        ("07700 900456", {"role": Role.DSL}, "not_admin", NOT_ADMIN),
        ("07700 900456", {"active": False}, "not_admin", NOT_ADMIN),
        ("0800 call me", {}, "not_a_number", "That is not a phone number."),
        ("0909 879 0123", {}, "kind_not_allowed", NEVER.format("a premium-rate number")),
        ("999", {}, "kind_not_allowed", NEVER.format("a short code")),
        ("118 118", {}, "kind_not_allowed", NEVER.format("a short code")),
        (
            "+33 1 99 00 00 00",
            {},
            "international",
            "This number is an international number, and the hub is not set up to call abroad.",
        ),
        (
            "020 7946 0123",
            {"earlier": 20},
            "staff_rate",
            HOUR_LIMIT.format(count=20, again="13:00"),
        ),
        (
            "020 7946 0123",
            {"earlier": 5, "plan": replace(PLAN, per_hub_per_day=5)},
            "hub_rate",
            "This hub has made 5 calls today, the most allowed; try again tomorrow.",
        ),
    ],
    ids=[
        "staff",
        "dsl",
        "disabled-admin",
        "not-a-number",
        "premium",
        "emergency",
        "directory",
        "international",
        "staff-rate",
        "hub-rate",
    ],
)
def test_test_call_refusals(database, text, options, reason, sentence):
    result = admin_call(database, text, **options)
    assert result.refused is not None
    assert (result.refused.reason, str(result.refused)) == (reason, sentence)
    [event] = result.events
    assert (event.action, event.actor, event.target_type) == (
        "dial.refused",
        "it@school.example",
        "",
    )
    assert (event.detail["reason"], event.detail["test_call"]) == (reason, True)
    digits = "".join(c for c in text if c.isdigit())
    assert digits[-6:] not in json.dumps(event.detail)
    assert result.new_attempts == 0


def test_a_test_call_one_under_the_hour_limit_is_allowed(database):
    result = admin_call(database, "01632 960789", earlier=19)
    assert result.number == Number(LANDLINE, Kind.GEOGRAPHIC)


def test_the_plan_is_read_from_config():
    config = parse_config(
        '[dialplan]\ncalling_days = ["mon", "wed", "sun"]\ncalling_hours = "09:30-15:00"\n'
        "international = true\nper_hub_per_day = 40"
    )
    assert DialPlan.from_config(config) == replace(
        PLAN,
        international=True,
        per_hub_per_day=40,
        calling_window=(time(9, 30), time(15)),
        calling_days=frozenset({0, 2, 6}),
    )


@pytest.mark.parametrize(
    ("days", "said"),
    [
        ({0, 1, 2, 3, 4}, "Monday to Friday, 08:00 to 19:00"),
        ({0, 2, 4}, "Monday, Wednesday and Friday, 08:00 to 19:00"),
        ({5, 6}, "Saturday and Sunday, 08:00 to 19:00"),
        ({0, 1, 2, 4}, "Monday to Wednesday and Friday, 08:00 to 19:00"),
        ({3}, "Thursday, 08:00 to 19:00"),
        (set(range(7)), "every day, 08:00 to 19:00"),
    ],
)
def test_calling_hours_are_said_as_a_person_would(days, said):
    assert replace(PLAN, calling_days=frozenset(days)).calling_hours == said


def test_a_naive_time_is_refused(sqlite_database):
    with sqlite_database.session() as session:
        family = make_family(session, WEDNESDAY)
        with pytest.raises(ValueError, match="naive"):
            check_attempt(session, PLAN, family.attempt, now=datetime(2025, 1, 15, 12))
