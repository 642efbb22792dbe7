"""People pages: import with a preview, search, the household page and its audit."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from hub.models import AuditEvent, Guardian, PhoneNumber, Role
from hub.sample import school_csv
from tests.web.conftest import csrf_token

EXPORT = (
    "UPN,Forename,Surname,Form,Contact Name,Mobile,Home\r\n"
    "A1,Zoë,O'Brien,3B,Siân <b>O'Brien</b>,07700 900001,01632 960001\r\n"
    "A2,Finn,O'Brien,6A,Siân <b>O'Brien</b>,07700 900001,01632 960001\r\n"
    "A3,Kai,Nowak,2A,Farah Nowak,0909 879 0001,\r\n"
)


def upload(client, data: bytes):
    token = csrf_token(client, "/people/import")
    return client.post(
        "/people/import",
        data={"file": (io.BytesIO(data), "contacts.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )


def confirm(client, token: str):
    """Press "Import these families" for the checked upload ``token``."""
    data = {"token": token, "csrf_token": csrf_token(client, "/people/")}
    return client.post("/people/import/confirm", data=data)


def admin_client(app, accounts):
    client = app.test_client()
    accounts.login(client, accounts.add(Role.ADMIN))
    return client


def test_an_upload_is_checked_first_and_imported_on_confirmation(app, accounts):
    client = admin_client(app, accounts)
    page = upload(client, EXPORT.encode()).get_data(as_text=True)
    assert "What this file would do" in page
    assert "line 4: the Mobile number is a premium-rate number" in page
    assert "<b>O" not in page  # a name from the file can't inject markup
    assert client.get("/people/").get_data(as_text=True).count("/people/1") == 0
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = confirm(client, token)
    assert "Imported" in done.get_data(as_text=True)
    listing = client.get("/people/?q=zo").get_data(as_text=True)
    assert "Zoë O&#39;Brien" in listing and "Finn O&#39;Brien" in listing
    assert "<b>O" not in listing  # an imported name can't inject markup
    # The upload held numbers: it is gone once imported, and can't be replayed.
    again = confirm(client, token)
    assert "expired" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert not list((app.config["PHONEHUB"].hub.data_dir / "uploads").glob("*.csv"))


def test_an_unreadable_upload_is_one_sentence(app, accounts):
    client = admin_client(app, accounts)
    response = upload(client, b"")
    assert response.status_code == 400
    assert "The file is empty." in response.get_data(as_text=True)


def test_the_household_page_shows_full_numbers_and_audits_each_view(app, accounts):
    client = admin_client(app, accounts)
    page = upload(client, EXPORT.encode()).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    confirm(client, token)
    for _ in range(2):
        household = client.get("/people/1").get_data(as_text=True)
    assert "07700 900001" in household and "01632 960001" in household
    assert "07700 900001" not in client.get("/people/").get_data(as_text=True)
    with app.extensions["phonehub.db"].session() as session:
        views = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "household.viewed")
        ).all()
    assert [(v.target_type, v.target_id) for v in views] == [("household", 1)] * 2


def test_do_not_contact_and_preferred_times_are_saved_and_audited(app, accounts):
    client = admin_client(app, accounts)
    page = upload(client, EXPORT.encode()).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    confirm(client, token)
    with app.extensions["phonehub.db"].session() as session:
        guardian = session.scalars(select(Guardian)).first()
        number = session.scalars(select(PhoneNumber).where(PhoneNumber.label == "home")).first()
        guardian_id, number_id = guardian.id, number.id
    client.post("/people/1", data={
        f"times-{guardian_id}": "after 4pm", f"dnc-number-{number_id}": "on",
        "csrf_token": csrf_token(client, "/people/1"),
    })  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Guardian, guardian_id).preferred_times == "after 4pm"
        assert session.get(PhoneNumber, number_id).do_not_contact
        [edit] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "household.edited")
        ).all()
    assert not re.search(r"\d{6}", str(edit.detail))


def test_staff_and_the_dsl_never_reach_the_people_pages(app, accounts):
    accounts.add(Role.ADMIN)
    for role in (Role.STAFF, Role.DSL):
        client = app.test_client()
        accounts.login(client, accounts.add(role))
        for path in ("/people/", "/people/1", "/people/import"):
            assert client.get(path).status_code == 403


def test_a_large_export_imports_through_the_panel(app, accounts):
    client = admin_client(app, accounts)
    page = upload(client, school_csv(600).encode()).get_data(as_text=True)
    assert "0 rejected" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = confirm(client, token)
    assert done.status_code == 200
    assert "600" in done.get_data(as_text=True)
