"""Positive calls home through the panel: nominating, the card, the week, reflections.

The panel's clock is set through its CLOCK seam, so the Friday reminder and the
reflection a few days after a call can be seen on any day the tests run.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.models import (
    AuditEvent,
    CallAttempt,
    CampaignEntry,
    EntryState,
    Nomination,
    Outcome,
    Pupil,
    Reflection,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from tests.factories import call
from tests.web.conftest import csrf_token

EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile,Home,Vulnerable\r\n"
    "A1,Ali,Nowak,8,8B,Farah Nowak,Mother,07700 900101,01632 960101,No\r\n"
    "A2,Sara,Nowak,5,5A,Farah Nowak,Mother,07700 900101,01632 960101,No\r\n"
    "B1,Zoë,O'Brien,8,8B,Siân O'Brien,Mother,07700 900102,,No\r\n"
)
FULL_NUMBERS = ("07700900101", "07700 900101", "900101", "01632960101", "960101", "900102")
# Friday 15 January 2027, 15:45 in London (GMT): the default reminder afternoon.
FRIDAY_AFTER_SCHOOL = datetime(2027, 1, 15, 15, 45, tzinfo=UTC)
THURSDAY = FRIDAY_AFTER_SCHOOL - timedelta(days=1)


class Clock:
    """The panel's clock: the real time until a test sets one."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or utcnow()


@pytest.fixture
def clock(app) -> Clock:
    app.config["CLOCK"] = clock = Clock()
    return clock


def school(app, accounts):
    """An imported school; an admin and two opted-in teachers, each signed in."""
    with app.extensions["phonehub.db"].session() as session:
        import_file(session, EXPORT.encode(), actor="test")
    admin, green, patel = app.test_client(), app.test_client(), app.test_client()
    accounts.login(admin, accounts.add(Role.ADMIN, name="Office Admin"))
    accounts.login(green, accounts.add(Role.STAFF, "green@school.example", name="Ms Green"))
    accounts.login(patel, accounts.add(Role.STAFF, "patel@school.example", name="Mr Patel"))
    return admin, green, patel


def pupil_id(app, forename: str) -> int:
    with app.extensions["phonehub.db"].session() as session:
        return session.scalar(select(Pupil.id).where(Pupil.forename == forename))


def staff_id(app, email: str) -> int:
    with app.extensions["phonehub.db"].session() as session:
        return session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def nominate(client, app, forename: str, note: str, **fields) -> str:
    pupil = pupil_id(app, forename)
    token = csrf_token(client, f"/positive/nominate/{pupil}")
    response = client.post(f"/positive/nominate/{pupil}",
                           data={"note": note, "csrf_token": token, **fields})  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_nominating_two_siblings_makes_one_card_with_both_notes(app, accounts):
    _, green, patel = school(app, accounts)
    found = green.get("/positive/nominate?q=nowak").get_data(as_text=True)
    assert "Ali Nowak" in found and "Sara Nowak" in found and "O&#39;Brien" not in found
    assert "Zoë O&#39;Brien" in green.get("/positive/nominate?q=8b").get_data(as_text=True)
    done = nominate(green, app, "Ali", "Stayed behind to help a new pupil <find> the labs.",
                    plan="Tell mum about Tuesday, then ask how Ali finds year 8.")  # fmt: skip
    assert "The call is in your queue." in done
    campaign = re.search(r'href="/desk/(\d+)\?entry=\d+"', done).group(1)
    # The sister, nominated by a colleague the same week: the same call, both notes.
    also = nominate(patel, app, "Sara", "Read her story to the infants.",
                    caller=str(staff_id(app, "patel@school.example")))  # fmt: skip
    assert "your note will be read out on that one call, which Ms Green will make" in also
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(CampaignEntry.id).where(
            CampaignEntry.campaign_id == int(campaign))) is not None  # fmt: skip
        assert len(session.scalars(select(CampaignEntry)).all()) == 1
    card = green.get(f"/desk/{campaign}").get_data(as_text=True)
    text = html.unescape(card)
    assert ("Start with:</strong> “I'm calling from Example School, everything's fine — I wanted "
            "to tell you about something Ali and Sara did.”") in text  # fmt: skip
    assert re.search(r"<h4>What Ali Nowak did</h4>\s*<p class=\"prewrap did\">Stayed behind to "
                     r"help a new pupil &lt;find&gt; the labs\. <span class=\"muted\">"
                     r"\(nominated by Ms Green\)", card)  # fmt: skip
    assert re.search(r"<h4>What Sara Nowak did</h4>\s*<p class=\"prewrap did\">Read her story "
                     r"to the infants\. <span class=\"muted\">\(nominated by Mr Patel\)",
                     card)  # fmt: skip
    assert "Tell mum about Tuesday, then ask how Ali finds year 8." in text
    assert "Parent wants a meeting" in card and 'data-length-prompt-s="300"' in card
    assert not any(number in card for number in FULL_NUMBERS)
    # The colleague's desk does not offer the family: the call is Ms Green's.
    assert "Nowak" not in patel.get(f"/desk/{campaign}").get_data(as_text=True)


