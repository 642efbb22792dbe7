"""A new school's first morning, in headless Chromium, with real calls.

The office imports the MIS export, starts a campaign and shares it out evenly; three
teachers each ring their family through the real line daemon and Kamailio (each
family's phone a practice line answering its own number); one raises a concern; the
DSL's day starts from it and ends with it handled; the office sees the morning's
figures. Everything a member of staff would notice is asserted on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import users
from hub.db import open_database
from hub.models import AuditEvent, Concern, Role
from tests.kamailio import Kamailio
from tests.line.conftest import LineProcess, PracticeLineProcess
from tests.web.conftest import ARTIFACTS
from tests.web.test_browser_flow import PASSWORD, panel, sign_in  # noqa: F401 (a fixture)

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900123\r\n"
    "B1,Kai,Fitzwilliam,5,5C,Farah Fitzwilliam,Mother,07700 900124\r\n"
    "C1,Lena,Nowak,8,8N,Tomasz Nowak,Father,07700 900125\r\n"
)
FAMILIES = ("07700900123", "07700900124", "07700900125")
TEACHERS = {"sam@school.example": "Sam Teacher", "kim@school.example": "Kim Teacher",
            "lee@school.example": "Lee Teacher"}  # fmt: skip
ADMIN, DSL = "ada@school.example", "dana@school.example"
PUPIL = re.compile("Zoë O'Brien|Kai Fitzwilliam|Lena Nowak")


@pytest.fixture
def phones(tmp_path: Path, kamailio: Kamailio) -> Iterator[list[PracticeLineProcess]]:
    """Each family's phone: a practice line registered as its mobile, answering after 1 s."""
    made = [PracticeLineProcess(tmp_path / f"family-{n}", kamailio, n, "--ring", "1")
            for n in FAMILIES]  # fmt: skip
    yield made
    for phone in made:
        phone.stop()


@pytest.fixture
def hub_line(make_line, kamailio: Kamailio, phones) -> LineProcess:
    """The line daemon with the school's people in it: an office, a DSL, three teachers."""
    line = make_line(kamailio)
    line.start()
    with open_database(line.database_url) as database, database.session() as session:
        users.add(session, ADMIN, "Ada Office", Role.ADMIN, PASSWORD, actor="test",
                  opted_in=False)  # fmt: skip
        users.add(session, DSL, "Dana Safeguarding", Role.DSL, PASSWORD, actor="test",
                  opted_in=False)  # fmt: skip
        for email, name in TEACHERS.items():
            users.add(session, email, name, Role.STAFF, PASSWORD, actor="test", opted_in=True)
    return line


def call_and_record(page: Page, outcome: str, note: str = "") -> str:
    """Ring the family on the card, hang up once connected, save ``outcome``; the pupil."""
    pupil = page.get_by_role("heading", level=2, name=PUPIL).inner_text()
    assert "07700" not in page.content()
    page.locator("button.call").first.click()
    state = page.locator(".call-panel .state")
    expect(state).to_have_text(re.compile("Connected"), timeout=20_000)
    page.get_by_role("button", name="Hang up").click()
    expect(state).to_have_text(re.compile("Ended"), timeout=15_000)
    page.get_by_label(outcome).check()
    if note:
        page.get_by_label(re.compile("^Notes")).fill(note)
    page.get_by_role("button", name="Save and go to the next family").click()
    return pupil


