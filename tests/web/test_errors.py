"""Error pages keep the panel's layout and a way home; the desk's JSON calls get JSON."""

from __future__ import annotations

import html
import re
import subprocess

import pytest
from flask import Flask
from playwright.sync_api import expect

from hub.models import Role
from tests.line.conftest import PHONEHUB, free_port, wait_until
from tests.web.conftest import PASSWORD, answers
from web.security import roles

HOME_LINK = re.compile(r'<a href="/">Go to (the )?home page</a>')


def text(response) -> str:
    """The page as a reader sees its words (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))


def _signed_in(app: Flask, accounts, role: Role):
    if role is not Role.ADMIN:
        accounts.add(Role.ADMIN)
    client = app.test_client()
    accounts.login(client, accounts.add(role, name="Sam Teacher"))
    return client


def test_a_member_of_staff_opening_an_admin_page_sees_why_in_the_panel(app, accounts):
    staff = _signed_in(app, accounts, Role.STAFF)
    response = staff.get("/staff/")
    page = text(response)
    assert response.status_code == 403
    assert "<title>Not for your account · School Phone Hub</title>" in page
    assert "Your account cannot open this page; if you need it, ask the school's admin." in page
    # The navigation and the sign-out button are there, so nobody is stranded.
    assert '<nav aria-label="Main">' in page and "Call desk" in page and "Sign out" in page
    assert "Sam Teacher (staff)" in page
    assert HOME_LINK.search(page)


def test_a_page_that_does_not_exist_is_a_panel_page_with_a_way_home(app, accounts):
    staff = _signed_in(app, accounts, Role.STAFF)
    response = staff.get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<title>Page not found · School Phone Hub</title>" in page
    assert "There is no page at this address; the link may be old or mistyped." in page
    assert '<nav aria-label="Main">' in page and HOME_LINK.search(page)
    # Signed out, the same page, without the navigation for signed-in staff.
    page = app.test_client().get("/no-such-page").get_data(as_text=True)
    assert "There is no page at this address" in page and '<nav aria-label="Main">' not in page


@pytest.mark.parametrize(("role", "path", "what"), [
    (Role.ADMIN, "/people/999", "household"),
    (Role.DSL, "/dsl/concerns/999", "concern"),
])  # fmt: skip
def test_a_record_that_is_not_there_is_a_panel_page_with_a_way_home(app, accounts, role, path,
                                                                     what):  # fmt: skip
    response = _signed_in(app, accounts, role).get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f"There is no such {what}; the link may be old." in page
    assert '<nav aria-label="Main">' in page and HOME_LINK.search(page)


def test_a_form_sent_without_its_csrf_token_says_nothing_was_saved(app, accounts):
    admin = _signed_in(app, accounts, Role.ADMIN)
    response = admin.post("/staff/invite", data={"name": "Kai", "email": "kai@school.example"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This form had been open too long, so nothing was saved" in page
    assert '<nav aria-label="Main">' in page and HOME_LINK.search(page)


def test_a_page_opened_the_wrong_way_is_a_panel_page(app, accounts):
    staff = _signed_in(app, accounts, Role.STAFF)
    response = staff.get("/logout")
    assert response.status_code == 405
    assert "This address is for the panel's buttons" in text(response)


def test_the_desks_json_calls_get_json_errors(app, accounts):
    staff = _signed_in(app, accounts, Role.STAFF)
    # desk.js sends JSON and reads JSON back, whatever went wrong.
    refused = staff.post("/desk/hangup", json={})
    assert refused.status_code == 400 and refused.is_json
    assert refused.get_json() == {
        "error": "This page had been open too long, so nothing was done; reload it and try again."
    }
    missing = staff.get("/desk/nowhere", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.is_json
    assert "no page at this address" in missing.get_json()["error"]
    forbidden = staff.get("/staff/", headers={"Accept": "application/json"})
    assert forbidden.status_code == 403 and forbidden.is_json
    signed_out = app.test_client().post("/desk/hangup", json={})
    assert signed_out.status_code in (400, 401) and signed_out.is_json


def test_an_unexpected_failure_is_a_panel_page_not_a_stack_trace(app, accounts):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @roles(Role.STAFF)
    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", view_func=broken)  # before the app's first request
    staff = _signed_in(app, accounts, Role.STAFF)
    response = staff.get("/broken")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on the hub, so this was not done" in page
    assert "RuntimeError" not in page and "a bug" not in page
    assert '<nav aria-label="Main">' in page and HOME_LINK.search(page)


def test_every_page_links_a_favicon_that_is_there(app, accounts, client):
    page = client.get("/setup").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert icon, "base.html links no favicon"
    with client.get(icon.group(1)) as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert response.get_data(as_text=True).lstrip().startswith("<svg")
    # Browsers and tools that ask for the old address are sent to the same icon.
    old = client.get("/favicon.ico")
    assert old.status_code in (301, 302, 308) and old.headers["Location"] == icon.group(1)
    accounts.login(client, accounts.add(Role.ADMIN))
    assert icon.group(0) in client.get("/staff/").get_data(as_text=True)


def test_no_page_asks_the_browser_for_something_missing(browser, tmp_path):
    """In Chromium over HTTPS: every page's icon, stylesheet and script load; no console error."""
    port = free_port()
    config = tmp_path / "phonehub.toml"
    config.write_text(f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n[web]\nport = {port}\n')
    panel = subprocess.Popen([*PHONEHUB, "--config", str(config), "web"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url, certificate = f"https://127.0.0.1:{port}", tmp_path / "tls" / "panel.pem"
    try:
        wait_until(lambda: certificate.exists() and answers(url, certificate), timeout=20,
                   what="the panel")  # fmt: skip
        page = browser.new_context(ignore_https_errors=True).new_page()
        failed: list[str] = []
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: m.type == "error" and failed.append(m.text))
        page.goto(url + "/setup")
        page.get_by_label("Your name").fill("Ada Office")
        page.get_by_label("Email").fill("ada@school.example")
        page.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
        page.get_by_label("The same password again").fill(PASSWORD)
        page.get_by_role("button", name="Create administrator").click()
        for path in ("/", "/staff/", "/audit/", "/people/", "/campaigns/", "/desk/"):
            page.goto(url + path)
            expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        assert failed == []
        # The one page that is meant to be missing is a panel page with a way home.
        page.goto(url + "/no-such-page")
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        page.get_by_role("link", name="Go to the home page").click()
        expect(page.get_by_role("heading", name="Hello, Ada Office")).to_be_visible()
        assert [entry for entry in failed if "/no-such-page" not in entry] == [
            "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
        ]
    finally:
        panel.terminate()
        panel.wait(10)
