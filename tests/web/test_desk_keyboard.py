"""The whole call desk with the keyboard alone, in headless Chromium, with a real call up.

Sign in, open the campaign, a practice call, a call to the family, its outcome, a note
and a call-back time, saved: only keys are pressed. The line daemon, Kamailio and the
practice line are real (the practice line answers as the family), as is the panel
behind HTTPS. axe-core checks the card mid-call and while it asks for the outcome; a
screenshot of the desk mid-call is kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Browser, Locator, Page, expect

from hub.models import utcnow
from hub.queues import SCHOOL_ZONE
from tests.line.conftest import LineProcess
from tests.web.test_accessibility import SCREENSHOTS, axe_violations, new_page
from tests.web.test_browser_flow import PASSWORD, panel  # noqa: F401 (a fixture)
from tests.web.test_desk_live import STAFF, hub_line  # noqa: F401 (a fixture)
from tests.web.test_desk_live import control as call_button


def tab_to(page: Page, target: Locator, *, presses: int = 40) -> None:
    """Press Tab until ``target`` has the focus, as someone without a mouse would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_the_whole_desk_with_the_keyboard_alone(
    browser: Browser,
    panel: str,  # noqa: F811 (the fixture imported above)
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = new_page(browser)
    assert page.evaluate("navigator.language") == "en-GB"
    page.goto(panel + "/login")
    page.keyboard.type(STAFF)  # the Email box has the focus when the page opens
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    tab_to(page, page.get_by_role("link", name="Call desk", exact=True))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("link", name="Autumn welfare"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Zoë O'Brien")).to_be_visible()

    # A practice call: focus goes to its controls, and back to the practice button after.
    practice = page.get_by_role("button", name=re.compile("Practice call"))
    tab_to(page, practice)
    page.keyboard.press("Space")
    expect(call_button(page, "Hang up")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(re.compile("Ended"), timeout=15_000)
    expect(practice).to_be_focused()

    # The family: focus stays on the call's controls, then moves to the outcome.
    tab_to(page, page.get_by_role("button", name="Call Mother · mobile ••• 123"))
    page.keyboard.press("Enter")
    expect(call_button(page, "Hang up")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    expect(call_button(page, "Hang up")).to_be_focused()  # not lost when the state changed
    page.screenshot(path=str(SCREENSHOTS / "desk-mid-call.png"), full_page=True)
    assert axe_violations(page) == []
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(re.compile("Ended"), timeout=15_000)
    expect(page.get_by_label("Spoke to parent or carer")).to_be_focused()
    assert axe_violations(page) == []

    page.keyboard.press("ArrowDown")  # Spoke to the pupil
    page.keyboard.press("ArrowDown")  # No answer
    expect(page.get_by_label("No answer")).to_be_checked()
    tab_to(page, page.get_by_label(re.compile("^Notes")))
    page.keyboard.type("Rang twice; no answer.")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Call back at (optional)")).to_be_focused()
    tomorrow = (utcnow().astimezone(SCHOOL_ZONE) + timedelta(days=1)).date()
    page.keyboard.type(f"{tomorrow:%d%m%Y}")  # day, month, year: the UK order
    page.keyboard.press("Tab")  # from the date to the time
    page.keyboard.type("1630")
    said = f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b}"
    expect(page.get_by_text(f"Chosen: {said} {tomorrow.year} at 16:30")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Save and go to the next family"))
    page.keyboard.press("Enter")
    expect(
        page.get_by_text(
            f"Saved for the O'Brien family: no answer; they will be called back on {said} at 16:30."
        )
    ).to_be_visible()
