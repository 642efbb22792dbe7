"""Two-step sign-in set up and used in headless Chromium, as a member of staff does it."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import Browser, expect

from tests.web.conftest import PASSWORD
from tests.web.test_browser_sharing import Panel, panel, signed_in

__all__ = ["panel"]  # the fixture, shared with the sharing test


def test_a_teacher_turns_on_two_step_sign_in_and_signs_in_with_a_code(
    browser: Browser, panel: Panel
):
    sam = signed_in(browser, panel, "sam@school.example")
    sam.get_by_role("link", name="Two-step sign-in").click()
    expect(sam.locator("figure svg")).to_be_visible()  # the QR code to scan
    secret = sam.locator("#secret").inner_text().replace(" ", "")
    sam.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    sam.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(sam.get_by_text("Two-step sign-in is on.")).to_be_visible()
    expect(sam.locator("ul.codes li")).to_have_count(10)
    sam.get_by_role("button", name="Sign out").click()

    sam.get_by_label("Email").fill("sam@school.example")
    sam.get_by_label("Password").fill(PASSWORD)
    sam.get_by_role("button", name="Sign in").click()
    expect(sam.get_by_role("heading", name="Your code")).to_be_visible()
    sam.get_by_label("Code").fill("123456")
    sam.get_by_role("button", name="Sign in").click()
    expect(sam.get_by_text(re.compile("That code is not right"))).to_be_visible()
    sam.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    sam.get_by_role("button", name="Sign in").click()
    expect(sam.get_by_role("button", name="Sign out")).to_be_visible()
