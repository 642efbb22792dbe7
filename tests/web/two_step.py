"""Getting past two-step sign-in in tests, as someone with the authenticator app would.

Admin and DSL accounts must set it up at their first sign-in ([web] require_two_step);
these finish that step for a Flask test client or a Chromium page, reading the key off
the set-up page as a person would scan it.
"""

from __future__ import annotations

import re

import pyotp
from flask.testing import FlaskClient
from playwright.sync_api import Page

SET_UP = "/login/set-up"
SECRET = re.compile(r'<code id="secret">([A-Z2-7 ]+)</code>')
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def set_up_client(client: FlaskClient) -> int:
    """On the set-up page: add the key to the "app" and type its code; the status."""
    page = client.get(SET_UP).get_data(as_text=True)
    found, token = SECRET.search(page), CSRF.search(page)
    assert found and token, "no key or form on the two-step set-up page"
    secret = found.group(1).replace(" ", "")
    code = pyotp.TOTP(secret).now()
    return client.post(SET_UP, data={"code": code, "csrf_token": token.group(1)}).status_code


def set_up_page(page: Page) -> None:
    """In Chromium, if the sign-in asks for two-step set-up, do it and carry on."""
    page.wait_for_load_state()
    if not page.url.split("?")[0].endswith(SET_UP):
        return
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.get_by_role("link", name="Done").click()
