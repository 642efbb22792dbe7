"""Two-step sign-in: an authenticator app's code after the password, and recovery codes."""

from __future__ import annotations

import html
import re
import time

import pyotp
from sqlalchemy import func, select

from hub import users
from hub.models import AuditEvent, LoginFailure, Role
from tests.web import two_step
from tests.web.conftest import PASSWORD, csrf_token


def signed_in(app, accounts, email: str):
    client = app.test_client()
    assert accounts.login(client, email) == 302
    return client


def set_up(client) -> tuple[str, list[str]]:
    """Turn two-step sign-in on as a person would: scan (read) the key, type the code."""
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "<svg" in page  # the QR code to scan
    secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    token = csrf_token(client, "/")
    done = client.post(
        "/account/two-step", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    codes = re.findall(
        r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True)
    )
    return secret, codes


def password_step(app, email: str, password: str = PASSWORD):
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})  # fmt: skip
    return client, response


def code_step(client, code: str):
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def audited(app, action: str) -> int:
    with app.extensions["phonehub.db"].session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action))  # fmt: skip


def test_with_two_step_on_the_password_alone_does_not_sign_in(app, accounts):
    email = accounts.add(Role.STAFF)
    secret, codes = set_up(signed_in(app, accounts, email))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert audited(app, "user.second_factor_enabled") == 1

    client, response = password_step(app, email)
    assert response.headers["Location"] == "/login/code"
    assert client.get("/").headers["Location"].startswith("/login")  # not signed in yet
    wrong = code_step(client, "000000")
    assert wrong.status_code == 401
    assert "That code is not right" in html.unescape(wrong.get_data(as_text=True))
    # The app's next code: the one typed to set it up has been used.
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert code_step(client, code).status_code == 302
    assert client.get("/").status_code == 200

    # The same code again (overheard, or replayed) signs nobody in.
    again, _ = password_step(app, email)
    assert code_step(again, code).status_code == 401
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 2


def test_a_recovery_code_signs_in_once(app, accounts):
    email = accounts.add(Role.STAFF)
    _, codes = set_up(signed_in(app, accounts, email))
    client, _ = password_step(app, email)
    assert code_step(client, codes[3].upper()).status_code == 302
    assert audited(app, "user.recovery_code_used") == 1
    again, _ = password_step(app, email)
    assert code_step(again, codes[3]).status_code == 401


def test_turning_it_off_needs_the_password(app, accounts):
    email = accounts.add(Role.STAFF)
    client = signed_in(app, accounts, email)
    set_up(client)
    token = csrf_token(client, "/account/two-step")
    refused = client.post("/account/two-step", data={"password": "wrong", "csrf_token": token})
    assert refused.status_code == 400
    done = client.post("/account/two-step", data={"password": PASSWORD, "csrf_token": token})
    assert done.status_code == 302
    assert password_step(app, email)[1].headers["Location"] == "/"


def test_an_admin_reset_turns_off_a_lost_phones_second_factor(app, accounts):
    email = accounts.add(Role.STAFF, name="Sam Teacher")
    set_up(signed_in(app, accounts, email))
    admin = signed_in(app, accounts, accounts.add(Role.ADMIN))
    with app.extensions["phonehub.db"].session() as session:
        staff_id = users.find(session, email).id
    token = csrf_token(admin, "/staff/")
    admin.post(f"/staff/{staff_id}", data={"action": "reset", "csrf_token": token})
    with app.extensions["phonehub.db"].session() as session:
        sam = users.find(session, email)
        assert (sam.totp_secret, sam.totp_enabled_at) == (None, None)
    assert audited(app, "user.second_factor_removed") == 1
    assert audited(app, "user.password_reset") == 1


def test_a_wrong_set_up_code_leaves_it_off(app, accounts):
    email = accounts.add(Role.STAFF)
    client = signed_in(app, accounts, email)
    client.get("/account/two-step")
    token = csrf_token(client, "/")
    refused = client.post("/account/two-step", data={"code": "000000", "csrf_token": token})
    assert refused.status_code == 400
    assert "That code is not right: check the app's clock" in html.unescape(
        refused.get_data(as_text=True))  # fmt: skip
    assert password_step(app, email)[1].headers["Location"] == "/"


def test_an_admin_or_the_dsl_sets_it_up_before_signing_in_at_all(app, accounts):
    for role in (Role.ADMIN, Role.DSL):
        email = accounts.add(role)
        client, response = password_step(app, email)
        assert response.headers["Location"] == "/login/set-up"
        assert client.get("/").headers["Location"].startswith("/login")  # not signed in yet
        page = client.get("/login/set-up").get_data(as_text=True)
        assert "your account needs two-step sign-in" in page
        assert two_step.set_up_client(client) == 200
        assert client.get("/").status_code == 200
        # From now on the password alone is not enough.
        assert password_step(app, email)[1].headers["Location"] == "/login/code"
