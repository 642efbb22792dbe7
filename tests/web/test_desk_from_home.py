"""Working from home: the desk in headless Chromium places a call through the teacher's own phone.

The line daemon, Kamailio, and two practice lines (the teacher's mobile and the
family's) are real, as is the panel behind HTTPS.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import own_phone
from hub.db import open_database
from hub.models import StaffUser, utcnow
from tests.kamailio import Kamailio
from tests.line.conftest import LineProcess, PracticeLineProcess, wait_until
from tests.web.test_browser_flow import PASSWORD, panel, sign_in  # noqa: F401 (a fixture)
from tests.web.test_desk_live import STAFF, control, desk, desk_line  # noqa: F401 (a fixture)

TEACHERS_MOBILE = "07700900555"
INTERPRETER_NUMBER = "08081570123"  # Ofcom's freephone drama range


@pytest.fixture
def hub_line(make_line, kamailio, practice_line: PracticeLineProcess) -> LineProcess:
    """The desk's line daemon, with the school's interpreting service set up."""
    return desk_line(make_line, kamailio, interpreter_number=INTERPRETER_NUMBER,
                     ring_timeout_s=6)  # fmt: skip


def _confirm_phone(line: LineProcess) -> None:
    with open_database(line.database_url) as database, database.session() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.email == STAFF))
        own_phone.set_number(session, staff, TEACHERS_MOBILE)
        staff.own_phone_verified_at = utcnow()


def test_a_teacher_without_their_own_phone_is_shown_how_to_add_it(desk: Page):  # noqa: F811
    expect(desk.get_by_role("link", name="Add your own phone")).to_be_visible()
    expect(desk.get_by_label(re.compile("Call from my phone"))).to_have_count(0)


def test_a_teacher_at_home_calls_a_family_from_their_own_phone(
    browser: Browser,
    panel: str,  # noqa: F811
    hub_line: LineProcess,
    practice_line: PracticeLineProcess,
    kamailio: Kamailio,
    tmp_path: Path,
):
    mobile = PracticeLineProcess(tmp_path / "mobile", kamailio, TEACHERS_MOBILE, "--ring", "1",
                                 "--press", "1")  # fmt: skip
    service = PracticeLineProcess(tmp_path / "interpreter", kamailio, INTERPRETER_NUMBER,
                                  "--ring", "0.5")  # fmt: skip
    _confirm_phone(hub_line)
    page = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(page, panel, STAFF)
    page.get_by_role("link", name="Call desk").click()
    page.get_by_role("link", name="Autumn welfare").click()
    choice = page.get_by_label(re.compile(r"Call from my phone \(mobile ••• 555\)"))
    expect(choice).to_be_checked()

    page.get_by_role("button", name="Call Mother · mobile ••• 123").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile("Ringing your phone|Your phone answered: press 1"), timeout=10_000
    )
    expect(page.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=30_000)
    [to_teacher] = mobile.events("invite")
    [to_family] = practice_line.events("invite")
    assert TEACHERS_MOBILE not in to_family["message"]
    assert "900123" not in to_teacher["message"]
    [shown] = hub_line.status()["calls"]
    assert (shown["via"], shown["your_phone"]) == ("own_phone", "answered")

    # The controls work on this call, though it is not on the hub's handset.
    control(page, "Mute").click()
    expect(page.get_by_role("button", name=re.compile("Unmute"))).to_have_attribute(
        "aria-pressed", "true"
    )
    assert hub_line.status()["calls"][0]["muted"] is True
    page.get_by_text("Keypad").click()
    page.get_by_role("button", name="5", exact=True).click()
    expect(page.get_by_text("Sent: 5")).to_be_visible()
    wait_until(lambda: practice_line.events("dtmf"), what="the family's phone to hear the key")
    assert practice_line.events("dtmf")[0]["key"] == "5"

    # The interpreting service joins; the keypad's keys go to it (its PIN), then it leaves.
    control(page, "Add interpreter").click()
    expect(page.get_by_text("Interpreter: on the call")).to_be_visible(timeout=15_000)
    expect(page.get_by_label(re.compile("The interpreting service"))).to_be_checked()
    page.get_by_role("button", name="7", exact=True).click()
    wait_until(lambda: service.events("dtmf"), what="the interpreting service to hear the key")
    assert service.events("dtmf")[0]["key"] == "7"
    assert [e["key"] for e in practice_line.events("dtmf")] == ["5"]

    page.reload()  # a reload finds the call where it is, interpreter and all
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Connected \d+:\d\d"))
    control(page, "Drop interpreter").click()
    expect(page.get_by_text("Interpreter: left the call")).to_be_visible(timeout=15_000)
    wait_until(lambda: service.events("ended"), what="the interpreter's leg to end")
    expect(control(page, "Add interpreter")).to_be_visible()
    control(page, "Hang up").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("Ended: call ended"),
                                                    timeout=15_000)  # fmt: skip
    expect(page.get_by_label("Spoke to parent or carer")).to_be_focused()
    wait_until(lambda: mobile.events("ended"), what="the teacher's phone to be hung up")
    assert hub_line.status()["calls"] == []


def test_when_the_teachers_phone_does_not_answer_the_family_is_not_rung_and_they_can_retry(
    browser: Browser,
    panel: str,  # noqa: F811
    hub_line: LineProcess,
    practice_line: PracticeLineProcess,
    kamailio: Kamailio,
    tmp_path: Path,
):
    PracticeLineProcess(tmp_path / "mobile", kamailio, TEACHERS_MOBILE, "--no-answer")
    _confirm_phone(hub_line)
    page = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(page, panel, STAFF)
    page.get_by_role("link", name="Call desk").click()
    page.get_by_role("link", name="Autumn welfare").click()
    call = page.get_by_role("button", name="Call Mother · mobile ••• 123")
    call.click()
    expect(page.get_by_role("status")).to_have_text("Ringing your phone…", timeout=10_000)
    expect(page.get_by_role("status")).to_have_text(
        "Ended: your phone was busy or did not answer, so the family was not rung",
        timeout=20_000,
    )
    # Nothing to record: the family is still on the card, to call again.
    expect(page.locator("form.outcome")).to_be_hidden()
    expect(call).to_be_enabled()
    expect(call).to_be_focused()
    assert practice_line.events("invite") == []
    page.reload()
    expect(page.get_by_role("heading", name="Zoë O'Brien")).to_be_visible()
    expect(page.locator("form.outcome")).to_be_hidden()
