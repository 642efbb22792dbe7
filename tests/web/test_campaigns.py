"""Campaign pages: sharing families out, who has each, notes per pupil, closing and reopening.

Every phone number is from Ofcom's drama ranges and every name is made up.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import (
    AuditEvent,
    Campaign,
    CampaignEntry,
    Outcome,
    PupilNote,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from hub.queues import waiting_for
from tests.factories import call
from tests.web.conftest import Accounts, csrf_token

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900201\r\n"
    "A2,Finn,O'Brien,6,6A,Siân O'Brien,Mother,07700 900201\r\n"
    "B1,Kai,Fitzwilliam,3,3A,Farah Fitzwilliam,Mother,07700 900202\r\n"
    "C1,Amara,Okafor,4,4B,Chidi Okafor,Father,07700 900203\r\n"
    "D1,Rhys,Llewellyn,5,5C,Carys Llewellyn,Mother,07700 900204\r\n"
)
PUPILS = ("Zoë O&#39;Brien", "Kai Fitzwilliam", "Amara Okafor", "Rhys Llewellyn")


def school(app: Flask, accounts: Accounts) -> tuple[FlaskClient, FlaskClient, FlaskClient]:
    """Four families; an admin who makes no calls, and two teachers who do, signed in."""
    with app.extensions["phonehub.db"].session() as session:
        import_file(session, EXPORT.encode(), actor="test")
    admin, sam, kim = app.test_client(), app.test_client(), app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN, name="Ada Office", opted_in=False))
    accounts.login(sam, accounts.add(Role.STAFF, "sam@school.example", "Sam Teacher"))
    accounts.login(kim, accounts.add(Role.STAFF, "kim@school.example", "Kim Teacher"))
    return admin, sam, kim


def campaign_with_everyone(admin: FlaskClient, purpose: str = "welfare") -> int:
    data = {"name": "Autumn welfare", "purpose": purpose, "cadence_days": "14", "who": "any",
            "csrf_token": csrf_token(admin, "/campaigns/new")}  # fmt: skip
    campaign = int(admin.post("/campaigns/new", data=data).headers["Location"].rsplit("/", 1)[1])
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    return campaign


def post(client: FlaskClient, path: str, data: dict[str, str], page: str = "/campaigns/"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)},
                       follow_redirects=True)  # fmt: skip


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.extensions["phonehub.db"].session() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def test_evenly_shares_the_families_among_everyone_who_makes_calls(app, accounts):
    admin, sam, kim = school(app, accounts)
    campaign = campaign_with_everyone(admin)
    page = admin.get(f"/campaigns/{campaign}").get_data(as_text=True)
    # The admin may call but has not said she does, so she is given none to ring.
    assert "Evenly across the 2 staff who make calls (Kim Teacher, Sam Teacher)" in page

    # What the browser sends: the person box always holds someone, used only for one person.
    admin_id = re.search(r'<option value="(\d+)">Ada Office</option>', page).group(1)
    page = post(admin, f"/campaigns/{campaign}/assign",
                {"method": "round_robin", "staff": admin_id}).get_data(as_text=True)  # fmt: skip

    assert "Assigned 4 households." in page
    assigned = re.findall(r"<td>(Ada Office|Kim Teacher|Sam Teacher)</td>", page)
    assert sorted(assigned) == ["Kim Teacher", "Kim Teacher", "Sam Teacher", "Sam Teacher"]
    for teacher in (sam, kim):
        assert "2 waiting for you now" in teacher.get("/desk/").get_data(as_text=True)
        card = teacher.get(f"/desk/{campaign}").get_data(as_text=True)
        assert any(name in card for name in PUPILS), card
        assert "Nobody is waiting" not in card
    page = admin.get(f"/campaigns/{campaign}").get_data(as_text=True)
    assert page.count("claimed: on Kim Teacher's desk") == 1
    assert page.count("claimed: on Sam Teacher's desk") == 1


def test_all_to_one_person_gives_every_family_to_them(app, accounts):
    admin, sam, kim = school(app, accounts)
    campaign = campaign_with_everyone(admin)
    page = admin.get(f"/campaigns/{campaign}").get_data(as_text=True)
    sam_id = re.search(r'<option value="(\d+)">Sam Teacher</option>', page).group(1)

    page = post(admin, f"/campaigns/{campaign}/assign",
                {"method": "manual", "staff": sam_id}).get_data(as_text=True)  # fmt: skip

    assert re.findall(r"<td>(Sam Teacher)</td>", page) == ["Sam Teacher"] * 4
    assert "Nobody is waiting" in kim.get(f"/desk/{campaign}").get_data(as_text=True)
    assert "4 waiting for you now" in sam.get("/desk/").get_data(as_text=True)


def test_closing_asks_first_and_a_closed_campaign_can_be_reopened(app, accounts):
    admin, sam, _ = school(app, accounts)
    campaign = campaign_with_everyone(admin)
    path = f"/campaigns/{campaign}"
    assert f'<form method="get" action="{path}/close">' in admin.get(path).get_data(as_text=True)

    # A click on the campaign page (or an old form) only asks.
    for asked in (admin.get(f"{path}/close"), post(admin, f"{path}/close", {})):
        page = asked.get_data(as_text=True)
        assert "Close Autumn welfare?" in page and "4 households are still to be called" in page
    assert "Autumn welfare" in sam.get("/desk/").get_data(as_text=True)

    page = post(admin, f"{path}/close", {"confirm": "yes"}, page=f"{path}/close")
    page = page.get_data(as_text=True)
    assert "Autumn welfare is closed." in page and "<strong>Closed</strong> on" in page
    assert "Add households" not in page and "Share out the waiting households" not in page
    assert "Reopen this campaign" in page
    listed = admin.get("/campaigns/").get_data(as_text=True)
    assert re.search(r"Autumn welfare</a></td>\s*<td>Welfare check</td>\s*<td>Closed ", listed)
    assert "Autumn welfare" not in sam.get("/desk/").get_data(as_text=True)

    page = post(admin, f"{path}/reopen", {}, page=path).get_data(as_text=True)
    assert "Autumn welfare is open again." in page and "Add households" in page
    assert "Autumn welfare" in sam.get("/desk/").get_data(as_text=True)
    assert [e.action for e in events(app, "campaign.closed") + events(app, "campaign.reopened")
            ] == ["campaign.closed", "campaign.reopened"]  # fmt: skip
    [reopened] = events(app, "campaign.reopened")
    assert (reopened.actor, reopened.target_type, reopened.target_id) == (
        "admin@school.example",
        "campaign",
        campaign,
    )


def test_a_note_with_a_number_is_refused_and_what_was_typed_is_kept(app, accounts):
    admin, _, _ = school(app, accounts)
    campaign = campaign_with_everyone(admin, purpose="positive")
    page = admin.get(f"/campaigns/{campaign}").get_data(as_text=True)
    entry = re.search(r'id="entry-(\d+)"', page).group(1)
    zoe, finn = (re.search(rf'<label for="note-(\d+)">{name}</label>', page).group(1)
                 for name in ("Zoë O&#39;Brien", "Finn O&#39;Brien"))  # fmt: skip
    assert 'Save<span class="sr-only"> notes for Finn O&#39;Brien and Zoë O&#39;Brien' in page

    token = csrf_token(admin, f"/campaigns/{campaign}")
    refused = admin.post(f"/campaigns/{campaign}/entries/{entry}/note",
                         data={f"note-{zoe}": "Won the spelling bee.",
                               f"note-{finn}": "Ring dad on 07700 900999 instead.",
                               "csrf_token": token})  # fmt: skip

    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Leave phone numbers out of the note: they belong on the family&#39;s record." in page
    assert 'value="Won the spelling bee."' in page
    assert 'value="Ring dad on 07700 900999 instead."' in page
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalars(select(PupilNote)).all() == []
        assert session.get(Campaign, campaign).closed_at is None
        assert session.scalars(select(CampaignEntry)).all()
    assert events(app, "entry.note_saved") == []


def waiting(app: Flask, campaign_id: int) -> int:
    """How many families Sam's desk could be offered in the campaign now."""
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        return waiting_for(session, session.get(Campaign, campaign_id), sam, now=utcnow())


