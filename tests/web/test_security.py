"""Accounts and security: first run, sign-in, roles on every route, CSRF, headers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.models import AuditEvent, Role, WebSession, utcnow
from tests.web.conftest import PASSWORD, csrf_token

ROLES = (None, Role.STAFF, Role.ADMIN, Role.DSL)


def test_a_new_hub_sends_everyone_to_create_the_first_admin(client, app):
    assert client.get("/").headers["Location"].endswith("/setup")
    assert client.get("/staff/").headers["Location"].endswith("/setup")
    token = csrf_token(client, "/setup")
    response = client.post("/setup", data={
        "name": "Ada Office", "email": "Ada@School.example", "password": PASSWORD,
        "confirm": PASSWORD, "csrf_token": token,
    })  # fmt: skip
    assert response.status_code == 302
    assert "Ada Office" in client.get("/staff/").get_data(as_text=True)
    # Once there is an account, the first-run page is gone.
    assert client.get("/setup").headers["Location"].endswith("/login")


def test_first_run_refuses_a_short_password_with_one_sentence(client):
    token = csrf_token(client, "/setup")
    response = client.post("/setup", data={
        "name": "Ada", "email": "ada@school.example", "password": "short",
        "confirm": "short", "csrf_token": token,
    })  # fmt: skip
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)


def _every_route(app):
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            args = {name: 1 if name.endswith("id") else "x" for name in rule.arguments}
            url = app.url_for(rule.endpoint, **args)
            routes.append((rule, url, app.view_functions[rule.endpoint]))
    # Signing out ends the session the rest of the matrix runs in: do it last.
    return sorted(routes, key=lambda route: route[0].endpoint == "account.logout")


def test_the_session_key_is_kept_private_in_the_data_folder(app, tmp_path):
    path = tmp_path / "web-secret-key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes() == app.config["SECRET_KEY"]


def test_every_view_declares_who_may_use_it(app):
    for rule, _, view in _every_route(app):
        declared = getattr(view, "allowed_roles", None) or getattr(view, "is_public", False)
        assert declared, f"{rule} says nobody's role; it would be refused to everyone"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_the_role_by_route_matrix(app, accounts, role):
    """Every route, as every role: signed out → sign-in page, wrong role → 403."""
    accounts.add(Role.ADMIN, email="first-admin@school.example")
    client = app.test_client()
    if role is not None:
        assert (
            accounts.login(client, accounts.add(role, email=f"{role.value}-x@school.example"))
            == 302
        )
    for rule, url, view in _every_route(app):
        public = getattr(view, "is_public", False)
        allowed = getattr(view, "allowed_roles", frozenset())
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": csrf_token(client, "/login")} if method == "POST" else None
            status = client.open(url, method=method, data=data).status_code
            if public:
                assert status != 403, (url, method)
            elif role is None:
                assert status == 302, (url, method, status)
            elif role in allowed:
                assert status not in (401, 403), (url, method, status)
            else:
                assert status == 403, (url, method, role, status)


def test_staff_cannot_reach_admin_pages(client, accounts):
    accounts.add(Role.ADMIN)
    accounts.login(client, accounts.add(Role.STAFF))
    for path in ("/staff/", "/audit/"):
        assert client.get(path).status_code == 403


def test_a_post_without_a_csrf_token_is_refused(client, accounts):
    accounts.login(client, accounts.add(Role.ADMIN))
    assert client.post("/logout").status_code == 400
    assert (
        client.post("/staff/invite", data={"name": "X", "email": "x@y.example"}).status_code == 400
    )


def test_the_session_id_changes_at_sign_in_and_sign_out_really_ends_it(app, accounts):
    accounts.add(Role.ADMIN)
    client = app.test_client()
    before = client.get("/login") and client.get_cookie("phonehub_session")
    accounts.login(client, "admin@school.example")
    cookie = client.get_cookie("phonehub_session").value
    assert before is None or before.value != cookie
    assert client.get("/staff/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    # Someone who copied the cookie before sign-out gets the sign-in page.
    replay = app.test_client()
    replay.set_cookie("phonehub_session", cookie)
    response = replay.get("/staff/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_idle_session_ends(app, accounts):
    accounts.add(Role.ADMIN)
    client = app.test_client()
    accounts.login(client, "admin@school.example")
    with app.extensions["phonehub.db"].session() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=2)))
    response = client.get("/staff/")
    assert "/login" in response.headers["Location"]
    assert "signed out after a while" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_ten_failed_sign_ins_lock_the_account_for_a_while(app, accounts):
    email = accounts.add(Role.ADMIN)
    client = app.test_client()
    for _ in range(10):
        assert accounts.login(client, email, "wrong password!!") == 401
    assert accounts.login(client, email) == 429  # even the right password, for now
    other = accounts.add(Role.STAFF)
    assert accounts.login(client, other) == 429  # and from the same address
    with app.extensions["phonehub.db"].session() as session:
        session.execute(update(WebSession).values(ended_at=utcnow()))
    from hub.models import LoginFailure

    with app.extensions["phonehub.db"].session() as session:
        session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=6)))
    assert accounts.login(app.test_client(), email) == 302


def test_every_response_carries_the_security_headers(client, accounts):
    accounts.add(Role.ADMIN)
    accounts.login(client, "admin@school.example")
    for path in ("/login", "/", "/staff/", "/audit/"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"


def test_an_invited_member_of_staff_sets_a_password_once(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    response = admin.post("/staff/invite", data={
        "name": "Sam <script>alert(1)</script>", "email": "sam@school.example", "role": "staff",
        "opted_in": "on", "csrf_token": csrf_token(admin, "/staff/"),
    }, follow_redirects=True)  # fmt: skip
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    link = re.search(r"http://localhost(/invite/[\w-]+)", page).group(1)
    newcomer = app.test_client()
    token = csrf_token(newcomer, link)
    response = newcomer.post(link, data={"password": PASSWORD, "confirm": PASSWORD,
                                         "csrf_token": token})  # fmt: skip
    assert response.status_code == 302
    assert newcomer.get("/").status_code == 200
    assert app.test_client().get(link).status_code == 404  # used once, gone
    with app.extensions["phonehub.db"].session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert {"user.created", "user.invite_accepted", "user.signed_in"} <= set(actions)


def test_the_last_admin_cannot_demote_or_deactivate_themselves(app, accounts):
    client = app.test_client()
    accounts.login(client, accounts.add(Role.ADMIN))
    token = csrf_token(client, "/staff/")
    page = client.post("/staff/1", data={"role": "staff", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "last active admin" in page
    assert client.get("/staff/").status_code == 200
