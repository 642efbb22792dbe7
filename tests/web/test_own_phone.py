"""My phone, in the panel: given, confirmed with the hub's code, seen masked, removed."""

from __future__ import annotations

import html

from sqlalchemy import select

from hub import own_phone
from hub.models import AuditEvent, Role, StaffUser, utcnow
from tests.web.conftest import csrf_token


def _post(client, path: str, **data: str):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/account/phone/")})


def test_a_teacher_gives_confirms_and_removes_their_own_phone(app, accounts):
    kim = app.test_client()
    accounts.login(kim, accounts.add(Role.STAFF, "kim@school.example", name="Kim Teacher"))
    page = kim.get("/account/phone/").get_data(as_text=True)
    assert "Give your phone's number" in page

    refused = _post(kim, "/account/phone/", number="0909 879 0000")
    assert refused.status_code == 400
    text = html.unescape(refused.get_data(as_text=True))
    assert "which the hub never dials; give a mobile or a landline." in text
    assert 'value="0909 879 0000"' in text  # what was typed is kept

    assert _post(kim, "/account/phone/", number="07700 900555").status_code == 302
    page = html.unescape(kim.get("/account/phone/").get_data(as_text=True))
    assert "mobile ••• 555: not confirmed yet." in page
    assert "900555" not in page and "07700" not in page

    # The line is not running here: the panel says so and nothing is confirmed.
    failed = _post(kim, "/account/phone/call")
    assert failed.status_code == 409
    assert "The line daemon is not running" in html.unescape(failed.get_data(as_text=True))

    with app.extensions["phonehub.db"].session() as session:  # as the line does, ringing it
        staff = session.scalar(select(StaffUser).where(StaffUser.email == "kim@school.example"))
        code = own_phone.new_code(staff, utcnow())
    wrong = "000000" if code != "000000" else "111111"
    response = _post(kim, "/account/phone/confirm", code=wrong)
    assert response.status_code == 400
    assert "That code is not the one the hub said; try again." in html.unescape(
        response.get_data(as_text=True)
    )
    assert _post(kim, "/account/phone/confirm", code=code).status_code == 302
    page = html.unescape(kim.get("/account/phone/").get_data(as_text=True))
    assert "mobile ••• 555: <strong>confirmed</strong>, ready to use" in page, page

    assert _post(kim, "/account/phone/remove").status_code == 302
    page = html.unescape(kim.get("/account/phone/").get_data(as_text=True))
    assert "Your phone's number is removed from the hub." in page
    with app.extensions["phonehub.db"].session() as session:
        actions = list(session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("own_phone.%"))
            .order_by(AuditEvent.id)
        ))  # fmt: skip
    assert actions == ["own_phone.set", "own_phone.confirmed", "own_phone.removed"]


def test_nobody_else_sees_a_colleagues_phone(app, accounts):
    kim = app.test_client()
    accounts.login(kim, accounts.add(Role.STAFF, "kim@school.example", name="Kim Teacher"))
    _post(kim, "/account/phone/", number="07700 900555")
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    for path in ("/account/phone/", "/staff/", "/audit/"):
        page = html.unescape(admin.get(path).get_data(as_text=True))
        assert "900555" not in page and "••• 555" not in page, path
