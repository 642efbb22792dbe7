"""A new school's first day, in headless Chromium, against the real line daemon.

First run → import the MIS export → a campaign → invite a member of staff → they
sign in → call desk → a real call through Kamailio to the practice line, its
states live on the page → an outcome → after failed calls on two school days the
DSL sees the escalation. Screenshots of the desk and the DSL page are kept in
test-artifacts/ as evidence of what people see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub.db import open_database
from hub.models import AuditEvent, CallAttempt, CampaignEntry, Outcome, StaffUser, utcnow
from tests.line.conftest import LineProcess, PracticeLineProcess, free_port
from tests.web.conftest import ARTIFACTS, running_panel
from tests.web.two_step import set_up_page

PASSWORD = "correct horse battery"
EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile,Home\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900123,01632 960001\r\n"
    "A2,Finn,O'Brien,6,6A,Siân O'Brien,Mother,07700 900123,01632 960001\r\n"
)


@pytest.fixture
def panel(hub_line: LineProcess) -> Iterator[str]:
    """``phonehub web`` on the line daemon's config, database and control socket."""
    port = free_port()
    with hub_line.config_path.open("a") as config:
        config.write(f'\n[web]\nbind = "127.0.0.1"\nport = {port}\n')
    with running_panel(hub_line.config_path, port) as url:
        yield url


def _school_days_before(today: date, count: int) -> list[date]:
    days, day = [], today
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    set_up_page(page)


def test_a_new_school_from_first_run_to_the_dsl(
    browser: Browser, panel: str, hub_line: LineProcess, practice_line: PracticeLineProcess,
    tmp_path: Path,
):  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    export = tmp_path / "contacts.csv"
    export.write_text(EXPORT, encoding="utf-8")
    admin = browser.new_context(ignore_https_errors=True).new_page()

    # First run: the only way in is to create the first admin.
    admin.goto(panel)
    expect(admin.get_by_role("heading", name="Welcome to School Phone Hub")).to_be_visible()
    admin.get_by_label("Your name").fill("Ada Office")
    admin.get_by_label("Email").fill("ada@school.example")
    admin.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    admin.get_by_label("The same password again").fill(PASSWORD)
    admin.get_by_role("button", name="Create administrator").click()

    # Import the MIS export: checked first, then imported.
    admin.get_by_role("link", name="Import").click()
    admin.get_by_label("MIS export (CSV)").set_input_files(export)
    admin.get_by_role("button", name="Check the file").click()
    expect(admin.get_by_role("heading", name="What this file would do")).to_be_visible()
    admin.get_by_role("button", name="Import these families").click()
    expect(admin.get_by_role("heading", name="Imported")).to_be_visible()

    # A campaign with every household in it.
    admin.get_by_role("link", name="Campaigns").click()
    admin.get_by_role("link", name="Start a campaign").click()
    admin.get_by_label("Name").fill("Autumn welfare")
    admin.get_by_label("Talking points staff will see").fill("Ask how the family is getting on.")
    admin.get_by_role("button", name="Create campaign").click()
    admin.get_by_label("Every household").check()
    admin.get_by_role("button", name="Add", exact=True).click()
    expect(admin.get_by_text("Added 1 household.")).to_be_visible()

    # Invite a member of staff, and a DSL.
    links = {}
    for name, email, role in (("Sam Teacher", "sam@school.example", "staff"),
                              ("Dana Safeguarding", "dana@school.example", "dsl")):  # fmt: skip
        admin.get_by_role("link", name="Staff").click()
        invite = admin.locator("form[action$='/staff/invite']")
        invite.get_by_label("Name").fill(name)
        invite.get_by_label("Email").fill(email)
        invite.get_by_label("Role").select_option(role)
        invite.get_by_label("Makes calls").check()
        invite.get_by_role("button", name="Invite").click()
        links[role] = re.search(r"https?://\S+/invite/[\w-]+", admin.content()).group(0)
    admin.get_by_role("button", name="Sign out").click()

    # Two failed calls on earlier school days, as if made this week.
    with open_database(hub_line.database_url) as database, database.session() as session:
        entry = session.scalars(select(CampaignEntry)).one()
        staff = session.scalar(select(StaffUser).where(StaffUser.email == "ada@school.example"))
        for day in _school_days_before(utcnow().date(), 2):
            at = datetime.combine(day, time(10), utcnow().tzinfo)
            session.add(CallAttempt(entry_id=entry.id, household_id=entry.household_id,
                                    staff_id=staff.id, requested_at=at, ended_at=at,
                                    outcome=Outcome.NO_ANSWER))  # fmt: skip

    # The member of staff sets a password and works the desk.
    desk = browser.new_context(ignore_https_errors=True).new_page()
    desk.goto(links["staff"])
    desk.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    desk.get_by_label("The same password again").fill(PASSWORD)
    desk.get_by_role("button", name="Set password and sign in").click()
    desk.get_by_role("link", name="Call desk").click()
    desk.get_by_role("link", name="Autumn welfare").click()
    expect(desk.get_by_role("heading", name=re.compile("Finn O'Brien"))).to_be_visible()
    assert "07700" not in desk.content() and "900123" not in desk.content()
    desk.get_by_role("button", name="Call Mother · mobile ••• 123").click()
    status = desk.get_by_role("status").last
    expect(status).to_have_text(re.compile("Connected"), timeout=20_000)
    desk.screenshot(path=str(ARTIFACTS / "call-desk.png"), full_page=True)
    desk.get_by_role("button", name="Mute", exact=True).click()
    unmute = desk.get_by_role("button", name=re.compile("Unmute"))
    expect(unmute).to_have_attribute("aria-pressed", "true")
    assert hub_line.status()["muted"] is True
    desk.get_by_role("button", name="Hang up").click()
    expect(desk.get_by_text("How did the call go?")).to_be_visible(timeout=15_000)
    [invite] = practice_line.events("invite")
    assert '"Northfield School" <sip:01632960000@' in invite["message"]
    desk.get_by_label("No answer").check()
    desk.get_by_role("button", name="Save and go to the next family").click()
    with open_database(hub_line.database_url) as database, database.session() as session:
        dialled = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.dialled"))
        assert [e.actor for e in dialled] == ["sam@school.example"]

    # The DSL sees the family nobody could reach.
    dsl = browser.new_context(ignore_https_errors=True).new_page()
    dsl.goto(links["dsl"])
    dsl.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    dsl.get_by_label("The same password again").fill(PASSWORD)
    dsl.get_by_role("button", name="Set password and sign in").click()
    dsl.get_by_role("link", name="Safeguarding").click()
    expect(dsl.get_by_text("Zoë O'Brien").first).to_be_visible()
    dsl.screenshot(path=str(ARTIFACTS / "dsl.png"), full_page=True)