def test_a_nomination_without_a_note_keeps_what_was_typed(app, accounts):
    _, green, _ = school(app, accounts)
    pupil = pupil_id(app, "Ali")
    token = csrf_token(green, f"/positive/nominate/{pupil}")
    response = green.post(f"/positive/nominate/{pupil}", data={
        "note": "  ", "plan": "Ring after lunch", "csrf_token": token})  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Say what Ali did: the family hears it as you write it." in html.unescape(page)
    assert "Ring after lunch" in page
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(Nomination.id)) is None


def test_staff_who_do_not_make_calls_cannot_nominate(app, accounts):
    school(app, accounts)
    unopted = app.test_client()
    accounts.login(unopted, accounts.add(Role.STAFF, "lee@school.example", opted_in=False))
    # Their own reflections (none here) stay theirs; nominating is for those who call.
    assert unopted.get("/positive/").status_code == 200
    assert unopted.get("/positive/nominate?q=ali").status_code == 403
    assert "My positive calls</a>" not in unopted.get("/").get_data(as_text=True)


def _call_and_record(app, client, campaign: str, outcome: str, **fields) -> str:
    """A call from the card (the line is down, so it fails at once) and its outcome."""
    card = client.get(f"/desk/{campaign}").get_data(as_text=True)
    entry = re.search(r'data-entry="(\d+)"', card).group(1)
    number = re.search(r'data-number="(\d+)"', card).group(1)
    client.post("/desk/call", json={"entry": entry, "number": number},
                headers={"X-CSRFToken": csrf_token(client, f"/desk/{campaign}")})  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        attempt = session.scalars(select(CallAttempt.id).order_by(CallAttempt.id.desc())).first()
    token = csrf_token(client, f"/desk/{campaign}")
    response = client.post("/desk/outcome", follow_redirects=True, data={
        "attempt": attempt, "outcome": outcome, "csrf_token": token, **fields})  # fmt: skip
    return html.unescape(response.get_data(as_text=True))


def _a_positive_call(app, client) -> tuple[int, datetime]:
    """Ali nominated and his family reached: the call's attempt id, and when it was made."""
    done = nominate(client, app, "Ali", "Led the assembly.")
    campaign = re.search(r'href="/desk/(\d+)\?entry=\d+"', done).group(1)
    _call_and_record(app, client, campaign, "spoke_to_parent")
    with app.extensions["phonehub.db"].session() as session:
        attempt = session.scalars(select(CallAttempt)).one()
        return attempt.id, attempt.requested_at


