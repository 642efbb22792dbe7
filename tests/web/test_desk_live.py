"""The call desk in headless Chromium with a real call up: its controls, focus and reloads.

The line daemon, Kamailio and the practice line are real (the practice line answers
as the family and as the practice number), as is the panel behind HTTPS.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import queues, users
from hub.db import open_database
from hub.models import CallAttempt, Campaign, Purpose, Role, utcnow
from hub.people import import_file
from tests.line.conftest import FAMILY_NUMBER, LineProcess, PracticeLineProcess, wait_until
from tests.web.test_browser_flow import PASSWORD, panel, sign_in  # noqa: F401 (a fixture)

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900123\r\n"
)
STAFF = "sam@school.example"
CONTROLS = ("Hang up", "Mute", "Leave the school's message")


@pytest.fixture
def hub_line(make_line, kamailio, practice_line: PracticeLineProcess) -> LineProcess:
    """The line daemon, with the practice line as both the family and the practice number."""
    return desk_line(make_line, kamailio)


def desk_line(make_line, kamailio, **line_settings: object) -> LineProcess:
    """The line daemon with Sam Teacher and the O'Briens in a campaign, as the desk needs."""
    line = make_line(kamailio, line={"practice_number": FAMILY_NUMBER, **line_settings})
    line.start()
    with open_database(line.database_url) as database, database.session() as session:
        users.add(session, STAFF, "Sam Teacher", Role.STAFF, PASSWORD, actor="test",
                  opted_in=True)  # fmt: skip
        import_file(session, EXPORT.encode(), actor="test")
        campaign = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
        session.add(campaign)
        session.flush()
        queues.add_households(session, campaign, actor="test", now=utcnow(), everyone=True)
    return line


@pytest.fixture
def desk(browser: Browser, panel: str) -> Page:  # noqa: F811 (the fixture imported above)
    """Sam Teacher signed in, looking at the O'Briens' card."""
    page = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(page, panel, STAFF)
    page.get_by_role("link", name="Call desk").click()
    page.get_by_role("link", name="Autumn welfare").click()
    expect(page.get_by_role("heading", name="Zoë O'Brien")).to_be_visible()
    return page


def control(page: Page, name: str):
    """One of the call's buttons, found whether it is shown or not."""
    return page.get_by_role("button", name=name, exact=True, include_hidden=True)


def reachable_by_tab(page: Page) -> list[str]:
    """The names of everything Tab reaches, once round the page."""
    names: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        name = page.evaluate(
            "() => { const e = document.activeElement; if (e === document.body) return null;"
            " return e.innerText || e.value || e.name || e.tagName; }"
        )
        if name is None or name in names[:1]:
            break
        names.append(name.strip())
    return names


def test_the_call_controls_are_there_only_while_a_call_is_up(
    desk: Page, hub_line: LineProcess, practice_line: PracticeLineProcess
):
    for name in CONTROLS:
        expect(control(desk, name)).to_be_hidden()
    reached = reachable_by_tab(desk)
    assert {"Sign out", "Practice call (rings the practice line, not this family)"} <= set(reached)
    assert not set(CONTROLS) & set(reached)

    desk.get_by_role("button", name=re.compile("Practice call")).click()
    expect(control(desk, "Hang up")).to_be_focused()  # the call's controls, not the page top
    for name in CONTROLS:
        expect(control(desk, name)).to_be_visible()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    # The keypad sends each key into the call as it is pressed: the far end hears them.
    desk.get_by_text("Keypad", exact=True).click()
    for key in ("1", "2", "hash"):
        desk.get_by_role("button", name=key, exact=True).click()
    expect(desk.locator(".keys-sent")).to_have_text("Sent: 12#")
    heard = wait_until(lambda: len(keys := practice_line.events("dtmf")) >= 3 and keys)
    assert [event["key"] for event in heard] == ["1", "2", "#"]
    control(desk, "Hang up").click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Ended"), timeout=15_000)
    for name in CONTROLS:
        expect(control(desk, name)).to_be_hidden()
    expect(desk.get_by_role("button", name="hash", include_hidden=True)).to_be_hidden()
    expect(desk.get_by_role("button", name=re.compile("Practice call"))).to_be_focused()
    assert not desk.get_by_text("There is no call").is_visible()


def _attempt(hub_line: LineProcess, attempt_id: int) -> CallAttempt:
    with open_database(hub_line.database_url) as database, database.session() as session:
        attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one()
        session.expunge(attempt)
        return attempt


def test_a_reload_during_a_practice_call_shows_the_call_and_can_end_it(
    desk: Page, hub_line: LineProcess
):
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    desk.reload()
    expect(desk.get_by_role("status")).to_have_text(re.compile(r"Connected \d+:\d\d"))
    expect(desk.get_by_text("Practice call: the practice line, not this family")).to_be_visible()
    for name in CONTROLS:
        expect(control(desk, name)).to_be_visible()
    attempt = hub_line.status()["call"]["attempt"]
    control(desk, "Hang up").click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Ended: call ended"),
                                                    timeout=15_000)  # fmt: skip
    assert hub_line.status()["call"] is None
    assert _attempt(hub_line, attempt).ended_by == "staff"
    expect(desk.get_by_text("How did the call go?")).to_be_hidden()  # no outcome for practice


def test_a_reload_during_a_family_call_shows_the_call_as_the_line_has_it(
    desk: Page, hub_line: LineProcess
):
    desk.get_by_role("button", name="Call Mother · mobile ••• 123").click()
    expect(control(desk, "Hang up")).to_be_focused()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    control(desk, "Mute").click()
    expect(desk.get_by_role("button", name=re.compile("Unmute"))).to_have_attribute(
        "aria-pressed", "true"
    )
    desk.reload()
    expect(desk.get_by_role("status")).to_have_text(re.compile(r"Connected \d+:\d\d"))
    unmute = desk.get_by_role("button", name=re.compile("Unmute"))
    expect(unmute).to_have_attribute("aria-pressed", "true")  # still muted, as the line is
    assert hub_line.status()["muted"] is True
    desk.get_by_label("Notes").fill("Mum says all is well.")
    attempt = hub_line.status()["call"]["attempt"]
    control(desk, "Hang up").click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Ended: call ended"),
                                                    timeout=15_000)  # fmt: skip
    expect(desk.get_by_label("Spoke to parent or carer")).to_be_focused()
    expect(desk.get_by_label("Notes")).to_have_value("Mum says all is well.")
    wait_until(lambda: _attempt(hub_line, attempt).ended_at, what="the call to end")
    assert hub_line.status()["call"] is None
