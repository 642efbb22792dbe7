"""Who called us? The office finds the school's calls to a parent ringing back, and notes it.

A generated school: the O'Briens (two pupils, three numbers, called by Sam and Kim in
two campaigns, once too long ago), the Nowaks (called by Kim), two families whose
parents are both "Jo Smith…", the Hiddens in the DSL's own campaign, and the Olds,
called only long ago. Every number is from Ofcom's drama ranges.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.models import (
    AuditEvent,
    Campaign,
    Concern,
    Household,
    Outcome,
    ParentCallBack,
    PhoneNumber,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import subject_access
from hub.people.erasure import erase_household
from tests import factories
from tests.web.conftest import Accounts, csrf_token

ADMIN, DSL = "ada@school.example", "dana@school.example"
SAM, KIM = "sam@school.example", "kim@school.example"
# Every way of writing each O'Brien number that must find them, and the digits of each
# family's numbers, none of which may ever appear in full on a page or in the audit log.
OBRIEN_TYPED = ["07700 900101", "+44 7700 900101", "07700900101", "+447700900101",
                "(01632) 960101", "01632 960 101", "020 7946 0101", "+44 20 7946 0101"]  # fmt: skip
DIGITS = {"obrien": ["7700900101", "1632960101", "2079460101"],
          "nowak": ["7700900202", "1632960202"], "hidden": ["7700900404", "1632960404"],
          "smith": ["7700900303", "7700900313"], "old": ["7700900505"]}  # fmt: skip


@dataclass(frozen=True)
class School:
    """The ids the tests need."""

    obrien: int
    nowak: int
    hidden: int
    sam_call: int  # Sam's call to the O'Briens three days ago


@pytest.fixture
def school(app: Flask, accounts: Accounts) -> School:
    """The families, the staff, three campaigns and their calls."""
    accounts.add(Role.ADMIN, email=ADMIN, name="Ada Office")
    accounts.add(Role.DSL, email=DSL, name="Dana Safeguarding")
    accounts.add(Role.STAFF, email=SAM, name="Sam Teacher")
    accounts.add(Role.STAFF, email=KIM, name="Kim Teacher")
    now = utcnow()
    with app.extensions["phonehub.db"].session() as session:
        staff = {s.email: s for s in session.scalars(select(StaffUser))}
        sam, kim, dana = staff[SAM], staff[KIM], staff[DSL]
        autumn = factories.add_campaign(session, "Autumn welfare")
        spring = factories.add_campaign(session, "Spring praise")
        summer = factories.add_campaign(session, "Summer trips")
        vulnerable = factories.add_campaign(session, "Vulnerable pupils", dsl_only=True)

        obrien = factories.add_household(
            session, factories.pupil("Zoë", "O'Brien"), factories.pupil("Finn", "O'Brien"),
            serial=101, guardian="Siân O'Brien")  # fmt: skip
        obrien.guardians[0].numbers.append(
            PhoneNumber(label="work", e164="+442079460101", kind="geographic", position=2)
        )
        entry = factories.add_entry(session, autumn, obrien)
        sam_call = factories.add_call(session, entry, sam, now - timedelta(days=3),
                                      outcome=Outcome.SPOKE_TO_PARENT,
                                      notes="Mentioned the new baby.")  # fmt: skip
        spring_entry = factories.add_entry(session, spring, obrien)
        kim_call = factories.add_call(session, spring_entry, kim, now - timedelta(days=10),
                                      outcome=Outcome.CONCERN)  # fmt: skip
        session.add(Concern(household_id=obrien.id, attempt_id=kim_call.id, raised_by_id=kim.id,
                            note="Nobody at home in the evenings."))  # fmt: skip
        factories.add_call(session, factories.add_entry(session, summer, obrien), sam,
                           now - timedelta(days=120), outcome=Outcome.NO_ANSWER)  # fmt: skip

        nowak = factories.add_household(session, factories.pupil("Kai", "Nowak"), serial=202,
                                        guardian="Farah Nowak")  # fmt: skip
        factories.add_call(session, factories.add_entry(session, autumn, nowak), kim,
                           now - timedelta(days=1), outcome=Outcome.NO_ANSWER)  # fmt: skip

        for forename, surname, serial in (("Amy", "Smith", 303), ("Ben", "Smithson", 313)):
            smith = factories.add_household(session, factories.pupil(forename, surname),
                                            serial=serial, guardian=f"Jo {surname}")  # fmt: skip
            factories.add_call(session, factories.add_entry(session, autumn, smith), sam,
                               now - timedelta(days=4), outcome=Outcome.VOICEMAIL)  # fmt: skip

        hidden = factories.add_household(session, factories.pupil("Hana", "Hidden"), serial=404,
                                         guardian="Vera Hidden")  # fmt: skip
        factories.add_call(session, factories.add_entry(session, vulnerable, hidden), dana,
                           now - timedelta(days=2), outcome=Outcome.SPOKE_TO_PARENT)  # fmt: skip

        old = factories.add_household(session, factories.pupil("Olly", "Olds"), serial=505,
                                      guardian="Ola Olds")  # fmt: skip
        factories.add_call(session, factories.add_entry(session, summer, old), sam,
                           now - timedelta(days=91), outcome=Outcome.SPOKE_TO_PARENT)  # fmt: skip
        session.flush()
        return School(obrien=obrien.id, nowak=nowak.id, hidden=hidden.id, sam_call=sam_call.id)


def signed_in(app: Flask, accounts: Accounts, email: str) -> FlaskClient:
    client = app.test_client()
    assert accounts.login(client, email) == 302
    return client


def find(client: FlaskClient, typed: str):
    """Type ``typed`` in the box and press the button."""
    token = csrf_token(client, "/who-called/")
    return client.post("/who-called/", data={"q": typed, "csrf_token": token})


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def full_numbers_in(page: str) -> list[str]:
    """Any family's full number on the page, however it is spaced."""
    digits = re.sub(r"[\s()+-]", "", page)
    return [n for ns in DIGITS.values() for n in ns if n in digits or "0" + n[2:] in digits]


