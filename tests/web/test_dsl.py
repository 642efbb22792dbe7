"""The DSL's safeguarding page: escalations, concerns, marking handled and the CSV export.

Every phone number is from Ofcom's drama ranges and every name is made up. The
calls are in January, so London time is UTC.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub import queues
from hub.models import (
    AuditEvent,
    Campaign,
    CampaignEntry,
    Concern,
    EntryState,
    Outcome,
    Purpose,
    Role,
    StaffUser,
)
from tests.factories import add_household, call, pupil
from tests.web.conftest import csrf_token

MONDAY = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
NOTE = "Kai said there has been no food at home since Friday."
# Every way a page or a file could show the families' numbers.
DIGITS = ("7700900101", "7700 900101", "900101", "1632960101", "960101", "900102", "960102")
EMPTY = "Say what was done about this concern."
NUMBER = ("Leave phone numbers out of the note: they belong on the family&#39;s record. Write "
          "dates like 14/01/2025.")  # fmt: skip


@dataclass(frozen=True)
class School:
    """The ids a test needs: the two concerns, their families, and a campaign still open."""

    escalation: int
    concern: int
    not_reached: int
    worried_about: int
    follow_up: int


@pytest.fixture
def school(app, accounts) -> School:
    """One family not reached on two school days, and one a teacher is worried about."""
    email = accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == email))
        campaign = Campaign(name="Welfare check", purpose=Purpose.WELFARE)
        obriens = add_household(session, pupil("Zoë", form="7A", mis_id="Z101"),
                                pupil("Finn", form="9C", mis_id="F101"),
                                serial=101)  # fmt: skip
        nowaks = add_household(session, pupil("Kai", "Nowak", form="8B", mis_id="K102"), serial=102)
        not_reached = CampaignEntry(campaign=campaign, household=obriens)
        worried = CampaignEntry(campaign=campaign, household=nowaks)
        # Staff will call the Nowaks again, and see their earlier calls on the desk.
        follow_up = Campaign(name="Positive calls", purpose=Purpose.POSITIVE)
        again = CampaignEntry(campaign=follow_up, household=nowaks)
        session.add_all([campaign, not_reached, worried, follow_up, again])
        session.flush()
        call(session, not_reached, sam, MONDAY, Outcome.NO_ANSWER)
        call(session, not_reached, sam, TUESDAY, Outcome.VOICEMAIL, notes="Left the message.")
        call(session, worried, sam, WEDNESDAY, Outcome.CONCERN, notes=NOTE)
        escalation, concern = session.scalars(select(Concern).order_by(Concern.id)).all()
        assert not_reached.state == EntryState.ESCALATED and concern.raised_by_id == sam.id
        return School(escalation.id, concern.id, obriens.id, nowaks.id, follow_up.id)


def signed_in(app, accounts, role: Role, name: str = "Dee Lead"):
    client = app.test_client()
    accounts.login(client, accounts.add(role, name=name))
    return client


def events(app, action: str) -> list[AuditEvent]:
    with app.extensions["phonehub.db"].session() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def mark_handled(client, concern_id: int, note: str):
    token = csrf_token(client, "/dsl/")
    return client.post(f"/dsl/concerns/{concern_id}/handled",
                       data={"note": note, "csrf_token": token})  # fmt: skip


def test_the_dsl_sees_escalations_and_concerns_and_the_view_is_audited(app, accounts, school):
    dsl = signed_in(app, accounts, Role.DSL)
    page = dsl.get("/dsl/").get_data(as_text=True)
    assert ">Safeguarding</a>" in page
    escalations, concerns = page.split('id="concerns"')
    assert "Finn O&#39;Brien (9C), Zoë O&#39;Brien (7A)" in escalations
    assert "Not reached on 2 school days (Mon 13 Jan, Tue 14 Jan)" in escalations
    assert "Tue 14 Jan 2025, 10:00" in escalations and "Welfare check" in escalations
    assert "voicemail" in escalations and "no answer" in escalations
    assert "Left the message." in escalations
    assert "Kai Nowak (8B)" in concerns and NOTE in concerns and "Sam Teacher" in concerns
    assert "Wed 15 Jan 2025, 10:00" in concerns
    assert f'action="/dsl/concerns/{school.concern}/handled"' in concerns
    assert f'action="/dsl/concerns/{school.escalation}/handled"' in escalations
    for digits in DIGITS:
        assert digits not in page
    [viewed] = events(app, "dsl.viewed")
    assert viewed.actor == "dsl@school.example"
    assert viewed.detail == {"escalations": 1, "open_concerns": 1}


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_no_one_else_reaches_any_dsl_page(app, accounts, school, role):
    client = signed_in(app, accounts, role, name="Someone Else")
    assert ">Safeguarding</a>" not in client.get("/").get_data(as_text=True)
    token = csrf_token(client, "/")
    for concern_id in (school.concern, school.escalation):
        for path in ("/dsl/", f"/dsl/concerns/{concern_id}", f"/dsl/concerns/{concern_id}.csv"):
            assert client.get(path).status_code == 403, path
        handled = client.post(f"/dsl/concerns/{concern_id}/handled",
                              data={"note": "Done.", "csrf_token": token})  # fmt: skip
        assert handled.status_code == 403
    assert events(app, "concern.handled") == [] and events(app, "dsl.viewed") == []


def test_the_concern_note_is_never_on_a_page_others_can_see(app, accounts, school):
    dsl = signed_in(app, accounts, Role.DSL)
    dsl.get("/dsl/")
    dsl.get(f"/dsl/concerns/{school.concern}.csv")
    mark_handled(dsl, school.concern, "Called mum back; free school meals arranged.")
    admin = signed_in(app, accounts, Role.ADMIN, name="Ada Office")
    staff = app.test_client()
    accounts.login(staff, "sam@school.example")
    pages = [
        (admin, path)
        for path in ("/", "/people/", f"/people/{school.worried_about}", "/audit/",
                     "/campaigns/", f"/campaigns/{school.follow_up}")
    ] + [(staff, path) for path in ("/", "/desk/", f"/desk/{school.follow_up}")]  # fmt: skip
    for client, path in pages:
        page = client.get(path).get_data(as_text=True)
        assert "no food at home" not in page, path
        assert "free school meals" not in page, path
    assert "<td>opened the safeguarding page</td>" in admin.get("/audit/").get_data(as_text=True)
    assert "Kai Nowak" in staff.get(f"/desk/{school.follow_up}").get_data(as_text=True)


def test_marking_a_concern_handled_is_audited_and_a_second_post_is_harmless(app, accounts, school):
    dsl = signed_in(app, accounts, Role.DSL)
    done = mark_handled(dsl, school.concern, "Called mum back; free school meals arranged.")
    assert done.status_code == 302
    page = dsl.get(done.headers["Location"]).get_data(as_text=True)
    assert "Marked handled." in page
    waiting, handled = page.split("<details>")
    assert NOTE not in waiting and "No concern is waiting." in waiting
    assert NOTE in handled and "free school meals arranged" in handled
    again = mark_handled(dsl, school.concern, "A second note.")
    assert "already marked handled" in dsl.get(again.headers["Location"]).get_data(as_text=True)
    with app.extensions["phonehub.db"].session() as session:
        concern = session.get(Concern, school.concern)
        dee = session.scalar(select(StaffUser).where(StaffUser.role == Role.DSL))
        assert (concern.handled_by_id, concern.handled_note) == (
            dee.id,
            "Called mum back; free school meals arranged.",
        )
    [event] = events(app, "concern.handled")
    assert (event.target_type, event.target_id) == ("concern", school.concern)
    assert "free school meals" not in json.dumps(event.detail)


def test_handling_an_escalation_takes_the_family_off_the_list(app, accounts, school):
    dsl = signed_in(app, accounts, Role.DSL)
    mark_handled(dsl, school.escalation, "Home visit: the family is well.")
    mark_handled(dsl, school.escalation, "Home visit again.")
    page = dsl.get("/dsl/").get_data(as_text=True)
    assert "No family is waiting on this list." in page
    with app.extensions["phonehub.db"].session() as session:
        assert queues.escalations(session) == []
        concern = session.get(Concern, school.escalation)
        assert concern.handled_note == "Home visit: the family is well."
        entry = session.scalar(
            select(CampaignEntry).where(CampaignEntry.household_id == school.not_reached)
        )
        assert entry.state == EntryState.DONE
    assert len(events(app, "entry.escalation_handled")) == 1
    assert len(events(app, "concern.handled")) == 1


@pytest.mark.parametrize(
    ("note", "message"),
    [("", EMPTY), ("   ", EMPTY), ("Rang dad on 07700 900123 instead.", NUMBER)],
)
def test_a_handled_note_is_refused_with_one_sentence(app, accounts, school, note, message):
    dsl = signed_in(app, accounts, Role.DSL)
    response = mark_handled(dsl, school.concern, note)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert f">{note.strip()}</textarea>" in page  # what was typed is kept
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Concern, school.concern).handled_at is None
    assert events(app, "concern.handled") == []


def test_the_csv_export_has_the_concern_and_history_but_no_number(app, accounts, school):
    with app.extensions["phonehub.db"].session() as session:
        session.get(Concern, school.concern).note = NOTE + " Dad's new mobile is 07700 900999."
    dsl = signed_in(app, accounts, Role.DSL)
    response = dsl.get(f"/dsl/concerns/{school.concern}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=concern-{school.concern}.csv"
    )
    body = response.get_data().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(body))
    row = next(reader)
    assert reader.fieldnames[:3] == ["concern id", "raised at", "raised by"]
    assert row["concern id"] == str(school.concern)
    assert row["raised at"] == "2025-01-15T10:00:00+00:00"
    assert (row["raised by"], row["pupils"], row["pupil forms"]) == (
        "Sam Teacher",
        "Kai Nowak",
        "8B",
    )
    assert row["pupil MIS ids"] == "K102"
    assert row["note"] == NOTE + " Dad's new mobile is [number removed]."
    assert row["handled at"] == ""
    assert row["contact history"].startswith("2025-01-15T10:00:00+00:00 | Welfare check | Sam")
    for digits in (*DIGITS, "900999"):
        assert digits not in body
    [event] = events(app, "concern.exported")
    assert (event.target_type, event.target_id) == ("household", school.worried_about)
    assert event.detail == {"concern_id": school.concern}


def test_an_exported_cell_never_starts_like_a_formula(app, accounts, school):
    with app.extensions["phonehub.db"].session() as session:
        session.get(Concern, school.concern).note = '=HYPERLINK("http://example.com")'
    dsl = signed_in(app, accounts, Role.DSL)
    body = dsl.get(f"/dsl/concerns/{school.concern}.csv").get_data().decode("utf-8-sig")
    assert next(csv.DictReader(io.StringIO(body)))["note"].startswith("'=HYPERLINK")


def test_a_note_is_shown_as_text_never_as_markup(app, accounts, school):
    with app.extensions["phonehub.db"].session() as session:
        session.get(Concern, school.concern).note = "<script>alert('x')</script><b>bold</b>"
    dsl = signed_in(app, accounts, Role.DSL)
    for path in ("/dsl/", f"/dsl/concerns/{school.concern}"):
        page = dsl.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<b>bold" not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    [viewed] = events(app, "concern.viewed")
    assert (viewed.target_type, viewed.target_id) == ("concern", school.concern)


def test_a_family_with_an_open_concern_waits_for_the_dsl_in_every_campaign(app, accounts, school):
    kim = signed_in(app, accounts, Role.STAFF, name="Kim Teacher")
    # Sam raised a concern about Kai on the welfare check; Kim works the positive calls.
    page = kim.get(f"/desk/{school.follow_up}").get_data(as_text=True)
    assert "Kai Nowak" not in page and "Nobody is waiting to be called" in page
    assert "1 households, 0 waiting for you now" in kim.get("/desk/").get_data(as_text=True)
    mark_handled(signed_in(app, accounts, Role.DSL), school.concern, "Spoke to mum; all well.")
    assert "Kai Nowak" in kim.get(f"/desk/{school.follow_up}").get_data(as_text=True)


def test_the_dsl_marks_a_number_do_not_call_from_the_concern(app, accounts, school):
    dsl = signed_in(app, accounts, Role.DSL)
    path = f"/dsl/concerns/{school.concern}"
    page = dsl.get(path).get_data(as_text=True)
    assert "Siân Nowak" in page and "mobile ••• 102" in page and "home ••• 102" in page
    mobile = re.search(r'/numbers/(\d+)/do-not-call"', page).group(1)
    for role in (Role.STAFF, Role.ADMIN):
        other = signed_in(app, accounts, role, name="Someone Else")
        refused = other.post(f"{path}/numbers/{mobile}/do-not-call",
                             data={"csrf_token": csrf_token(other, "/")})  # fmt: skip
        assert refused.status_code == 403

    done = dsl.post(f"{path}/numbers/{mobile}/do-not-call",
                    data={"csrf_token": csrf_token(dsl, path)}, follow_redirects=True)  # fmt: skip

    page = done.get_data(as_text=True)
    assert "Siân Nowak&#39;s mobile ••• 102 will not be called." in page
    assert f'/numbers/{mobile}/do-not-call"' not in page
    [event] = events(app, "number.do_not_call")
    assert (event.actor, event.target_type, event.target_id) == (
        "dsl@school.example",
        "household",
        school.worried_about,
    )
    assert event.detail == {"concern_id": school.concern, "number_id": int(mobile)}
    mark_handled(dsl, school.concern, "Mum asked us to use the landline only.")
    staff = app.test_client()
    accounts.login(staff, "sam@school.example")
    card = staff.get(f"/desk/{school.follow_up}").get_data(as_text=True)
    assert "Kai Nowak" in card
    assert "home ••• 102" in card and "mobile ••• 102" not in card
