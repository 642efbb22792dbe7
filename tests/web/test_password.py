"""Passwords: changing one's own (other sessions end) and an admin resetting another's."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from hub import users
from hub.models import AuditEvent, Role
from tests.web.conftest import PASSWORD, csrf_token

NEW = "a much longer new password"


def signed_in(app, accounts, email: str):
    client = app.test_client()
    assert accounts.login(client, email) == 302
    return client


def change(client, current: str, new: str, confirm: str | None = None):
    return client.post("/account/password", data={
        "current": current, "new": new, "confirm": new if confirm is None else confirm,
        "csrf_token": csrf_token(client, "/account/password")})  # fmt: skip


def account_id(app, email: str) -> int:
    with app.extensions["phonehub.db"].session() as session:
        return users.find(session, email).id


def reset(admin, staff_id: int):
    """Press Reset password for account ``staff_id`` on the Staff page."""
    token = csrf_token(admin, "/staff/")
    return admin.post(f"/staff/{staff_id}", data={"action": "reset", "csrf_token": token})


def audit_lines(app, action: str) -> list[AuditEvent]:
    with app.extensions["phonehub.db"].session() as session:
        lines = session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        session.expunge_all()
        return list(lines)


def test_a_changed_password_signs_out_every_other_session(app, accounts):
    email = accounts.add(Role.STAFF)
    here, elsewhere = signed_in(app, accounts, email), signed_in(app, accounts, email)
    done = change(here, PASSWORD, NEW)
    assert done.status_code == 302
    told = html.unescape(here.get(done.headers["Location"]).get_data(as_text=True))
    assert "Your password is changed. You are signed out of 1 other session(s)." in told
    assert here.get("/").status_code == 200  # still signed in here
    assert elsewhere.get("/").headers["Location"].startswith("/login")
    assert accounts.login(app.test_client(), email) != 302  # the old password is gone
    assert accounts.login(app.test_client(), email, NEW) == 302
    [line] = audit_lines(app, "user.password_changed")
    assert line.detail == {"sessions_ended": 1}


def test_a_password_change_that_cannot_be_made_says_why_and_changes_nothing(app, accounts):
    email = accounts.add(Role.STAFF)
    client = signed_in(app, accounts, email)
    for current, new, confirm, said in (
        ("not my password at all", NEW, NEW, "Your current password is not right."),
        (PASSWORD, NEW, NEW + "!", "The two new passwords differ."),
        (PASSWORD, "short", "short", "The password must be at least 12 characters long."),
    ):
        refused = change(client, current, new, confirm)
        assert refused.status_code == 400
        assert said in html.unescape(refused.get_data(as_text=True))
    assert accounts.login(app.test_client(), email) == 302
    assert audit_lines(app, "user.password_changed") == []


def test_an_admin_resets_a_password_and_a_one_time_link_sets_a_new_one(app, accounts):
    admin = signed_in(app, accounts, accounts.add(Role.ADMIN))
    email = accounts.add(Role.STAFF, name="Sam Teacher")
    teacher = signed_in(app, accounts, email)
    staff_id = account_id(app, email)
    done = reset(admin, staff_id)
    told = html.unescape(admin.get(done.headers["Location"]).get_data(as_text=True))
    assert "Sam Teacher's password is reset and they are signed out everywhere." in told
    link = re.search(r"https?://[^/]+(/invite/[\w-]+)", told).group(1)
    assert teacher.get("/").headers["Location"].startswith("/login")
    assert accounts.login(app.test_client(), email) != 302  # the old password is gone

    newcomer = app.test_client()
    token = csrf_token(newcomer, link)
    set_it = newcomer.post(link, data={"password": NEW, "confirm": NEW, "csrf_token": token})
    assert set_it.status_code == 302 and newcomer.get("/").status_code == 200
    assert accounts.login(app.test_client(), email, NEW) == 302
    [line] = audit_lines(app, "user.password_reset")
    assert (line.actor, line.target_id, line.detail) == (
        "admin@school.example", staff_id, {"sessions_ended": 1})  # fmt: skip


def test_an_admin_cannot_reset_their_own_password_from_the_staff_page(app, accounts):
    admin = signed_in(app, accounts, accounts.add(Role.ADMIN))
    page = admin.get("/staff/").get_data(as_text=True)
    assert "Reset password" not in page  # only other accounts have the button
    done = reset(admin, account_id(app, "admin@school.example"))
    told = html.unescape(admin.get(done.headers["Location"]).get_data(as_text=True))
    assert "Change your own password from your account page, not by resetting it." in told
    assert admin.get("/").status_code == 200
