"""The audit page in words: staff by name, what happened, about whom, in the school's time.

Every name is made up and every number is from Ofcom's drama ranges.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub import audit
from hub.models import (
    Campaign,
    CampaignEntry,
    Concern,
    Guardian,
    Household,
    PhoneNumber,
    Pupil,
    Purpose,
    Role,
    StaffUser,
)
from tests.web.conftest import csrf_token

SUMMER = datetime(2026, 6, 1, 13, 5, tzinfo=UTC)  # 14:05 in London (BST)
WINTER = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)  # 14:05 in London (GMT)


def rows(client, query: str = "") -> list[tuple[str, ...]]:
    """The audit table's rows as the admin reads them: (when, who, what, about, details)."""
    page = client.get("/audit/" + query).get_data(as_text=True)
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        words = (html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells)
        found.append(tuple(" ".join(text.split()) for text in words))
    return found


@pytest.fixture
def school(app, accounts):
    """An admin signed in, a member of staff, two families, a campaign and some history."""
    accounts.add(Role.ADMIN, email="ada@school.example", name="Ada Office")
    accounts.add(Role.STAFF, email="sam@school.example", name="Sam Teacher")
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        ada = session.scalar(select(StaffUser).where(StaffUser.email == "ada@school.example"))
        fitzwilliams, blended = Household(), Household()
        session.add_all([fitzwilliams, blended])
        session.flush()
        kai = Pupil(mis_id="A1", household_id=fitzwilliams.id, forename="Kai",
                    surname="Fitzwilliam", year="3", form="3A")  # fmt: skip
        session.add_all([
            kai,
            Pupil(mis_id="B1", household_id=blended.id, forename="Zoë", surname="Nowak"),
            Pupil(mis_id="B2", household_id=blended.id, forename="Finn", surname="O'Brien"),
        ])  # fmt: skip
        mother = Guardian(household_id=fitzwilliams.id, name="Farah Fitzwilliam")
        mother.numbers.append(PhoneNumber(label="mobile", e164="+447700900101", kind="mobile"))
        campaign = Campaign(name="Autumn welfare calls", purpose=Purpose.WELFARE)
        session.add_all([mother, campaign])
        session.flush()
        entry = CampaignEntry(campaign_id=campaign.id, household_id=blended.id)
        concern = Concern(household_id=fitzwilliams.id, raised_by_id=sam.id, note="Worried.")
        session.add_all([entry, concern])
        session.flush()
        for at, action, actor, kind, target, detail in (
            (SUMMER, "call.dialled", sam, "household", fitzwilliams.id,
             {"attempt": 7, "phone_number": mother.numbers[0].id}),
            (WINTER, "concern.raised", sam, "concern", concern.id,
             {"household_id": fitzwilliams.id, "attempt_id": 7}),
            (WINTER, "entry.claimed", sam, "campaign_entry", entry.id,
             {"campaign_id": campaign.id, "household_id": blended.id}),
            (WINTER, "campaign.created", ada, "campaign", campaign.id,
             {"purpose": "welfare"}),
            (WINTER, "numbers.purged", "maintenance", "", None,
             {"numbers": 3, "older_than_days": 30}),
            (WINTER, "pupil.flag_changed", "import", "pupil", kai.id, {}),
            (WINTER, "user.created", "cli", "staff_user", sam.id,
             {"email": "sam@school.example", "role": "staff"}),
            (WINTER, "household.merged", "import", "household", 999,
             {"merged_household": 998}),
        ):  # fmt: skip
            event = audit.record(session, action, actor=actor, target_type=kind,
                                 target_id=target, detail=detail)  # fmt: skip
            event.at = at
        ids = (fitzwilliams.id, mother.numbers[0].id)
    admin = app.test_client()
    accounts.login(admin, "ada@school.example")
    return admin, ids


def test_the_audit_log_says_who_did_what_to_whom_in_words_and_school_time(school):
    admin, (fitzwilliams, number) = school
    # A real view and a real edit through the panel, as an admin makes them.
    admin.get(f"/people/{fitzwilliams}")
    admin.post(f"/people/{fitzwilliams}", data={
        f"dnc-number-{number}": "on", "csrf_token": csrf_token(admin, "/audit/"),
    })  # fmt: skip
    lines = rows(admin)
    whats = {(who, what, about) for _, who, what, about, _ in lines}
    assert ("Sam Teacher", "called", "the Fitzwilliam family") in whats
    assert ("Sam Teacher", "raised", "a safeguarding concern about the Fitzwilliam family") in whats
    blended = "the family of Zoë Nowak and Finn O'Brien (campaign Autumn welfare calls)"
    assert ("Sam Teacher", "took from the queue", blended) in whats
    assert ("Ada Office", "started", "campaign Autumn welfare calls") in whats
    assert ("Ada Office", "viewed the phone numbers of", "the Fitzwilliam family") in whats
    assert ("Ada Office", "signed in", "") in whats
    assert ("Nightly clean-up", "deleted old phone numbers", "") in whats
    assert ("Command line (IT)", "created the account of", "Sam Teacher") in whats
    # An action this page has no words for still reads as words.
    assert ("MIS import", "pupil flag changed", "Kai Fitzwilliam") in whats
    assert ("MIS import", "merged two records of", "a family no longer on record") in whats
    edited = next(line for line in lines if line[2].startswith("changed do-not-call"))
    assert edited[1:4] == ("Ada Office", "changed do-not-call marks or call times of",
                           "the Fitzwilliam family")  # fmt: skip
    assert edited[4] == "changed: Farah Fitzwilliam's mobile"
    # School-local time, written as a UK reader writes a date.
    called = next(line for line in lines if line[2] == "called")
    assert called[0] == "Mon 1 Jun 2026, 14:05"
    concern = next(line for line in lines if line[2] == "raised")
    assert concern[0] == "Sun 29 Nov 2026, 14:05"
    details = {line[1:3]: line[4] for line in lines}
    assert details["Nightly clean-up", "deleted old phone numbers"] == (
        "numbers: 3; older than 30 days"
    )
    assert details["Command line (IT)", "created the account of"] == "role: staff"
    # No email address, no phone number and no raw record id anywhere in the table.
    for line in lines:
        text = " ".join(line[1:])
        assert "@" not in text, line
        assert not re.search(r"7700|900101|household|staff_user|campaign_entry", text), line
        assert not re.search(r"\d", line[3]), line


def test_the_log_is_found_by_a_persons_name_and_by_the_record_a_line_is_about(school):
    admin, (fitzwilliams, _) = school
    by_sam = rows(admin, "?actor=sam+teacher")
    assert by_sam and {line[1] for line in by_sam} == {"Sam Teacher"}
    page = admin.get("/audit/").get_data(as_text=True)
    family = r'<a href="(/audit/\?target=household(?::|%3A)\d+)">the Fitzwilliam family</a>'
    link = re.search(family, page)
    assert link, "the family's name does not lead to its lines"
    about = admin.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert "Only the lines about the Fitzwilliam family." in html.unescape(about)
    assert {line[3] for line in rows(admin, f"?target=household:{fitzwilliams}")} == {
        "the Fitzwilliam family"
    }
    assert [line[2] for line in rows(admin, "?action=call.dialled")] == ["called"]
