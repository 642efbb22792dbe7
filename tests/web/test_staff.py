"""The staff page: who is invited and not yet in, who is active, who is disabled."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hub.models import Invite, Role, StaffUser
from tests.web.conftest import PASSWORD, csrf_token


def state_of(admin, name: str) -> str:
    """The State cell of ``name``'s row on the staff page, as its reader sees it."""
    page = admin.get("/staff/").get_data(as_text=True)
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        if cells and html.unescape(cells[0]).strip() == name:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cells[-1])).split())
    raise AssertionError(f"{name} is not on the staff page")


def invite(admin, name: str, email: str) -> str:
    response = admin.post("/staff/invite", data={
        "name": name, "email": email, "role": "staff", "opted_in": "on",
        "csrf_token": csrf_token(admin, "/staff/"),
    }, follow_redirects=True)  # fmt: skip
    return re.search(r"http://localhost(/invite/[\w-]+)", response.get_data(as_text=True)).group(1)


def test_an_invited_member_of_staff_is_not_listed_as_active_until_they_sign_in(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN, name="Ada Office"))
    link = invite(admin, "Sam Teacher", "sam@school.example")
    # Invited in January: London is on UTC, so the date is the one the admin saw.
    with app.extensions["phonehub.db"].session() as session:
        session.execute(update(Invite).values(created_at=datetime(2025, 1, 13, 9, 30, tzinfo=UTC)))
    assert state_of(admin, "Sam Teacher") == "Invited Mon 13 Jan 2025, not signed in yet"
    assert state_of(admin, "Ada Office") == "Active"

    newcomer = app.test_client()
    newcomer.post(link, data={"password": PASSWORD, "confirm": PASSWORD,
                              "csrf_token": csrf_token(newcomer, link)})  # fmt: skip
    assert state_of(admin, "Sam Teacher") == "Active"

    with app.extensions["phonehub.db"].session() as session:
        sam = session.query(StaffUser).filter_by(email="sam@school.example").one().id
    admin.post(f"/staff/{sam}", data={"action": "deactivate",
                                      "csrf_token": csrf_token(admin, "/staff/")})  # fmt: skip
    assert state_of(admin, "Sam Teacher") == "Deactivated: can no longer sign in"


def test_an_invite_that_ran_out_says_so(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    invite(admin, "Kai Fitzwilliam", "kai@school.example")
    expired = datetime(2025, 1, 20, 9, 30, tzinfo=UTC)
    with app.extensions["phonehub.db"].session() as session:
        session.execute(update(Invite).values(created_at=expired - timedelta(days=7),
                                              expires_at=expired))  # fmt: skip
    assert state_of(admin, "Kai Fitzwilliam") == (
        "Invited Mon 13 Jan 2025, not signed in yet; the link ran out on Mon 20 Jan 2025"
    )


def test_an_account_made_on_the_command_line_is_active_before_its_first_sign_in(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    accounts.add(Role.DSL, name="Dana Safeguarding")
    assert state_of(admin, "Dana Safeguarding") == "Active, not signed in yet"


def test_an_invite_refused_keeps_what_the_admin_typed(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    response = admin.post("/staff/invite", data={
        "name": "Priya Okafor", "email": "priya-at-school", "role": "dsl", "opted_in": "on",
        "csrf_token": csrf_token(admin, "/staff/"),
    })  # fmt: skip
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "'priya-at-school' is not an email address." in page
    assert 'name="name" value="Priya Okafor"' in page
    assert 'name="email" type="email" value="priya-at-school"' in page
    assert '<option value="dsl" selected>' in page
    assert 'name="opted_in" checked' in page
