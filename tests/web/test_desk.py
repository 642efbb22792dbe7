"""Campaigns and the call desk through the panel: masked numbers, outcomes, the DSL queue."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    Hub,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from tests.web.conftest import csrf_token, first_live_message

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile,Home,Vulnerable\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900001,01632 960001,No\r\n"
    "A2,Finn,O'Brien,6,6A,Siân O'Brien,Mother,07700 900001,01632 960001,No\r\n"
    "B1,Kai,Nowak,3,3A,Farah Nowak,Mother,07700 900002,,Yes\r\n"
)
SCHOOL = ZoneInfo("Europe/London")  # the default [dialplan] timezone
FULL_NUMBERS = ("07700900001", "07700 900001", "900001", "01632960001", "960001", "900002")


def school(app, accounts):
    """An imported school, an admin, and an opted-in member of staff, each signed in."""
    with app.extensions["phonehub.db"].session() as session:
        import_file(session, EXPORT.encode(), actor="test")
    admin, staff = app.test_client(), app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    accounts.login(staff, accounts.add(Role.STAFF, name="Sam Teacher"))
    return admin, staff


def new_campaign(admin, **fields) -> int:
    data = {"name": "Autumn welfare", "purpose": "welfare", "talking_points": "Ask how they are.",
            "cadence_days": "14", "who": "any", **fields,
            "csrf_token": csrf_token(admin, "/campaigns/new")}  # fmt: skip
    response = admin.post("/campaigns/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def asks_for_an_outcome(page: str) -> bool:
    """Whether the card shows the outcome form (on every card, hidden until there is a call)."""
    form = re.search(r"<form[^>]*class=\"outcome[^>]*>", page)
    return form is not None and " hidden" not in form.group(0)


def test_siblings_are_added_once_and_vulnerable_families_stay_out(app, accounts):
    admin, _ = school(app, accounts)
    campaign = new_campaign(admin)
    page = admin.post(f"/campaigns/{campaign}/households",
                      data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "1 household" in page  # the O'Briens once; the Nowaks are vulnerable
    assert "vulnerable" in page


def test_the_desk_shows_who_and_why_but_never_a_full_number(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    assert "Zoë O&#39;Brien" in card and "Finn O&#39;Brien" in card
    assert "Ask how they are." in card
    assert "Mother · mobile ••• 001" in card and "Mother · home ••• 001" in card
    for digits in FULL_NUMBERS:
        assert digits not in card
    for path in ("/", "/desk/", f"/desk/{campaign}"):
        page = staff.get(path).get_data(as_text=True)
        assert not any(digits in page for digits in FULL_NUMBERS), path


LANGUAGES_EXPORT = (
    "UPN,Forename,Surname,Year,Form,Home Language,Contact Name,Relationship,Mobile\r\n"
    "A1,Zoë,O'Brien,3,3B,English,Siân O'Brien,Mother,07700 900001\r\n"
    "B1,Kai,Nowak,3,3A,POL,Farah Nowak,Mother,07700 900002\r\n"
    "B2,Ola,Nowak,5,5A,English,Farah Nowak,Mother,07700 900002\r\n"
    "C1,Ana,Silva,4,4A,,Rita Silva,Mother,07700 900003\r\n"
    "D1,Ida,Kowalska,2,2A,Polish,Ewa Kowalska,Mother,07700 900004\r\n"
)


def test_the_card_gives_the_familys_home_language_and_the_campaign_counts_them(app, accounts):
    with app.extensions["phonehub.db"].session() as session:
        import_file(session, LANGUAGES_EXPORT.encode(), actor="test")
    admin = app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN))
    campaign = new_campaign(admin)
    page = admin.post(f"/campaigns/{campaign}/households",
                      data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    # The Nowaks' children differ (POL, English): the family is counted as Polish.
    assert "Families' home languages: Polish 2, English 1, not recorded 1." in page
    seen = {}
    for teacher in ("Sam", "Kim", "Lee", "Max"):  # each is given a family of their own
        staff = app.test_client()
        accounts.login(staff, accounts.add(Role.STAFF, f"{teacher.lower()}@school.example"))
        card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
        family = re.search(r'<h2 id="household-heading">([^<]*)</h2>', card).group(1)
        language = re.search(r'<p class="language">(.*?)</p>', card)
        seen[html.unescape(family)] = language.group(1) if language else None
    polish = "Home language: Polish — <strong>interpreter may be needed</strong>"
    assert seen == {
        "Zoë O'Brien": "Home language: English",
        "Kai Nowak, Ola Nowak": polish,
        "Ana Silva": None,
        "Ida Kowalska": polish,
    }


def test_a_call_with_the_line_down_says_so_and_asks_for_an_outcome(app, accounts):
    admin, staff = school(app, accounts)
    with app.extensions["phonehub.db"].session() as session:
        this_hub = Hub(name="test-hub")  # as the line daemon registers it
        session.add_all([Hub(name="another-hub"), this_hub])
        session.flush()
        this_hub_id = this_hub.id
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    entry = re.search(r'data-entry="(\d+)"', card).group(1)
    number = re.search(r'data-number="(\d+)"', card).group(1)
    token = csrf_token(staff, f"/desk/{campaign}")
    response = staff.post("/desk/call", json={"entry": entry, "number": number},
                          headers={"X-CSRFToken": token})  # fmt: skip
    assert response.status_code == 503
    assert "The line daemon is not running" in response.get_json()["error"]
    assert not any(d in response.get_data(as_text=True) for d in FULL_NUMBERS)
    with app.extensions["phonehub.db"].session() as session:
        attempt = session.scalars(select(CallAttempt)).one()
        assert attempt.end_reason is EndReason.FAILED
        assert attempt.hub_id == this_hub_id  # so a restart of this hub's line would close it
        # The audit log says the call failed and why, as for a call the line could not place.
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.failed"))
        assert [(e.target_id, "line daemon" in e.detail["reason"]) for e in failed] == [
            (attempt.id, True)
        ]
        attempt_id = attempt.id
    # The next card waits for an outcome; the desk's live state never carries the number.
    page = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    assert asks_for_an_outcome(page)
    state, text = first_live_message(staff)
    assert (state["attempt"], state["state"]) == (attempt_id, "ended")
    assert not any(d in text for d in FULL_NUMBERS)
    token = csrf_token(staff, f"/desk/{campaign}")
    staff.post("/desk/outcome", data={"attempt": attempt_id, "outcome": "no_answer",
                                      "csrf_token": token})  # fmt: skip
    assert not asks_for_an_outcome(staff.get(f"/desk/{campaign}").get_data(as_text=True))


def test_after_a_voicemail_the_next_card_is_not_the_same_family(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    entry = re.search(r'data-entry="(\d+)"', card).group(1)
    number = re.search(r'data-number="(\d+)"', card).group(1)
    staff.post("/desk/call", json={"entry": entry, "number": number},
               headers={"X-CSRFToken": csrf_token(staff, f"/desk/{campaign}")})  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        attempt_id = session.scalars(select(CallAttempt.id)).one()

    page = staff.post("/desk/outcome", data={"attempt": attempt_id, "outcome": "voicemail",
                                             "csrf_token": csrf_token(staff, f"/desk/{campaign}")},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip

    assert "Zoë O&#39;Brien" not in page and "Nobody is waiting to be called" in page
    # The next day the family is offered again.
    with app.extensions["phonehub.db"].session() as session:
        session.get(CallAttempt, attempt_id).requested_at -= timedelta(days=1)
    assert "Zoë O&#39;Brien" in staff.get(f"/desk/{campaign}").get_data(as_text=True)


def test_a_call_needs_its_csrf_token(app, accounts):
    _, staff = school(app, accounts)
    assert staff.post("/desk/call", json={"entry": 1, "number": 1}).status_code == 400


def test_the_dsl_only_queue_is_hidden_from_admins(app, accounts):
    admin, _ = school(app, accounts)
    dsl = app.test_client()
    accounts.login(dsl, accounts.add(Role.DSL, name="Dana Safeguarding"))
    campaign = new_campaign(dsl, name="Vulnerable pupils", dsl_only="on")
    assert "Vulnerable pupils" in dsl.get("/campaigns/").get_data(as_text=True)
    assert "Vulnerable pupils" not in admin.get("/campaigns/").get_data(as_text=True)
    assert admin.get(f"/campaigns/{campaign}").status_code == 404
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Campaign, campaign).dsl_only


def test_no_page_or_json_staff_can_open_shows_a_full_number(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    staff.get(f"/desk/{campaign}")  # holds a card, so its pages have a household on them
    with app.test_request_context():
        urls = [
            app.url_for(rule.endpoint, **{name: campaign if "campaign" in name else 1
                                          for name in rule.arguments})
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint != "static"
        ]  # fmt: skip
    opened = 0
    for url in urls:
        response = staff.get(url, headers={"Accept": "text/html,application/json"},
                             buffered=False)  # fmt: skip
        if response.status_code == 200:
            opened += 1
            if response.mimetype == "text/event-stream":  # never ends: what it says first
                body = next(iter(response.response)).decode()
            else:
                body = response.get_data(as_text=True)
            response.close()
            assert not any(digits in body for digits in FULL_NUMBERS), url
    assert opened >= 4


def test_a_positive_call_shows_the_caller_what_the_pupil_did(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin, purpose="positive", name="Star of the week")
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    page = admin.get(f"/campaigns/{campaign}").get_data(as_text=True)
    entry = re.search(r'id="entry-(\d+)"', page).group(1)
    # Siblings: one household, one card, and a note for each under their own name.
    zoe, finn = (re.search(rf'<label for="note-(\d+)">{name}</label>', page).group(1)
                 for name in ("Zoë O&#39;Brien", "Finn O&#39;Brien"))  # fmt: skip
    admin.post(f"/campaigns/{campaign}/entries/{entry}/note",
               data={f"note-{zoe}": "Read her <b>poem</b> to the whole school.",
                     f"note-{finn}": "Helped a new pupil find their way.",
                     "csrf_token": csrf_token(admin, f"/campaigns/{campaign}")})  # fmt: skip
    card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    assert re.search(r"<h4>What Zoë O&#39;Brien did</h4>\s*<p class=\"prewrap did\">Read her "
                     r"&lt;b&gt;poem&lt;/b&gt; to the whole", card)  # fmt: skip
    assert re.search(r"<h4>What Finn O&#39;Brien did</h4>\s*<p class=\"prewrap did\">Helped a new "
                     r"pupil find their way\.</p>", card)  # fmt: skip
    # It opens with the suggested first line, naming both.
    assert ("I&#39;m calling from Example School, everything&#39;s fine — I wanted to tell you "
            "about something Finn and Zoë did.") in card  # fmt: skip


def test_a_closed_campaign_offers_nobody(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    token = csrf_token(admin, f"/campaigns/{campaign}")
    page = admin.post(f"/campaigns/{campaign}/close", data={"confirm": "yes", "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "is closed" in page
    assert "Autumn welfare" not in staff.get("/desk/").get_data(as_text=True)


def test_a_family_abandoned_on_someone_elses_desk_goes_back_to_the_queue(app, accounts):
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    assert "Zoë O&#39;Brien" in staff.get(f"/desk/{campaign}").get_data(as_text=True)
    colleague = app.test_client()
    accounts.login(colleague, accounts.add(Role.STAFF, email="kim@school.example", name="Kim"))
    # Sam has the O'Briens on their desk, so there is nobody for Kim...
    assert "Zoë O&#39;Brien" not in colleague.get(f"/desk/{campaign}").get_data(as_text=True)
    # ...until Sam has left them untouched for over an hour.
    with app.extensions["phonehub.db"].session() as session:
        entry = session.scalars(
            select(CampaignEntry).where(CampaignEntry.campaign_id == campaign)
        ).one()
        entry.claimed_at = utcnow() - timedelta(hours=2)
    app.extensions.pop("phonehub.claims_swept", None)  # as if a minute had passed
    assert "Zoë O&#39;Brien" in colleague.get(f"/desk/{campaign}").get_data(as_text=True)
    with app.extensions["phonehub.db"].session() as session:
        entry = session.scalars(
            select(CampaignEntry).where(CampaignEntry.campaign_id == campaign)
        ).one()
        assert session.get(StaffUser, entry.claimed_by_id).name == "Kim"
        released = session.scalars(select(AuditEvent).where(AuditEvent.action == "entry.released"))
        assert [event.detail["reason"] for event in released] == ["stale"]


def test_a_call_cut_off_by_an_unplugged_handset_says_so_on_the_desk(app, accounts):
    staff = app.test_client()
    accounts.login(staff, email := accounts.add(Role.STAFF, name="Sam Teacher"))
    with app.extensions["phonehub.db"].session() as session:
        staff_id = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        attempt = CallAttempt(staff_id=staff_id, ended_at=utcnow(), ended_by="handset",
                              end_reason=EndReason.INTERRUPTED)  # fmt: skip
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    state, _ = first_live_message(staff)
    assert state["attempt"] == attempt_id
    assert state["ended"] == "the handset was unplugged; plug it back in and call again"


def _a_call_awaiting_its_outcome(app, accounts):
    """The O'Briens on the staff member's card, with a call (the line down) to give an outcome."""
    admin, staff = school(app, accounts)
    campaign = new_campaign(admin)
    admin.post(f"/campaigns/{campaign}/households",
               data={"everyone": "on", "csrf_token": csrf_token(admin, "/campaigns/")})  # fmt: skip
    card = staff.get(f"/desk/{campaign}").get_data(as_text=True)
    entry = re.search(r'data-entry="(\d+)"', card).group(1)
    number = re.search(r'data-number="(\d+)"', card).group(1)
    staff.post("/desk/call", json={"entry": entry, "number": number},
               headers={"X-CSRFToken": csrf_token(staff, f"/desk/{campaign}")})  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        attempt_id = session.scalars(select(CallAttempt.id)).one()
    return staff, campaign, attempt_id


def _school_time(days: int, hour: int, minute: int) -> datetime:
    """A moment ``days`` from today at school-local ``hour:minute``."""
    day = utcnow().astimezone(SCHOOL).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), SCHOOL)


def _spoken(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b} at {moment:%H:%M}"


@pytest.mark.parametrize(
    ("outcome", "notes", "call_back", "saying"),
    [
        ("no_answer", "", _school_time(1, 16, 30),
         "Saved for the O'Brien family: no answer; they will be called back on {when}."),
        ("concern", "Zoë said nobody was home last night.", None,
         "Saved for the O'Brien family: safeguarding concern; it is on the DSL's list now."),
        ("spoke_to_parent", "All well.", None,
         "Saved for the O'Brien family: spoke to a parent or carer; "
         "nothing more to do for them in this campaign."),
    ],
    ids=["call_back", "concern", "reached"],
)  # fmt: skip
def test_the_next_page_says_what_was_saved(app, accounts, outcome, notes, call_back, saying):
    staff, campaign, attempt = _a_call_awaiting_its_outcome(app, accounts)
    when = call_back.strftime("%Y-%m-%dT%H:%M") if call_back else ""
    page = staff.post("/desk/outcome", follow_redirects=True,
                      data={"attempt": attempt, "outcome": outcome, "notes": notes,
                            "call_back_at": when,
                            "csrf_token": csrf_token(staff, f"/desk/{campaign}")})  # fmt: skip
    text = html.unescape(page.get_data(as_text=True))
    assert "Nobody is waiting to be called" in text  # the next page, not the same card
    assert saying.format(when=_spoken(call_back) if call_back else "") in text


@pytest.mark.parametrize(
    ("outcome", "when", "error"),
    [
        ("no_answer", f"{_school_time(-1, 9, 0):%Y-%m-%dT%H:%M}",
         "Choose a call-back time later than now."),
        ("", f"{_school_time(1, 9, 0):%Y-%m-%dT%H:%M}", "Choose how the call went."),
        ("concern", f"{_school_time(1, 9, 0):%Y-%m-%dT%H:%M}",
         "A concern goes to the DSL, so it cannot also be a call back."),
        ("voicemail", "tomorrow at 4", "Give the call-back time as a date and a time."),
    ],
    ids=["past_call_back", "no_outcome", "concern_and_call_back", "not_a_time"],
)  # fmt: skip
def test_a_mistake_in_the_outcome_form_keeps_what_was_typed(app, accounts, outcome, when, error):
    staff, campaign, attempt = _a_call_awaiting_its_outcome(app, accounts)
    note = "Mum says Zoë's reading <b>much</b> better; ring after 4."
    response = staff.post("/desk/outcome", follow_redirects=True,
                          data={"attempt": attempt, "outcome": outcome, "notes": note,
                                "call_back_at": when,
                                "csrf_token": csrf_token(staff, f"/desk/{campaign}")})  # fmt: skip
    page = response.get_data(as_text=True)
    form = re.search(r'<form[^>]*class="outcome.*?</form>', page, re.S)
    assert form and error in html.unescape(form.group(0))  # next to the form it is about
    typed = re.search(r'<textarea[^>]*name="notes"[^>]*>(.*?)</textarea>', page, re.S)
    assert typed and html.unescape(typed.group(1)) == note
    assert f'value="{when}"' in page
    checked = re.findall(r'<input[^>]*value="(\w+)"[^>]*checked', page)
    assert checked == ([outcome] if outcome else [])
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(CallAttempt, attempt).outcome is None
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["entry.outcome", "concern.raised"]))
        ).all()


@pytest.mark.parametrize(
    ("outcome", "note", "found"),
    [("spoke_to_parent", "Mum's new mobile is 07700 900777; call that next time.", "phone numbers"),
     ("concern", "Dad asked us to write to worried.dad@example.com about it.", "e-mail addresses")],
    ids=["number_in_a_call_note", "email_in_a_concern"],
)  # fmt: skip
def test_a_note_holding_a_number_or_an_email_is_refused_and_kept_to_correct(
    app, accounts, outcome, note, found
):
    staff, campaign, attempt = _a_call_awaiting_its_outcome(app, accounts)
    response = staff.post("/desk/outcome", follow_redirects=True,
                          data={"attempt": attempt, "outcome": outcome, "notes": note,
                                "call_back_at": "",
                                "csrf_token": csrf_token(staff, f"/desk/{campaign}")})  # fmt: skip
    page = html.unescape(response.get_data(as_text=True))
    assert (f"Leave {found} out of the note: they belong on the family's record. Write dates "
            "like 14/01/2025.") in page  # fmt: skip
    typed = re.search(r'<textarea[^>]*name="notes"[^>]*>(.*?)</textarea>', page, re.S)
    assert typed and typed.group(1) == note
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(CallAttempt, attempt).outcome is None
        assert session.scalars(select(Concern)).all() == []
