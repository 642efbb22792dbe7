"""Spoken messages in families' languages: written by the office, spoken by espeak-ng."""

from __future__ import annotations

import html

from sqlalchemy import select

from hub.models import AuditEvent, Role, SpokenMessage
from tests.web.conftest import csrf_token

POLISH_MESSAGE = "Dzień dobry, tu {school}. Prosimy o telefon pod numer {number}."
POLISH_NOTICE = "Ta rozmowa może być nagrywana."


def _admin(app, accounts):
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    return admin


def _save(admin, language: str, message: str, notice: str):
    return admin.post("/spoken-messages/", data={
        "language": language, "voicemail_message": message, "recording_notice": notice,
        "csrf_token": csrf_token(admin, "/spoken-messages/"),
    })  # fmt: skip


def _actions(app) -> list[tuple[str, dict]]:
    with app.extensions["phonehub.db"].session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action.like("spoken_%")))
        return [(row.action, row.detail) for row in rows]


def test_the_office_writes_polish_messages_and_the_hub_speaks_them_once_saved(
    app, accounts, tmp_path
):
    admin = _admin(app, accounts)
    page = admin.get("/spoken-messages/").get_data(as_text=True)
    assert "None yet: every family hears the English messages." in page
    assert '<option value="pl">Polish</option>' in page
    assert '<option value="en">' not in page  # English is the config's

    response = _save(admin, "pl", POLISH_MESSAGE, POLISH_NOTICE)
    assert response.status_code == 302
    page = html.unescape(admin.get("/spoken-messages/").get_data(as_text=True))
    assert "Saved the Polish messages: families whose home language is Polish hear them." in page
    assert POLISH_MESSAGE in page and POLISH_NOTICE in page
    # Saving spoke both: the first call in Polish does not wait for espeak-ng.
    assert len(list((tmp_path / "speech").glob("*.wav"))) == 2
    with app.extensions["phonehub.db"].session() as session:
        row = session.get(SpokenMessage, "pl")
        assert (row.voicemail_message, row.recording_notice) == (POLISH_MESSAGE, POLISH_NOTICE)
    assert _actions(app) == [("spoken_message.saved", {"language": "pl"})]
    log = html.unescape(admin.get("/audit/").get_data(as_text=True))
    assert "saved the spoken messages in" in log and ">Polish<" in log

    admin.post(
        "/spoken-messages/pl/remove", data={"csrf_token": csrf_token(admin, "/spoken-messages/")}
    )
    page = html.unescape(admin.get("/spoken-messages/").get_data(as_text=True))
    assert "Removed the Polish messages: those families hear English again." in page
    assert _actions(app)[-1] == ("spoken_message.removed", {"language": "pl"})


def test_wording_the_hub_cannot_speak_is_refused_in_one_sentence_and_kept(app, accounts):
    admin = _admin(app, accounts)
    typed = "Dzień dobry, tu {szkoła}."
    response = _save(admin, "pl", typed, POLISH_NOTICE)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert ("The voicemail message can name only {school} and {number}, not {szkoła}; "
            "write {{ or }} for a brace.") in page  # fmt: skip
    assert typed in page and POLISH_NOTICE in page
    assert _save(admin, "pl", POLISH_MESSAGE, "  ").status_code == 400
    assert _save(admin, "xx", POLISH_MESSAGE, POLISH_NOTICE).status_code == 400
    assert _save(admin, "en", POLISH_MESSAGE, POLISH_NOTICE).status_code == 400
    assert _actions(app) == []


def test_only_an_admin_may_see_or_change_the_spoken_messages(app, accounts):
    for role in (Role.STAFF, Role.DSL):
        client = app.test_client()
        accounts.login(client, accounts.add(role))
        assert client.get("/spoken-messages/").status_code == 403
        assert _save(client, "pl", POLISH_MESSAGE, POLISH_NOTICE).status_code in (400, 403)
    assert _actions(app) == []