@pytest.mark.parametrize("typed", OBRIEN_TYPED)
def test_any_way_of_writing_the_number_finds_that_family_and_nobody_else(
    app, accounts, school, typed
):
    admin = signed_in(app, accounts, ADMIN)
    response = find(admin, typed)
    assert response.status_code == 200
    page = text(response)
    assert "Family of Finn O'Brien, Zoë O'Brien" in page
    for shown in ("Autumn welfare", "Sam Teacher", "spoke to a parent or carer",
                  "Siân O'Brien, mobile ••• 101"):  # fmt: skip
        assert shown in page
    # The call on which Kim raised a concern: that the school called, and to ask the DSL.
    assert ("The school called. Please pass the parent to the designated safeguarding lead."
            in page)  # fmt: skip
    for withheld in ("Spring praise", "Kim Teacher", "safeguarding concern"):
        assert withheld not in page
    for other in ("Kai Nowak", "Farah Nowak", "Amy Smith", "Ben Smithson", "Hana Hidden",
                  "Olly Olds", "Vulnerable pupils"):  # fmt: skip
        assert other not in page
    assert "Summer trips" not in page  # 120 days ago: outside the window
    assert "new baby" not in page and "evenings" not in page  # no call note, no concern note
    assert full_numbers_in(page) == []
    assert "last 90 days" in page