def test_the_dsl_can_let_a_family_reached_recently_be_called_now(app, accounts):
    admin, _sam, _kim = school(app, accounts)
    dsl = app.test_client()
    accounts.login(dsl, accounts.add(Role.DSL, "dee@school.example", "Dee Lead"))
    summer = campaign_with_everyone(admin)
    with app.extensions["phonehub.db"].session() as session:
        # Sam spoke to Rhys's mother yesterday, in the summer campaign.
        entry = session.scalars(select(CampaignEntry).where(CampaignEntry.campaign_id == summer)
                                .order_by(CampaignEntry.id.desc())).first()  # fmt: skip
        staff = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        yesterday = utcnow() - timedelta(days=1)
        call(session, entry, staff, yesterday, Outcome.SPOKE_TO_PARENT)
        rhys = entry.household_id
    autumn = campaign_with_everyone(admin)
    with app.extensions["phonehub.db"].session() as session:
        held = session.scalar(select(CampaignEntry.id).where(
            CampaignEntry.campaign_id == autumn, CampaignEntry.household_id == rhys))  # fmt: skip
    waiting_before = waiting(app, autumn)
    # Everyone sees why Rhys's family waits; only the DSL is offered the button.
    assert "Reached in another campaign on" in admin.get(f"/campaigns/{autumn}").get_data(True)
    assert f"/entries/{held}/override" not in admin.get(f"/campaigns/{autumn}").get_data(True)
    assert f"/entries/{held}/override" in dsl.get(f"/campaigns/{autumn}").get_data(True)
    refused = admin.post(f"/campaigns/{autumn}/entries/{held}/override",
                         data={"reason": "Social worker asked", "csrf_token":
                               csrf_token(admin, f"/campaigns/{autumn}")})  # fmt: skip
    assert refused.status_code == 403
    page = post(dsl, f"/campaigns/{autumn}/entries/{held}/override", {"reason": "  "},
                f"/campaigns/{autumn}").get_data(True)  # fmt: skip
    assert "Give a reason for overriding the cadence cap." in page
    assert events(app, "entry.cadence_overridden") == []
    page = post(dsl, f"/campaigns/{autumn}/entries/{held}/override",
                {"reason": "Social worker asked for a call today"},
                f"/campaigns/{autumn}").get_data(True)  # fmt: skip
    assert "Rhys Llewellyn can be called now; your reason is in the audit log." in page
    assert "Reached in another campaign on" not in page
    [allowed] = events(app, "entry.cadence_overridden")
    assert (allowed.actor, allowed.target_id) == ("dee@school.example", held)
    assert allowed.detail["reason"] == "Social worker asked for a call today"
    # And Rhys's family is among those the desk may offer now.
    assert waiting(app, autumn) == waiting_before + 1
