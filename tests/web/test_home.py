"""Each role's home page: a teacher's queue and week, the school's day, the DSL's list.

The day is seeded at real times, spread between the school's midnight and now, so the
page's own clock sees it as today. Every name is made up and no phone number is used.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import event, select

from hub.config import parse_config
from hub.db import Database
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    EntryState,
    Household,
    Hub,
    Outcome,
    Pupil,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from tests import factories
from tests.web import two_step
from tests.web.conftest import PASSWORD, Accounts, csrf_token
from web import create_app
from web.home import waited

SCHOOL = ZoneInfo("Europe/London")


def panel(database: Database, tmp_path: Path, zone: str = "Europe/London") -> Flask:
    """The panel on ``database``, keeping the school's days in ``zone``."""
    url = database.engine.url.render_as_string(hide_password=False)
    config = parse_config(
        f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n'
        f'[line]\ncontrol_socket = "{tmp_path / "line.sock"}"\n'
        f'[database]\nurl = "{url}"\n[dialplan]\ntimezone = "{zone}"\n'
    )
    return create_app({"PHONEHUB": config, "TESTING": True})


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[Flask]:
    """The panel on each kind of database the hub supports."""
    app = panel(database, tmp_path)
    yield app
    app.extensions["phonehub.db"].close()


@dataclass(frozen=True)
class Clock:
    """Moments of the school's today, all already past or still to come today."""

    now: datetime
    midnight: datetime
    tomorrow: datetime
    monday: datetime

    def earlier(self, fraction: float) -> datetime:
        """A moment today before now: 0 is midnight, 1 is now."""
        return self.midnight + (self.now - self.midnight) * fraction

    @property
    def later_today(self) -> datetime:
        """A moment after now and before midnight tonight."""
        return self.now + (self.tomorrow - self.now) / 2


def school_clock(zone: ZoneInfo = SCHOOL) -> Clock:
    now = utcnow()
    today = now.astimezone(zone).date()
    return Clock(
        now=now,
        midnight=datetime.combine(today, time(0), zone),
        tomorrow=datetime.combine(today + timedelta(days=1), time(0), zone),
        monday=datetime.combine(today - timedelta(days=today.weekday()), time(0), zone),
    )


def family(session, campaign: Campaign, surname: str, assignee: StaffUser | None = None):
    """A household of one pupil, in ``campaign``, given to ``assignee`` if any."""
    household = Household(pupils=[Pupil(mis_id=f"M-{surname}", forename="Alex", surname=surname,
                                        form="7A")])  # fmt: skip
    entry = CampaignEntry(campaign=campaign, household=household, assignee=assignee)
    session.add(entry)
    session.flush()
    return entry


def call(session, entry: CampaignEntry, staff: StaffUser, at: datetime, outcome: Outcome,
         *, now: datetime | None = None, call_back_at: datetime | None = None,
         notes: str = "") -> None:  # fmt: skip
    """A call the line made to the family at ``at``, and the outcome its caller gave it."""
    if outcome is Outcome.CONCERN and not notes:
        notes = "Alex said there is nobody at home in the evenings."
    factories.call(session, entry, staff, at, outcome, now=now or at,
                   call_back_at=call_back_at, notes=notes, zone=SCHOOL)  # fmt: skip


@dataclass(frozen=True)
class Day:
    """The ids a test looks for."""

    autumn: int
    spring: int
    clock: Clock