def test_a_schools_first_morning(browser: Browser, panel: str, hub_line: LineProcess,  # noqa: F811
                                 phones: list[PracticeLineProcess], tmp_path: Path):  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    export = tmp_path / "contacts.csv"
    export.write_text(EXPORT, encoding="utf-8")

    # The office: import, a campaign with every family, shared out evenly.
    admin = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(admin, panel, ADMIN)
    expect(admin.get_by_role("heading", name="Today across the school")).to_be_visible()
    admin.get_by_role("link", name="Import").click()
    admin.get_by_label("MIS export (CSV)").set_input_files(export)
    admin.get_by_role("button", name="Check the file").click()
    admin.get_by_role("button", name="Import these families").click()
    expect(admin.get_by_role("heading", name="Imported")).to_be_visible()
    admin.get_by_role("link", name="Campaigns").click()
    admin.get_by_role("link", name="Start a campaign").click()
    admin.get_by_label("Name").fill("Autumn welfare")
    admin.get_by_label("Talking points staff will see").fill("Ask how the family is getting on.")
    admin.get_by_role("button", name="Create campaign").click()
    admin.get_by_label("Every household").check()
    admin.get_by_role("button", name="Add", exact=True).click()
    expect(admin.get_by_text("Added 3 households.")).to_be_visible()
    # The office makes no calls, so the three teachers share the families.
    admin.get_by_label(re.compile("Evenly across the 3 staff who make calls")).check()
    admin.get_by_role("button", name="Assign").click()
    expect(admin.get_by_text("Assigned 3 households.")).to_be_visible()
    assigned = admin.locator("#entries-heading ~ table tbody tr td:nth-child(3)")
    expect(assigned).to_have_text(sorted(TEACHERS.values()), timeout=5_000)

    # Three teachers, one family each, one after another on the hub's line.
    heating = "Parent says the heating has been off for a week."
    outcomes = {"sam@school.example": ("Spoke to parent or carer", ""),
                "kim@school.example": ("No answer", ""),
                "lee@school.example": ("Safeguarding concern (goes to the DSL)",
                                       heating)}  # fmt: skip
    called = {}
    for email, (outcome, note) in outcomes.items():
        desk = browser.new_context(ignore_https_errors=True).new_page()
        sign_in(desk, panel, email)
        desk.get_by_role("link", name="Call desk", exact=True).click()
        expect(desk.get_by_text("1 waiting for you now")).to_be_visible()
        desk.get_by_role("link", name="Autumn welfare").click()
        called[email] = call_and_record(desk, outcome, note)
        # One line saying what was saved; their one family done, nobody else's offered.
        expect(desk.get_by_text(re.compile(r"^Saved for the .+ family: "))).to_be_visible()
        expect(desk.get_by_text(re.compile("Nobody is waiting"))).to_be_visible()
        if email == "lee@school.example":
            expect(desk.get_by_text(re.compile("on the DSL's list now"))).to_be_visible()
            desk.screenshot(path=str(ARTIFACTS / "first-morning-after-concern.png"), full_page=True)
        desk.context.close()
    assert len(set(called.values())) == 3, called
    assert [len(phone.events("invite")) for phone in phones] == [1, 1, 1]
    for phone in phones:
        [invite] = phone.events("invite")
        assert re.search(r"<sip:01632960000@", invite["message"]), "the school's number"

    # The DSL's day starts from the concern, oldest first, and ends with it handled.
    dsl = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(dsl, panel, DSL)
    waiting = dsl.get_by_role("table").filter(has_text="Waiting")
    expect(
        waiting.get_by_role("link", name=re.compile(called["lee@school.example"]))
    ).to_be_visible()
    dsl.get_by_role("link", name=re.compile("concerns raised on calls")).click()
    expect(dsl.get_by_text(heating).first).to_be_visible()
    dsl.get_by_label(re.compile("^What was done")).first.fill("Rang the family back; "
                                                              "heating repaired.")  # fmt: skip
    dsl.get_by_role("button", name=re.compile("^Mark handled")).first.click()
    expect(dsl.get_by_text("No concern is waiting.")).to_be_visible()
    dsl.screenshot(path=str(ARTIFACTS / "first-morning-dsl.png"), full_page=True)

    # The office sees the morning in figures.
    admin.get_by_role("link", name="School Phone Hub").click()
    for figure, words in ((3, "calls made to families"), (1, "reached a parent"),
                          (1, "no answer or voicemail"), (1, "concerns raised")):  # fmt: skip
        expect(admin.get_by_role("link", name=re.compile(rf"^{figure}\s+{words}"))).to_be_visible()
    admin.screenshot(path=str(ARTIFACTS / "first-morning-office.png"), full_page=True)

    with open_database(hub_line.database_url) as database, database.session() as session:
        [concern] = session.scalars(select(Concern))
        assert concern.handled_at is not None
        dialled = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.dialled"))
        assert sorted(e.actor for e in dialled) == sorted(TEACHERS)
