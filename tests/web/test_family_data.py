"""A family's data on request (a subject access export) and its erasure, from the household page."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub import positive
from hub.models import (
    AuditEvent,
    CallAttempt,
    Concern,
    Guardian,
    Household,
    Nomination,
    Outcome,
    PhoneNumber,
    Pupil,
    PupilNote,
    Reflection,
    Role,
    StaffUser,
)
from tests.factories import (
    add_call,
    add_campaign,
    add_entry,
    add_household,
    add_staff,
    call,
    pupil,
)
from tests.web.conftest import csrf_token

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RECORDING = b"RIFF....WAVEfmt recorded voices"


@pytest.fixture
def family(app) -> dict[str, int]:
    """The Nowaks (two pupils, a mother with two numbers, two calls, a concern) and the
    Okafors, who must be left alone."""
    data_dir = Path(app.config["PHONEHUB"].hub.data_dir)
    (data_dir / "recordings").mkdir(exist_ok=True)
    with app.extensions["phonehub.db"].session() as session:
        sam = add_staff(session, "Sam")
        campaign = add_campaign(session, "Autumn welfare calls")
        nowaks = add_household(session, pupil("Kacper", "Nowak", form="8C"),
                               pupil("Lena", "Nowak", form="10B", flags="SEN"), serial=417,
                               guardian="Farah Nowak")  # fmt: skip
        okafors = add_household(session, pupil("Ada", "Okafor"), serial=418,
                                guardian="Chidi Okafor")  # fmt: skip
        entry = add_entry(session, campaign, nowaks)
        add_entry(session, campaign, okafors)
        lena = next(p for p in nowaks.pupils if p.forename == "Lena")
        session.add(PupilNote(entry_id=entry.id, pupil_id=lena.id, note="Sang a solo at choir"))
        first = add_call(session, entry, sam, at=MONDAY, outcome=Outcome.NO_ANSWER)
        second = add_call(session, entry, sam, at=MONDAY.replace(day=24),
                          outcome=Outcome.SPOKE_TO_PARENT,
                          notes="Mum says the bus pass is sorted")  # fmt: skip
        second.recording_path = str(data_dir / "recordings" / f"attempt-{second.id}.wav")
        Path(second.recording_path).write_bytes(RECORDING)
        concern = Concern(household_id=nowaks.id, attempt_id=second.id, raised_by_id=sam.id,
                          note="Mother sounded frightened of someone in the house")  # fmt: skip
        session.add(concern)
        session.flush()
        return {"household": nowaks.id, "others": okafors.id, "concern": concern.id,
                "calls": 2, "first": first.id, "second": second.id}  # fmt: skip


def signed_in(app, accounts, role: Role = Role.ADMIN):
    client = app.test_client()
    accounts.login(client, accounts.add(role))
    return client


def post(client, path: str, **fields: str):
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, "/")})


def in_database_files(app, text: str) -> list[str]:
    data_dir = Path(app.config["PHONEHUB"].hub.data_dir)
    return [p.name for p in data_dir.glob("*.db*") if text.encode() in p.read_bytes()]


def test_an_admin_exports_everything_held_about_a_family_as_one_zip(app, accounts, family):
    client = signed_in(app, accounts)
    household = client.get(f"/people/{family['household']}").get_data(as_text=True)
    assert f"/people/{family['household']}/export" in household
    page = client.get(f"/people/{family['household']}/export").get_data(as_text=True)
    assert "summary.html" in page and "Safeguarding concerns are counted but not included" in page

    response = post(client, f"/people/{family['household']}/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert re.match(r"attachment; filename=household-\d+-\d{4}-\d\d-\d\d\.zip",
                    response.headers["Content-Disposition"])  # fmt: skip
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    second = f"recordings/attempt-{family['second']}.wav"
    assert sorted(archive.namelist()) == sorted(["summary.html", "family.json", second])
    assert archive.read(second) == RECORDING

    data = json.loads(archive.read("family.json"))
    assert [p["forename"] for p in data["pupils"]] == ["Kacper", "Lena"]
    [mother] = data["guardians"]
    assert mother["name"] == "Farah Nowak"
    assert [n["e164"] for n in mother["numbers"]] == ["+447700900417", "+441632960417"]
    assert data["campaigns"][0]["notes_about_pupils"] == [
        {"pupil": "Lena Nowak", "note": "Sang a solo at choir"}]  # fmt: skip
    assert [(c["outcome"], c["notes"]) for c in data["calls"]] == [
        ("no_answer", ""), ("spoke_to_parent", "Mum says the bus pass is sorted")]  # fmt: skip
    assert data["calls"][1]["called_by"] == "Sam"
    assert data["safeguarding_concerns"]["count"] == 1
    assert "viewed the phone numbers of" in [line["action"] for line in data["audit_log"]]

    summary = archive.read("summary.html").decode()
    for shown in ("Lena Nowak", "Farah Nowak", "07700 900417", "Sang a solo at choir",
                  "Mum says the bus pass is sorted", "Autumn welfare calls"):  # fmt: skip
        assert shown in summary
    # Neither the concern's note nor the other family is in it.
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for absent in (b"frightened", b"Okafor", b"900418"):
        assert absent not in everything

    with app.extensions["phonehub.db"].session() as session:
        [line] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "household.exported")).all()  # fmt: skip
        assert (line.actor, line.target_id) == ("admin@school.example", family["household"])
        assert line.detail == {"calls": 2, "recordings": 1}


def test_erasing_a_family_really_removes_it_and_keeps_anonymous_calls_and_concerns(
    app, accounts, family
):
    client = signed_in(app, accounts)
    household = family["household"]
    page = client.get(f"/people/{household}/erase").get_data(as_text=True)
    assert "1 safeguarding concern." in page and "only the designated" in page
    assert "the next import brings them back" in page
    assert in_database_files(app, "447700900417")

    # Not typed: one sentence, and nothing lost.
    refused = post(client, f"/people/{household}/erase", confirm="yes")
    assert refused.status_code == 400
    assert "Type the word “erase” to confirm." in refused.get_data(as_text=True)
    assert client.get(f"/people/{household}").status_code == 200

    done = post(client, f"/people/{household}/erase", confirm=" Erase ")
    assert done.status_code == 302
    told = client.get(done.headers["Location"]).get_data(as_text=True)
    assert ("The family was erased: 2 call(s) kept as anonymous counts, 1 recording(s) "
            "removed. 1 safeguarding concern(s) were kept for the DSL.") in told  # fmt: skip
    assert client.get(f"/people/{household}").status_code == 404

    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Household, household) is None
        assert session.scalars(select(Pupil.surname)).all() == ["Okafor"]
        assert session.scalars(select(Guardian.name)).all() == ["Chidi Okafor"]
        assert set(session.scalars(select(PhoneNumber.e164))) == {"+447700900418",
                                                                 "+441632960418"}  # fmt: skip
        calls = session.scalars(select(CallAttempt).where(
            CallAttempt.id.in_([family["first"], family["second"]]))).all()  # fmt: skip
        assert [(a.household_id, a.phone_number_id, a.entry_id, a.notes, a.recording_path)
                for a in calls] == [(None, None, None, "", None)] * 2  # fmt: skip
        assert [a.outcome for a in calls] == [Outcome.NO_ANSWER, Outcome.SPOKE_TO_PARENT]
        concern = session.get(Concern, family["concern"])
        assert concern.household_id is None and "frightened" in concern.note
        [line] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "household.erased")).all()  # fmt: skip
        assert line.actor == "admin@school.example" and line.target_id == household
        assert line.detail == {"calls_kept_anonymous": 2, "recordings_removed": 1,
                               "concerns_kept": 1}  # fmt: skip
        details = json.dumps([e.detail for e in session.scalars(select(AuditEvent))])
        assert "Nowak" not in details and "Farah" not in details

    data_dir = Path(app.config["PHONEHUB"].hub.data_dir)
    assert list((data_dir / "recordings").iterdir()) == []
    # Really gone: neither the database file nor its write-ahead log holds them.
    for erased in ("447700900417", "441632960417", "Nowak", "Farah", "solo at choir",
                   "bus pass"):  # fmt: skip
        assert in_database_files(app, erased) == [], erased
    assert in_database_files(app, "447700900418")


def test_only_an_admin_may_export_or_erase_and_a_call_in_progress_waits(app, accounts, family):
    household = family["household"]
    for role in (Role.STAFF, Role.DSL):
        other = signed_in(app, accounts, role)
        assert other.get(f"/people/{household}/export").status_code in (403, 404)
        assert post(other, f"/people/{household}/erase", confirm="erase").status_code in (
            403, 404)  # fmt: skip
    with app.extensions["phonehub.db"].session() as session:
        session.get(CallAttempt, family["second"]).ended_at = None
    client = signed_in(app, accounts)
    refused = post(client, f"/people/{household}/erase", confirm="erase")
    told = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "A call to this family is in progress; erase it once the call ends." in told
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Household, household) is not None


def test_the_dsl_alone_erases_a_concern_kept_after_the_family_went(app, accounts, family):
    admin = signed_in(app, accounts)
    post(admin, f"/people/{family['household']}/erase", confirm="erase")
    dsl = signed_in(app, accounts, Role.DSL)
    concern = f"/dsl/concerns/{family['concern']}"
    page = dsl.get(concern).get_data(as_text=True)
    assert "A family no longer on record" in page and "frightened" in page
    assert "Erase this concern" in page

    unconfirmed = post(dsl, f"{concern}/erase")
    assert "Tick the box to confirm" in dsl.get(unconfirmed.headers["Location"]).get_data(
        as_text=True)  # fmt: skip
    assert post(admin, f"{concern}/erase", confirm="yes").status_code in (403, 404)
    with app.extensions["phonehub.db"].session() as session:
        assert session.get(Concern, family["concern"]) is not None

    assert post(dsl, f"{concern}/erase", confirm="yes").status_code == 302
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Concern)) == 0
        [line] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "concern.erased")).all()  # fmt: skip
        assert (line.actor, line.target_id) == ("dsl@school.example", family["concern"])
    assert in_database_files(app, "frightened") == []


def test_nominations_are_exported_and_go_with_reflections_when_the_family_is_erased(
    app, accounts, family
):
    with app.extensions["phonehub.db"].session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.name == "Sam"))
        kacper = session.scalar(select(Pupil).where(Pupil.forename == "Kacper"))
        # The DSL has dealt with the concern, so the family may hear good news again.
        session.get(Concern, family["concern"]).handled_at = MONDAY.replace(day=24, hour=12)
        entry = positive.nominate(session, kacper, "Fixed the class laptop trolley.", by=sam,
                                  now=MONDAY.replace(day=25)).entry  # fmt: skip
        call(session, entry, sam, MONDAY.replace(day=25, hour=11), Outcome.SPOKE_TO_PARENT)
        attempt = entry.attempts[-1]
        reflection = positive.reflection_for(session, sam, attempt.id, now=MONDAY.replace(day=29),
                                             after_days=3)  # fmt: skip
        positive.save(session, reflection, {"reaction": "Proud mum, cried a little."},
                      author=sam, now=MONDAY.replace(day=29))  # fmt: skip
    client = signed_in(app, accounts)
    response = post(client, f"/people/{family['household']}/export")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("family.json"))
    [nominated] = [c for c in data["campaigns"] if c["nominations"]]
    [note] = nominated["nominations"]
    assert (note["pupil"], note["note"], note["nominated_by"]) == (
        "Kacper Nowak", "Fixed the class laptop trolley.", "Sam")  # fmt: skip
    assert note["told_to_the_family"].startswith("2026-11-25")
    assert data["reflections"]["count"] == 1
    assert "Fixed the class laptop trolley." in archive.read("summary.html").decode()
    assert b"cried a little" not in b"".join(archive.read(n) for n in archive.namelist())

    post(client, f"/people/{family['household']}/erase", confirm="erase")
    with app.extensions["phonehub.db"].session() as session:
        assert session.scalars(select(Nomination)).all() == []
        assert session.scalars(select(Reflection)).all() == []
    for erased in ("laptop trolley", "cried a little"):
        assert in_database_files(app, erased) == [], erased