@pytest.fixture
def day(app, accounts) -> Day:
    """Two teachers' day: Sam in two campaigns, Kim in one, with call-backs and a concern."""
    accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
    accounts.add(Role.STAFF, email="kim@school.example", name="Kim Teacher")
    clock = school_clock()
    with app.extensions["phonehub.db"].session() as session:
        sam, kim = (
            session.scalar(select(StaffUser).where(StaffUser.email == f"{who}@school.example"))
            for who in ("sam", "kim")
        )
        autumn = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
        spring = Campaign(name="Spring praise", purpose=Purpose.POSITIVE,
                          any_opted_in_staff=False, staff=[sam])  # fmt: skip
        closed = Campaign(name="Summer trips", purpose=Purpose.CUSTOM, closed_at=clock.midnight)
        vulnerable = Campaign(name="Vulnerable pupils", purpose=Purpose.WELFARE, dsl_only=True)
        session.add_all([autumn, spring, closed, vulnerable])
        session.flush()
        family(session, closed, "Closedown")
        family(session, vulnerable, "Hidden")

        # Sam's calls today in the autumn campaign, and a refused dial that never rang.
        refused = family(session, autumn, "Refused")
        at = clock.earlier(0.1)
        session.add(CallAttempt(entry_id=refused.id, household_id=refused.household_id,
                                staff_id=sam.id, requested_at=at, ended_at=at,
                                end_reason=EndReason.REFUSED))  # fmt: skip
        call(session, family(session, autumn, "Reached"), sam, clock.earlier(0.2),
             Outcome.SPOKE_TO_PARENT)  # fmt: skip
        call(session, family(session, autumn, "Voicemail"), sam, clock.earlier(0.3),
             Outcome.VOICEMAIL)  # fmt: skip
        call(session, family(session, autumn, "Callback"), sam, clock.earlier(0.4),
             Outcome.SPOKE_TO_PARENT, call_back_at=clock.later_today)  # fmt: skip
        # A practice call is not a family's.
        at = clock.earlier(0.5)
        session.add(CallAttempt(staff_id=sam.id, test_call=True, requested_at=at, ended_at=at,
                                end_reason=EndReason.COMPLETED))  # fmt: skip

        # Kim's calls today: a call-back tomorrow, a concern, and her own call-back due today.
        call(session, family(session, autumn, "Tomorrow"), kim, clock.earlier(0.45),
             Outcome.NO_ANSWER, call_back_at=clock.tomorrow + timedelta(hours=10))  # fmt: skip
        call(session, family(session, autumn, "Worried"), kim, clock.earlier(0.5),
             Outcome.CONCERN)  # fmt: skip
        call(session, family(session, autumn, "Kimscall", assignee=kim), kim, clock.earlier(0.3),
             Outcome.SPOKE_TO_PARENT, call_back_at=clock.earlier(0.7))  # fmt: skip
        family(session, autumn, "Kimsown", assignee=kim)
        family(session, autumn, "Open")
        family(session, autumn, "Unopened")

        # Sam's week in the spring campaign: last week's call does not count.
        call(session, family(session, spring, "Lastweek"), sam,
             clock.monday - timedelta(hours=1), Outcome.SPOKE_TO_PARENT)  # fmt: skip
        call(session, family(session, spring, "Monday"), sam, clock.monday + timedelta(minutes=1),
             Outcome.NO_ANSWER)  # fmt: skip
        call(session, family(session, spring, "Pupil"), sam, clock.earlier(0.6),
             Outcome.SPOKE_TO_PUPIL)  # fmt: skip
        family(session, spring, "Spring")

        session.add_all([
            Hub(name="office-1", registration="registered", last_seen_at=utcnow()),
            Hub(name="old-hub", registration="registered",
                last_seen_at=utcnow() - timedelta(hours=1)),
        ])  # fmt: skip
        return Day(autumn=autumn.id, spring=spring.id, clock=clock)


def monday(day: Day) -> bool:
    """Whether today is Monday, when the week's first call is also today's."""
    return day.clock.now.astimezone(SCHOOL).weekday() == 0


