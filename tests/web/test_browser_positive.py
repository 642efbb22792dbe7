"""A teacher's positive call home, in headless Chromium against the real line daemon.

Nominate a pupil and his sister → one card with both notes and the first line to say →
a real call through Kamailio to the practice line, and the gentle prompt when it runs
long → "parent wants a meeting" books a follow-up → the reflection's six prompts →
its print-ready export. The school here asks for reflections at once
(``[positive] reflect_after_days = 0``), so the whole habit fits one sitting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from hub import users
from hub.db import open_database
from hub.models import CallAttempt, CampaignEntry, EntryState, Nomination, Role
from hub.people import import_file
from tests.line.conftest import Kamailio, LineProcess, PracticeLineProcess, free_port
from tests.web.conftest import ARTIFACTS, PASSWORD, running_panel
from tests.web.two_step import set_up_page

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile,Home\r\n"
    "A1,Ali,Nowak,8,8B,Farah Nowak,Mother,07700 900123,01632 960001\r\n"
    "A2,Sara,Nowak,5,5A,Farah Nowak,Mother,07700 900123,01632 960001\r\n"
    "B1,Zoë,O'Brien,8,8B,Siân O'Brien,Mother,07700 900124,\r\n"
)
SAM = "sam@school.example"


@pytest.fixture
def school(make_line: Callable[..., LineProcess], kamailio: Kamailio) -> Iterator[tuple[str, str]]:
    """A line and panel whose school asks for reflections straight after a call, with families
    and a teacher who makes calls: the panel's address and the database's."""
    line = make_line(kamailio, positive={"reflect_after_days": 0})
    line.start()
    with open_database(line.database_url) as database, database.session() as session:
        import_file(session, EXPORT.encode(), actor="test")
        users.add(session, SAM, "Sam Teacher", Role.STAFF, PASSWORD, actor="test", opted_in=True)
    port = free_port()
    with line.config_path.open("a") as config:
        config.write(f'\n[web]\nbind = "127.0.0.1"\nport = {port}\n')
    with running_panel(line.config_path, port) as url:
        yield url, line.database_url


def test_nominate_call_and_reflect_in_one_sitting(
    browser: Browser, school: tuple[str, str], practice_line: PracticeLineProcess
):
    url, database_url = school
    page = browser.new_context(ignore_https_errors=True, locale="en-GB").new_page()
    page.goto(url + "/login")
    page.get_by_label("Email").fill(SAM)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    set_up_page(page)
    expect(page.get_by_text("Not yet this week.")).to_be_visible()

    # Nominate Ali, then his sister from his page: one family, one call.
    page.get_by_role("link", name="Nominate a pupil").first.click()
    page.get_by_label("Pupil's name, or a form such as 8B").fill("nowak")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Nominate Ali Nowak").click()
    page.get_by_label("What did Ali do?").fill("Stayed behind to help a new pupil find the labs.")
    page.get_by_label("Your plan: what you'll say").fill("Tuesday's help first, then his maths.")
    page.get_by_role("button", name="Nominate").click()
    expect(page.get_by_text("The call is in your queue.")).to_be_visible()
    page.go_back()
    page.get_by_role("link", name="Sara Nowak").click()
    page.get_by_label("What did Sara do?").fill("Read her story to the infants.")
    page.get_by_role("button", name="Nominate").click()
    expect(page.get_by_text("your note will be read out on that one call")).to_be_visible()
    page.get_by_role("link", name="Call Sara's family now").click()

    # The card: the first line to say, both notes under each name, the plan.
    expect(
        page.get_by_text(
            "“I'm calling from Northfield School, everything's fine — I wanted "
            "to tell you about something Ali and Sara did.”"
        )
    ).to_be_visible()
    expect(page.get_by_role("heading", name="What Ali Nowak did")).to_be_visible()
    expect(page.get_by_role("heading", name="What Sara Nowak did")).to_be_visible()
    expect(page.get_by_text("Read her story to the infants.")).to_be_visible()
    expect(page.get_by_label("Your plan: what you'll say")).to_have_value(
        "Tuesday's help first, then his maths.")  # fmt: skip
    assert "900123" not in page.content()

    # A real call; past five minutes the card suggests keeping it brief.
    page.clock.install()
    page.get_by_role("button", name="Call Mother · mobile ••• 123").click()
    expect(page.locator(".call-panel .state")).to_have_text(re.compile("Connected"),
                                                          timeout=20_000)  # fmt: skip
    prompt = page.get_by_text("You've been talking for 5 minutes.")
    expect(prompt).to_be_hidden()
    page.clock.fast_forward("05:05")
    expect(prompt).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "positive-call.png"), full_page=True)
    # Notes typed during the call survive saving the plan: the card is not reloaded.
    page.get_by_label("Notes (a concern's note goes to the DSL only)").fill("Mum was delighted.")
    page.get_by_label("Your plan: what you'll say").fill("Tuesday's help, his maths, Sara's story.")
    page.get_by_role("button", name="Save my plan").click()
    expect(page.get_by_text("Your plan is saved on the card.")).to_be_visible()
    expect(page.get_by_label("Notes (a concern's note goes to the DSL only)")).to_have_value(
        "Mum was delighted.")  # fmt: skip
    page.get_by_role("button", name="Hang up").click()
    [invite] = practice_line.events("invite")
    assert '"Northfield School" <sip:01632960000@' in invite["message"]

    page.get_by_label("Parent wants a meeting").check()
    page.get_by_role("button", name="Save and go to the next family").click()
    expect(page.get_by_text(re.compile(r"the parent wants a meeting; a follow-up call to arrange "
                                       r"it is booked for you on"))).to_be_visible()  # fmt: skip
    with open_database(database_url) as database, database.session() as session:
        attempt = session.scalars(select(CallAttempt)).one()
        assert attempt.meeting_wanted
        assert session.scalars(select(CampaignEntry.state)).one() is EntryState.CALL_BACK
        assert session.scalars(select(CampaignEntry.plan)).one() == (
            "Tuesday's help, his maths, Sara's story.")  # fmt: skip
        told = session.scalars(select(Nomination.attempt_id)).all()
        assert told == [attempt.id, attempt.id]  # both notes were on the card when it rang

    # Home: the week is made, the follow-up is booked, and the reflection is asked for.
    page.get_by_role("link", name="School Phone Hub").click()
    expect(page.get_by_text("Done this week")).to_be_visible()
    expect(
        page.get_by_role("link", name="Ring the Nowak family to book the meeting")
    ).to_be_visible()
    page.get_by_role("link", name=re.compile("Reflect on your call about Ali Nowak")).click()
    answers = {
        "The pupil's age": "Year 8, twelve; his sister is nine.",
        "What they did to impress you": "He gave up his lunch to walk a new pupil round.",
        "What you planned to say, and whether you stuck to it": "Stuck to it, added Sara.",
        "The parent's reaction": "Delighted; she wants to meet to talk about maths sets.",
        "Any change in the pupil the following week": "Too soon to say.",
        "Wider effects you did not expect": "Sara told her class about the call.",
    }
    for label, text in answers.items():
        page.get_by_label(re.compile(re.escape(label))).fill(text)
    expect(page.locator(".word-count")).to_have_text(re.compile(r"^44 words"))
    page.get_by_role("button", name="Save my reflection").click()
    expect(page.get_by_text("Reflection saved: 44 words (the aim is 200 to 300).")).to_be_visible()

    page.get_by_role("link", name="Print-ready page for a CPD portfolio").click()
    sections = page.get_by_role("heading", level=2)
    expect(sections).to_have_text([f"{n}. {label}" for n, label in enumerate(answers, 1)])
    expect(page.get_by_text("A. N., year 8; S. N., year 5")).to_be_visible()
    assert "Ali Nowak" not in page.content() and "900123" not in page.content()
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "reflection-export.png"), full_page=True)