def test_parent_wants_a_meeting_books_the_caller_a_follow_up(app, accounts):
    _, green, patel = school(app, accounts)
    done = nominate(green, app, "Ali", "Led the assembly.")
    campaign = re.search(r'href="/desk/(\d+)\?entry=\d+"', done).group(1)
    page = _call_and_record(app, green, campaign, "parent_wants_meeting")
    assert re.search(r"Saved for the Nowak family: the parent wants a meeting; a follow-up call "
                     r"to arrange it is booked for you on \w{3} \d+ \w{3} at 16:00\.",
                     page)  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        attempt = session.scalars(select(CallAttempt)).one()
        entry = session.scalars(select(CampaignEntry)).one()
        assert (attempt.outcome, attempt.meeting_wanted) == (Outcome.SPOKE_TO_PARENT, True)
        assert (entry.state, entry.assignee_id) == (
            EntryState.CALL_BACK, staff_id(app, "green@school.example"))  # fmt: skip
    home = html.unescape(green.get("/").get_data(as_text=True))
    assert "Ring the Nowak family to book the meeting" in home
    link = re.search(r'href="(/desk/\d+\?entry=\d+)">Ring the Nowak', home).group(1)
    early = html.unescape(green.get(link, follow_redirects=True).get_data(as_text=True))
    assert re.search(r"The call to the Nowak family is booked for \w{3} \d+ \w{3} at 16:00, so "
                     r"it is not offered yet\.", early)  # fmt: skip
    assert "book the meeting" not in patel.get("/").get_data(as_text=True)


def test_the_friday_reminder_is_only_for_staff_without_a_positive_call_this_week(
    app, accounts, clock
):
    admin, green, patel = school(app, accounts)
    reminder = "you haven't made a positive call home this week yet"
    clock.at = THURSDAY
    assert reminder not in green.get("/").get_data(as_text=True)
    # Ms Green made hers on Thursday; Mr Patel has not.
    with app.extensions["phonehub.db"].session() as session:
        from hub import positive

        green_user = session.get(StaffUser, staff_id(app, "green@school.example"))
        ali = session.get(Pupil, pupil_id(app, "Ali"))
        entry = positive.nominate(session, ali, "Kind.", by=green_user, now=THURSDAY).entry
        call(session, entry, green_user, THURSDAY, Outcome.SPOKE_TO_PARENT)
    clock.at = FRIDAY_AFTER_SCHOOL
    for page in ("/", "/desk/"):
        mine = html.unescape(green.get(page).get_data(as_text=True))
        theirs = html.unescape(patel.get(page).get_data(as_text=True))
        assert reminder not in mine and "Done this week" in mine
        assert f"It's Friday afternoon: {reminder}" in theirs and "Not yet this week." in theirs
    # Whole-school totals for the office: nobody's own week.
    office = html.unescape(admin.get("/").get_data(as_text=True))
    assert "1 of 3 staff who make calls have made a positive call home" in re.sub(
        r"<[^>]+>", "", office)  # fmt: skip
    assert "Ms Green" not in office.split("Positive calls home this week")[1].split("</section>")[0]