def signed_in(app, accounts, email: str):
    client = app.test_client()
    assert accounts.login(client, email) == 302
    return client


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def text(fragment: str) -> str:
    """What a sighted reader sees: tags and screen-reader-only words left out."""
    fragment = re.sub(r'<span class="sr-only">.*?</span>', "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {heading_id}"
    return match.group(1)


def figures(fragment: str) -> dict[str, int]:
    """Each figure of a list of figures, by its words: {"calls made": 5}."""
    found = re.findall(r'<span class="figure">(\d+)</span>\s*([^<]+)', fragment)
    return {words.strip(): int(number) for number, words in found}


def figure_links(fragment: str) -> dict[str, str]:
    """Where each figure's link goes, by its words."""
    found = re.findall(r'<a href="([^"]+)"><span class="figure">\d+</span>\s*([^<]+)</a>',
                       fragment)  # fmt: skip
    return {words.strip(): html.unescape(href) for href, words in found}


def rows(fragment: str) -> list[str]:
    """Each body row of the fragment's table, as its visible text."""
    body = re.search(r"<tbody>(.*?)</tbody>", fragment, re.S)
    assert body, "no table"
    return [text(row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def test_a_teacher_sees_their_queue_their_week_and_where_they_were(app, accounts, day):
    page = home(signed_in(app, accounts, "sam@school.example"))
    queue = section(page, "queue-heading")
    # Autumn: two never tried and the refused dial (it never rang); the voicemail waits
    # for tomorrow, the call-back for later today, Kim's own families are hers. Spring is
    # Sam's alone (Monday's no answer waits for Tuesday); the closed and the DSL's
    # campaigns are not listed.
    spring = 1 + (not monday(day))
    assert rows(queue) == ["Autumn welfare 3 1", f"Spring praise {spring} 0"]
    assert "Continue calling Spring praise" in text(queue)
    week = section(page, "week-heading")
    assert figures(week) == {"calls made": 5, "reached": 3, "not reached": 2}
    assert "Waiting for the DSL" not in page and "Today across the school" not in page


def test_a_teacher_never_sees_another_teachers_calls(app, accounts, day):
    page = home(signed_in(app, accounts, "kim@school.example"))
    week = section(page, "week-heading")
    assert figures(week) == {"calls made": 3, "reached": 1, "not reached": 1,
                             "passed to the DSL as concerns": 1}  # fmt: skip
    # Kim's call-back due earlier today is hers to make now, and Sam's is open to all.
    assert rows(section(page, "queue-heading")) == ["Autumn welfare 5 2"]
    assert "Continue calling Autumn welfare" in text(section(page, "queue-heading"))
    for seen_by_sam_only in ("Sam Teacher", "Spring praise", "Alex"):
        assert seen_by_sam_only not in text(page), seen_by_sam_only


def test_each_of_a_teachers_numbers_opens_that_campaigns_desk(app, accounts, day):
    sam = signed_in(app, accounts, "sam@school.example")
    queue = section(home(sam), "queue-heading")
    links = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', queue, re.S)
    by_name = {re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", name))).strip(): href
               for href, name in links}  # fmt: skip
    assert by_name == {
        "Continue calling in Spring praise": f"/desk/{day.spring}",
        "3 waiting for you in Autumn welfare": f"/desk/{day.autumn}",
        "1 to call back today in Autumn welfare": f"/desk/{day.autumn}",
        f"{1 + (not monday(day))} waiting for you in Spring praise": f"/desk/{day.spring}",
        "0 to call back today in Spring praise": f"/desk/{day.spring}",
    }
    card = sam.get(f"/desk/{day.autumn}").get_data(as_text=True)
    assert "Autumn welfare" in card
    assert any(f"Alex {name}" in card for name in ("Open", "Unopened", "Refused"))


def test_the_admin_sees_the_schools_day_with_each_figure_linked_to_its_list(
    app, accounts, day
):  # fmt: skip
    accounts.add(Role.ADMIN, email="ada@school.example", name="Ada Office")
    admin = signed_in(app, accounts, "ada@school.example")
    page = home(admin)
    today = section(page, "today-heading")
    # Sam: reached, voicemail, call-back booked, pupil (and Monday's no answer if today is
    # Monday); Kim: no answer, concern, call-back booked. Practice and refused calls are
    # not calls to families; last week's call is not today's.
    assert figures(today) == {
        "calls made to families": 7 + monday(day),
        "reached a parent, carer or pupil": 4,
        "no answer or voicemail": 2 + monday(day),
        "concerns raised": 1,
    }
    links = figure_links(today)
    assert links == {
        "calls made to families": "/calls/today",
        "reached a parent, carer or pupil": "/calls/today?which=reached",
        "no answer or voicemail": "/calls/today?which=no_answer",
        "concerns raised": "/calls/today?which=concerns",
    }
    # Each figure's list holds exactly the calls it counts, with who made them.
    for words, href in links.items():
        listed = admin.get(html.unescape(href)).get_data(as_text=True)
        assert len(re.findall(r"<tr><td>", listed)) == figures(today)[words], words
    concerns = admin.get(links["concerns raised"]).get_data(as_text=True)
    assert "Kim Teacher" in text(concerns) and "Alex Worried" in concerns
    assert "Alex said" not in concerns  # the concern's note is the DSL's alone
    assert "Alex Lastweek" not in admin.get(links["calls made to families"]).get_data(as_text=True)
    # A teacher cannot open the school's list.
    assert signed_in(app, accounts, "sam@school.example").get("/calls/today").status_code == 403

    progress = section(page, "progress-heading")
    assert rows(progress) == ["Autumn welfare 2 of 10 done", "Spring praise 2 of 4 done"]
    assert re.search(r'<progress max="10" value="2" aria-label="Autumn welfare: 2 of 10 '
                     r'households done"></progress>', progress)  # fmt: skip
    assert f'<a href="/campaigns/{day.autumn}">2 of 10 done' in progress
    campaign = admin.get(f"/campaigns/{day.autumn}").get_data(as_text=True)
    assert "Alex Kimsown" in campaign

    hubs = section(page, "hubs-heading")
    office, old = rows(hubs)
    assert office.startswith("office-1 registered ") and old.startswith("old-hub not running ")
    # This test has no line daemon: the page says so in a sentence rather than failing.
    assert 'role="alert"' in hubs and '<a href="/hub/">' in hubs
    assert "My queue" not in page and "Vulnerable pupils" not in page


def _school_time(moment: datetime) -> str:
    local = moment.astimezone(SCHOOL)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def test_the_admin_page_takes_the_same_few_statements_however_big_the_school(
    app, accounts, day
):  # fmt: skip
    accounts.add(Role.ADMIN, email="ada@school.example", name="Ada Office")
    admin = signed_in(app, accounts, "ada@school.example")
    engine = app.extensions["phonehub.db"].engine

    def statements() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            home(admin)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    before = statements()
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        for n in range(5):
            campaign = Campaign(name=f"Year {n + 7} check", purpose=Purpose.WELFARE)
            session.add(campaign)
            for m in range(20):
                entry = family(session, campaign, f"Big{n}x{m}")
                call(session, entry, sam, day.clock.earlier(0.5), Outcome.SPOKE_TO_PARENT)
    assert statements() == before


def test_the_dsl_sees_what_waits_oldest_first_with_how_long(app, accounts):
    accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
    accounts.add(Role.DSL, email="dee@school.example", name="Dee Lead")
    now = utcnow()
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        dee = session.scalar(select(StaffUser).where(StaffUser.email == "dee@school.example"))
        autumn = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
        session.add(autumn)
        session.flush()
        # Not reached on two school days in January; escalated five hours ago.
        unreached = family(session, autumn, "Okafor")
        call(session, unreached, sam, datetime(2025, 1, 13, 10, tzinfo=UTC), Outcome.NO_ANSWER)
        call(session, unreached, sam, datetime(2025, 1, 14, 10, tzinfo=UTC), Outcome.VOICEMAIL,
             now=now - timedelta(hours=5, minutes=10))  # fmt: skip
        assert unreached.state == EntryState.ESCALATED
        call(session, family(session, autumn, "Nowak"), sam, now - timedelta(days=3, hours=2),
             Outcome.CONCERN)  # fmt: skip
        call(session, family(session, autumn, "Fitzwilliam"), sam,
             now - timedelta(minutes=40, seconds=5), Outcome.CONCERN)  # fmt: skip
        call(session, family(session, autumn, "Handled"), sam, now - timedelta(days=9),
             Outcome.CONCERN)  # fmt: skip
        handled = session.scalars(select(Concern).order_by(Concern.raised_at)).first()
        handled.handled_at, handled.handled_by_id, handled.handled_note = now, dee.id, "Seen."
        concern_ids = {
            name: concern_id
            for name, concern_id in session.execute(
                select(Pupil.surname, Concern.id).join(
                    Pupil, Pupil.household_id == Concern.household_id
                )
            )
        }
    dsl = signed_in(app, accounts, "dee@school.example")
    page = home(dsl)
    waiting = section(page, "dsl-heading")
    assert rows(waiting) == [
        f"3 days Alex Nowak Concern raised by Sam Teacher Autumn welfare "
        f"{_school_time(now - timedelta(days=3, hours=2))}",
        f"5 hours Alex Okafor Not reached on two school days Autumn welfare "
        f"{_school_time(now - timedelta(hours=5, minutes=10))}",
        f"40 minutes Alex Fitzwilliam Concern raised by Sam Teacher Autumn welfare "
        f"{_school_time(now - timedelta(minutes=40, seconds=5))}",
    ]
    assert figures(waiting) == {"families not reached": 1, "concerns raised on calls": 2}
    assert figure_links(waiting) == {"families not reached": "/dsl/#escalations",
                                     "concerns raised on calls": "/dsl/#concerns"}  # fmt: skip
    for surname in ("Nowak", "Okafor", "Fitzwilliam"):
        assert f'href="/dsl/#concern-{concern_ids[surname]}"' in waiting
    assert "Alex Handled" not in page and "nobody at home" not in page
    # Each link's anchor is a card on the DSL's page.
    dsl_page = dsl.get("/dsl/").get_data(as_text=True)
    for anchor in (
        "escalations",
        "concerns",
        *(f"concern-{concern_ids[s]}" for s in ("Nowak", "Okafor", "Fitzwilliam")),
    ):
        assert f'id="{anchor}"' in dsl_page, anchor  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        viewed = session.scalars(select(AuditEvent).where(AuditEvent.action == "dsl.viewed")
                                 .order_by(AuditEvent.id)).first()  # fmt: skip
        assert viewed.detail == {"page": "home", "escalations": 1, "open_concerns": 2}


def test_staff_and_the_admin_see_nothing_of_the_dsls_list(app, accounts):
    accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
    accounts.add(Role.ADMIN, email="ada@school.example", name="Ada Office")
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        autumn = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
        session.add(autumn)
        session.flush()
        call(session, family(session, autumn, "Nowak"), sam, utcnow(), Outcome.CONCERN)
    for email in ("sam@school.example", "ada@school.example"):
        page = home(signed_in(app, accounts, email))
        assert "Waiting for the DSL" not in page and "Alex Nowak" not in page
        assert "/dsl/" not in page


def test_the_days_figures_follow_the_schools_time_zone_not_utc(sqlite_database, tmp_path):
    # Fourteen hours ahead of UTC: the school's today started on UTC's yesterday.
    zone = "Pacific/Kiritimati"
    app = panel(sqlite_database, tmp_path, zone)
    try:
        accounts = Accounts(app)
        accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
        accounts.add(Role.ADMIN, email="ada@school.example", name="Ada Office")
        clock = school_clock(ZoneInfo(zone))
        with app.extensions["phonehub.db"].session() as session:
            sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
            autumn = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
            session.add(autumn)
            session.flush()
            call(session, family(session, autumn, "Today"), sam, clock.earlier(0.01),
                 Outcome.SPOKE_TO_PARENT)  # fmt: skip
            call(session, family(session, autumn, "Yesterday"), sam,
                 clock.midnight - timedelta(minutes=30), Outcome.SPOKE_TO_PARENT)  # fmt: skip
            call(session, family(session, autumn, "Later"), sam, clock.earlier(0.02),
                 Outcome.NO_ANSWER, call_back_at=clock.later_today)  # fmt: skip
            call(session, family(session, autumn, "Tomorrow"), sam, clock.earlier(0.03),
                 Outcome.NO_ANSWER, call_back_at=clock.tomorrow + timedelta(hours=1))  # fmt: skip
        admin = home(signed_in(app, accounts, "ada@school.example"))
        assert figures(section(admin, "today-heading"))["calls made to families"] == 3
        staff = home(signed_in(app, accounts, "sam@school.example"))
        assert rows(section(staff, "queue-heading")) == ["Autumn welfare 0 1"]
    finally:
        app.extensions["phonehub.db"].close()


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(seconds=20), "under a minute"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(minutes=59), "59 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=23, minutes=59), "23 hours"),
        (timedelta(days=1, hours=5), "1 day"),
        (timedelta(days=3, hours=23), "3 days"),
        (timedelta(days=40), "40 days"),
        (timedelta(seconds=-5), "under a minute"),  # a clock a little behind another hub's
    ],
)
def test_how_long_something_has_waited_reads_as_words(span, words):
    assert waited(span) == words


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.DSL])
def test_signing_in_lands_on_the_roles_own_home_page(app, accounts, role):
    client = app.test_client()
    email = accounts.add(role)
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token})  # fmt: skip
    if role is Role.STAFF:
        assert response.headers["Location"] == "/"
    else:  # an admin or the DSL sets up two-step sign-in first, then lands at home
        assert response.headers["Location"] == two_step.SET_UP
        assert two_step.set_up_client(client) == 200
    assert client.get("/").status_code == 200


