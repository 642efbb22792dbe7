"""Sharing a campaign out and a concern holding a family back, in headless Chromium.

The panel runs as the school runs it (``phonehub web`` over HTTPS), without the line:
these steps need no phone. Admin shares a campaign evenly across two teachers, and
both get families; one raises a concern, and the family is offered to nobody else
until the DSL marks it handled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import queues, users
from hub.db import open_database
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from tests.line.conftest import free_port
from tests.web.conftest import ARTIFACTS, PASSWORD, running_panel
from tests.web.two_step import set_up_page

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900301\r\n"
    "B1,Kai,Fitzwilliam,3,3A,Farah Fitzwilliam,Mother,07700 900302\r\n"
    "C1,Amara,Okafor,4,4B,Chidi Okafor,Father,07700 900303\r\n"
    "D1,Rhys,Llewellyn,5,5C,Carys Llewellyn,Mother,07700 900304\r\n"
)
PUPILS = re.compile("Zoë O'Brien|Kai Fitzwilliam|Amara Okafor|Rhys Llewellyn")


@dataclass(frozen=True)
class Panel:
    """A running panel and its database."""

    url: str
    database_url: str


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[Panel]:
    """``phonehub web`` on a school with four families, an admin, two teachers and a DSL."""
    port = free_port()
    config = tmp_path / "phonehub.toml"
    config.write_text(f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n'
                      f'[web]\nbind = "127.0.0.1"\nport = {port}\n')  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'phonehub.db'}"
    with open_database(database_url) as database, database.session() as session:
        import_file(session, EXPORT.encode(), actor="test")
        for email, name, role, calls in (
            ("ada@school.example", "Ada Office", Role.ADMIN, False),
            ("sam@school.example", "Sam Teacher", Role.STAFF, True),
            ("kim@school.example", "Kim Teacher", Role.STAFF, True),
            ("dana@school.example", "Dana Safeguarding", Role.DSL, False),
        ):
            users.add(session, email, name, role, PASSWORD, actor="test", opted_in=calls)
        teachers = list(session.scalars(select(StaffUser).where(StaffUser.role == Role.STAFF)))
        welfare = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE,
                           any_opted_in_staff=False, staff=teachers)  # fmt: skip
        session.add(welfare)
        session.flush()
        queues.add_households(session, welfare, actor="test", now=utcnow(), everyone=True)
    with running_panel(config, port) as url:
        yield Panel(url, database_url)


def signed_in(browser: Browser, panel: Panel, email: str) -> Page:
    page = browser.new_context(ignore_https_errors=True).new_page()
    page.goto(panel.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    set_up_page(page)
    return page


def open_card(page: Page, campaign: str) -> None:
    page.get_by_role("link", name="Call desk", exact=True).click()
    page.locator("ul.cards").get_by_role("link", name=campaign).click()


def test_shared_out_evenly_and_a_concern_held_for_the_dsl(browser: Browser, panel: Panel):
    ARTIFACTS.mkdir(exist_ok=True)
    admin = signed_in(browser, panel, "ada@school.example")
    admin.get_by_role("link", name="Campaigns").click()
    admin.get_by_role("link", name="Autumn welfare").click()
    admin.get_by_label(re.compile("Evenly across the 2 staff who make calls")).check()
    admin.get_by_role("button", name="Assign").click()
    expect(admin.get_by_text("Assigned 4 households.")).to_be_visible()
    assigned = admin.locator("#entries-heading ~ table tbody tr td:nth-child(3)")
    expect(assigned).to_have_text(["Kim Teacher", "Sam Teacher"] * 2)

    # Both teachers have families waiting for them, and a card each.
    sam, kim = (signed_in(browser, panel, f"{who}@school.example") for who in ("sam", "kim"))
    for teacher in (sam, kim):
        teacher.get_by_role("link", name="Call desk", exact=True).click()
        expect(teacher.get_by_text("2 waiting for you now")).to_be_visible()
        teacher.get_by_role("link", name="Autumn welfare").click()
        expect(teacher.get_by_role("heading", level=2, name=PUPILS)).to_be_visible()
    family = sam.get_by_role("heading", level=2, name=PUPILS).inner_text()
    kim.screenshot(path=str(ARTIFACTS / "desk-shared-evenly.png"), full_page=True)

    # Sam's call (the line made it; this test has no line) ends in a concern.
    with open_database(panel.database_url) as database, database.session() as session:
        entry = session.scalar(
            select(CampaignEntry).where(CampaignEntry.claimed_by.has(name="Sam Teacher"))
        )
        at = utcnow()
        session.add(CallAttempt(entry_id=entry.id, household_id=entry.household_id,
                                staff_id=entry.claimed_by_id, requested_at=at, answered_at=at,
                                ended_at=at, end_reason=EndReason.COMPLETED))  # fmt: skip
        positive = Campaign(name="Positive calls", purpose=Purpose.POSITIVE)
        positive.entries.append(CampaignEntry(household_id=entry.household_id))
        session.add(positive)
    sam.reload()
    sam.get_by_label("Safeguarding concern (goes to the DSL)").check()
    sam.get_by_label(re.compile("^Notes")).fill("Said there has been no food at home.")
    sam.get_by_role("button", name="Save and go to the next family").click()

    # Kim may work the positive calls, but the family waits for the DSL.
    open_card(kim, "Positive calls")
    expect(kim.get_by_text("Nobody is waiting to be called")).to_be_visible()
    assert family not in kim.content()

    dsl = signed_in(browser, panel, "dana@school.example")
    dsl.get_by_role("link", name="Safeguarding").click()
    dsl.get_by_label(re.compile("What was done")).fill("Spoke to mum; support in place.")
    dsl.get_by_role("button", name="Mark handled").click()
    expect(dsl.get_by_text("Marked handled.")).to_be_visible()
    with open_database(panel.database_url) as database, database.session() as session:
        assert session.scalars(select(Concern.handled_at)).one() is not None

    open_card(kim, "Positive calls")
    expect(kim.get_by_role("heading", level=2, name=family)).to_be_visible()