def test_a_reflection_is_asked_for_after_a_few_days_and_exported_with_six_sections(
    app, accounts, clock
):
    admin, green, patel = school(app, accounts)
    attempt_id, called = _a_positive_call(app, green)
    prompt = "Reflect on your call about Ali Nowak, year 8"
    clock.at = called + timedelta(days=2)
    assert prompt not in html.unescape(green.get("/").get_data(as_text=True))
    assert green.get(f"/positive/reflections/{attempt_id}").status_code == 404
    clock.at = called + timedelta(days=3, minutes=1)
    assert prompt in html.unescape(green.get("/").get_data(as_text=True))
    assert prompt not in html.unescape(patel.get("/").get_data(as_text=True))
    form = html.unescape(green.get(f"/positive/reflections/{attempt_id}").get_data(as_text=True))
    for label in ("The pupil's age", "What they did to impress you",
                  "What you planned to say, and whether you stuck to it", "The parent's reaction",
                  "Any change in the pupil the following week",
                  "Wider effects you did not expect"):  # fmt: skip
        assert label in form
    assert "Year 8 (age 12–13)" in form
    token = csrf_token(green, f"/positive/reflections/{attempt_id}")
    answers = {key: f"Answer about {key} with some words." for key in
               ("age", "impressed", "plan", "reaction", "change", "wider")}  # fmt: skip
    with_number = {**answers, "reaction": "She asked me to ring 07700 900101."}
    refused = green.post(f"/positive/reflections/{attempt_id}",
                         data={**with_number, "csrf_token": token})  # fmt: skip
    assert refused.status_code == 422
    assert "Answer about wider with some words." in refused.get_data(as_text=True)
    saved = green.post(f"/positive/reflections/{attempt_id}", follow_redirects=True,
                       data={**answers, "csrf_token": token})  # fmt: skip
    assert "Reflection saved: 36 words (the aim is 200 to 300). Only you can read it." in (
        html.unescape(saved.get_data(as_text=True))
    )
    assert prompt not in html.unescape(green.get("/").get_data(as_text=True))
    # Private: nobody else opens it or its export, not even the office.
    for other in (patel, admin):
        assert other.get(f"/positive/reflections/{attempt_id}").status_code in (403, 404)
        assert other.get(f"/positive/reflections/{attempt_id}/export").status_code in (403, 404)
    export = html.unescape(
        green.get(f"/positive/reflections/{attempt_id}/export").get_data(as_text=True)
    )
    sections = re.findall(r"<h2>(\d)\. ([^<]+)</h2>", export)
    assert [number for number, _ in sections] == ["1", "2", "3", "4", "5", "6"]
    assert "A. N., year 8" in export and "Ali Nowak" not in export
    assert "Answer about change with some words." in export
    assert not any(number in export for number in FULL_NUMBERS)
    with app.extensions["phonehub.db"].session() as session:
        exported = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "reflection.exported")).one()  # fmt: skip
        assert exported.detail == {}
        assert session.scalars(select(Reflection)).one().author_id == staff_id(
            app, "green@school.example")  # fmt: skip
    listed = green.get("/positive/").get_data(as_text=True)
    assert f"/positive/reflections/{attempt_id}/export" in listed
    # The office's audit log says it all in words, without a word of the reflection.
    log = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(
        admin.get("/audit/").get_data(as_text=True))))  # fmt: skip
    for line in ("nominated a pupil for a positive call home to the Nowak family",
                 "for Ali Nowak", "to be called by Ms Green",
                 "wrote a reflection on one of their positive calls",
                 "exported a reflection on one of their positive calls"):  # fmt: skip
        assert line in log, line
    assert "Answer about" not in log


def test_a_reflection_can_be_passed_over(app, accounts, clock):
    _, green, _ = school(app, accounts)
    attempt_id, called = _a_positive_call(app, green)
    clock.at = called + timedelta(days=4)
    token = csrf_token(green, f"/positive/reflections/{attempt_id}")
    green.post(f"/positive/reflections/{attempt_id}/skip", data={"csrf_token": token})
    assert "Reflect on your call" not in green.get("/").get_data(as_text=True)


def test_the_office_sees_the_nominations_waiting_on_the_nominations_campaign(app, accounts):
    admin, green, _ = school(app, accounts)
    done = nominate(green, app, "Ali", "Led the assembly.")
    campaign = re.search(r'href="/desk/(\d+)\?entry=\d+"', done).group(1)
    page = html.unescape(admin.get(f"/campaigns/{campaign}").get_data(as_text=True))
    assert "Positive calls home: nominations" in page
    assert re.search(r"Ali Nowak:</strong> Led the assembly\. <span class=\"muted\">\(nominated "
                     r"by Ms Green, \w{3} \d+ \w{3} \d{4}\)", page)  # fmt: skip
    assert 'name="note-' not in page  # the nominators' words, not boxes for the office's