def test_each_of_a_teachers_week_figures_opens_the_calls_behind_it(app, accounts, day):
    sam = signed_in(app, accounts, "sam@school.example")
    week = section(home(sam), "week-heading")
    links = re.findall(r'<a href="([^"]+)"><span class="figure">(\d+)</span> ([^<]+)</a>', week)
    assert [(figure, words) for _, figure, words in links] == [
        ("5", "calls made"), ("3", "reached"), ("2", "not reached")]  # fmt: skip
    expected = {"calls made": {"Reached", "Voicemail", "Callback", "Monday", "Pupil"},
                "reached": {"Reached", "Callback", "Pupil"},
                "not reached": {"Voicemail", "Monday"}}  # fmt: skip
    for href, _, words in links:
        page = sam.get(html.unescape(href)).get_data(as_text=True)
        listed = set(re.findall(r"<td>Alex (\w+)</td>", page))
        assert listed == expected[words], (words, listed)
    # Kim's calls, last week's, practice calls and a refused dial are never on Sam's list.
    everything = sam.get("/my-calls").get_data(as_text=True)
    for not_sams in ("Worried", "Tomorrow", "Kimscall", "Lastweek", "Refused"):
        assert f"Alex {not_sams}" not in everything
    assert "left a voicemail" in everything and "Spring praise" in everything