def test_the_search_is_a_post_the_browser_does_not_remember(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    page = admin.get("/who-called/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/who-called/"[^>]*>', page)
    assert form and 'autocomplete="off"' in form.group(0)
    assert admin.get("/who-called/?q=07700900101").get_data(as_text=True).count("O&#39;Brien") == 0


def test_a_name_search_ignores_case_and_takes_part_of_the_name(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    page = text(find(admin, "siân o'bri"))
    assert "Family of Finn O'Brien, Zoë O'Brien" in page and "Kai Nowak" not in page
    assert 'value="siân o\'bri"' in page  # a name stays in the box
    assert "Farah Nowak" not in text(find(admin, "O'BRIEN"))


def test_a_name_several_families_share_lists_each_family_apart(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    page = text(find(admin, "jo smith"))
    assert "2 families match" in page
    sections = re.findall(r"<section.*?</section>", page, re.DOTALL)
    assert len(sections) == 2
    assert "Amy Smith" in sections[0] and "Ben Smithson" not in sections[0]
    assert "Ben Smithson" in sections[1] and "Amy Smith" not in sections[1]
    assert "O'Brien" not in page and "Nowak" not in page
    assert full_numbers_in(page) == []


def test_calls_older_than_the_window_are_not_shown(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    response = find(admin, "07700 900505")
    assert response.status_code == 200
    page = text(response)
    assert "No calls from the school to that number in the last 90 days." in page
    assert "Olly Olds" not in page
    assert 'value="07700 900505"' in page


def test_the_dsl_campaign_is_named_to_the_dsl_only(app, accounts, school):
    admin_page = text(find(signed_in(app, accounts, ADMIN), "07700 900404"))
    assert "Family of Hana Hidden" in admin_page  # the parent is not told nobody called
    assert ("The school called. Please pass the parent to the designated safeguarding lead."
            in admin_page)  # fmt: skip
    assert "Vulnerable pupils" not in admin_page and "Dana Safeguarding" not in admin_page
    assert "spoke to a parent" not in admin_page
    dsl_page = text(find(signed_in(app, accounts, DSL), "07700 900404"))
    assert "Vulnerable pupils" in dsl_page and "Dana Safeguarding" in dsl_page


def test_staff_may_not_look_anyone_up(app, accounts, school):
    sam = signed_in(app, accounts, SAM)
    assert sam.get("/who-called/").status_code == 403
    token = csrf_token(sam, "/")
    searched = sam.post("/who-called/", data={"q": "07700900101", "csrf_token": token})
    assert searched.status_code == 403
    noted = sam.post(f"/who-called/calls/{school.sam_call}/called-back",
                     data={"once": "x" * 22, "csrf_token": token})  # fmt: skip
    assert noted.status_code == 403
    assert "Who called us?" not in sam.get("/").get_data(as_text=True)
    assert "Who called us?" in signed_in(app, accounts, ADMIN).get("/").get_data(as_text=True)


def test_every_lookup_is_audited_without_the_number_or_the_name(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    for typed in OBRIEN_TYPED[:3]:
        find(admin, typed)
    find(admin, "jo smith")
    find(admin, "07700 900999")
    with app.extensions["phonehub.db"].session() as session:
        searched = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "who_called.searched")
            .order_by(AuditEvent.id)
        ).all()
        assert [e.detail for e in searched] == [
            *[{"search": "number", "families": 1, "calls": 2}] * 3,
            {"search": "name", "families": 2, "calls": 2},
            {"search": "number", "families": 0, "calls": 0},
        ]
        shown = session.scalars(select(AuditEvent).where(AuditEvent.action == "who_called.shown"))
        assert [(e.target_type, e.target_id) for e in shown][:1] == [("household", school.obrien)]
        for event in session.scalars(select(AuditEvent)):
            row = json.dumps([event.actor, event.action, event.target_type, event.detail],
                             ensure_ascii=False)  # fmt: skip
            flat = re.sub(r"\D", "", row)
            for typed in [*OBRIEN_TYPED, "07700 900999"]:
                assert re.sub(r"\D", "", typed)[-6:] not in flat
            assert "smith" not in row.lower() and "brien" not in row.lower()
    log = text(admin.get("/audit/"))
    assert "looked up the school's calls to a parent ringing back" in log


def note(client: FlaskClient, attempt_id: int, once: str, words: str = ""):
    token = csrf_token(client, "/who-called/")
    return client.post(f"/who-called/calls/{attempt_id}/called-back",
                       data={"once": once, "note": words, "csrf_token": token})  # fmt: skip


def once_token(page: str, attempt_id: int) -> str:
    form = re.search(rf'/who-called/calls/{attempt_id}/called-back">.*?name="once" value="([^"]+)"',
                     page, re.DOTALL)  # fmt: skip
    assert form, "no 'parent called back' form for the call"
    return form.group(1)


def test_a_parent_calling_back_is_noted_once_and_reaches_only_the_caller(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    once = once_token(text(find(admin, "07700 900101")), school.sam_call)
    first = note(admin, school.sam_call, once, "will ring again after 3pm")
    assert first.status_code == 200
    assert "Noted:" in text(first)
    assert "Noted by Ada Office" in text(first) and "will ring again after 3pm" in text(first)
    again = note(admin, school.sam_call, once, "will ring again after 3pm")  # the double click
    assert "already noted" in text(again)
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ParentCallBack)) == 1
        assert session.scalar(select(func.count()).where(
            AuditEvent.action == "call_back.noted")) == 1  # fmt: skip

    sam = signed_in(app, accounts, SAM)
    for path in ("/", "/desk/"):
        page = text(sam.get(path))
        assert "The O'Brien family called back about your call on" in page
        assert "noted by Ada Office" in page and "will ring again after 3pm" in page
    kim = signed_in(app, accounts, KIM)
    assert "called back" not in text(kim.get("/")) and "called back" not in text(kim.get("/desk/"))

    call_back_id = int(re.search(r"/who-called/noted/(\d+)/seen", text(sam.get("/"))).group(1))
    # Kim cannot dismiss Sam's.
    kim.post(f"/who-called/noted/{call_back_id}/seen",
             data={"back": "home", "csrf_token": csrf_token(kim, "/")})  # fmt: skip
    assert "will ring again" in text(sam.get("/"))
    seen = sam.post(f"/who-called/noted/{call_back_id}/seen",
                    data={"back": "desk", "csrf_token": csrf_token(sam, "/")})  # fmt: skip
    assert seen.status_code == 302 and seen.headers["Location"] == "/desk/"
    assert "will ring again" not in text(sam.get("/"))
    assert "The caller has seen it." in text(find(admin, "07700 900101"))


def test_a_note_against_a_restricted_call_reaches_the_dsl(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    page = text(find(admin, "07700 900404"))
    attempt = int(re.search(r"/who-called/calls/(\d+)/called-back", page).group(1))
    assert note(admin, attempt, once_token(page, attempt)).status_code == 200
    assert "The Hidden family called back" in text(signed_in(app, accounts, DSL).get("/"))


def test_a_note_needs_the_form_and_no_contact_details(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    once = once_token(text(find(admin, "07700 900101")), school.sam_call)
    refused = note(admin, school.sam_call, once, "ring her on 07700 900999 instead")
    assert refused.status_code == 400
    assert "Leave phone numbers out of the note" in text(refused)
    assert "ring her on 07700 900999 instead" in text(refused)  # kept for correcting
    no_csrf = admin.post(f"/who-called/calls/{school.sam_call}/called-back", data={"once": once})
    assert no_csrf.status_code == 400
    assert note(admin, school.sam_call, "").status_code == 400
    # A call the office cannot find by searching cannot be noted either.
    assert note(admin, 9999, once).status_code == 404
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ParentCallBack)) == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type the number that called, or the parent's name."),
        ("   ", "Type the number that called, or the parent's name."),
        ("07700 9001", "That is not a UK phone number"),
        ("+1 202 555 0100", "That is not a UK phone number"),
        ("999", "That is not a UK phone number"),
        ("0770O 900101", "That is not a UK phone number"),
        ("x", "Type at least two letters of the parent's name."),
    ],
)
def test_bad_input_is_one_sentence_and_stays_in_the_box(app, accounts, school, typed, message):
    response = find(signed_in(app, accounts, ADMIN), typed)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert f'value="{typed}"' in page
    assert "<section" not in page


def test_nothing_found_by_name_says_so(app, accounts, school):
    page = text(find(signed_in(app, accounts, ADMIN), "Zzyzx"))
    assert "No calls from the school to anyone of that name in the last 90 days." in page
    assert 'value="Zzyzx"' in page


def test_a_family_erased_takes_its_call_backs_and_an_export_holds_them(app, accounts, school):
    admin = signed_in(app, accounts, ADMIN)
    once = once_token(text(find(admin, "07700 900101")), school.sam_call)
    note(admin, school.sam_call, once, "will ring again after 3pm")
    config = app.config["PHONEHUB"]
    with app.extensions["phonehub.db"].session() as session:
        ada = session.scalar(select(StaffUser).where(StaffUser.email == ADMIN))
        household = session.get(Household, school.obrien)
        data = subject_access.family_data(session, household, recordings=config.hub.data_dir,
                                          zone=config.dialplan.zone)  # fmt: skip
        noted = [b for call in data["calls"] for b in call["parent_called_back"]]
        assert [(b["noted_by"], b["note"]) for b in noted] == [
            ("Ada Office", "will ring again after 3pm")
        ]
        made = subject_access.export(session, school.obrien, actor=ada,
                                     data_dir=config.hub.data_dir,
                                     zone=config.dialplan.zone)  # fmt: skip
        with zipfile.ZipFile(io.BytesIO(made.content)) as archive:
            summary = archive.read("summary.html").decode()
        assert "The family ringing the school back" in summary and "after 3pm" in summary
        erase_household(session, school.obrien, actor=ada, data_dir=config.hub.data_dir)
        assert session.scalar(select(func.count()).select_from(ParentCallBack)) == 0
        assert session.scalar(select(Campaign.id).where(Campaign.name == "Autumn welfare"))
