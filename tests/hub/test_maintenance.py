"""Nightly maintenance on a real SQLite file: purge, backup, integrity check."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub import positive
from hub.config import parse_config
from hub.db import open_database
from hub.exceptions import DatabaseError
from hub.maintenance import backup, run_maintenance
from hub.models import (
    Campaign,
    CampaignEntry,
    EntryState,
    Household,
    LoginFailure,
    PhoneNumber,
    Pupil,
    Purpose,
    WebSession,
    utcnow,
)
from hub.people import import_file
from tests.factories import add_staff

EXPORT = (
    "UPN,Forename,Surname,Contact Name,Mobile\r\n"
    "A1,Zoë,O'Brien,Siân O'Brien,07700 900555\r\n"
    "B1,Kai,Nowak,Farah Nowak,07700 900666\r\n"
)


@pytest.fixture
def hub(tmp_path):
    config = parse_config(f'[hub]\ndata_dir = "{tmp_path}"\n[retention]\nnumber_days = 30\n'
                          "recording_days = 30\n")  # fmt: skip
    with open_database(config.database.url) as database:
        with database.session() as session:
            import_file(session, EXPORT.encode(), actor="test")
        yield config, database, tmp_path


def _in_files(folder: Path, digits: bytes) -> list[str]:
    return [p.name for p in folder.glob("phonehub.db*") if digits in p.read_bytes()]


def test_old_numbers_are_purged_for_real_and_open_campaigns_keep_theirs(hub):
    config, database, folder = hub
    later = utcnow() + timedelta(days=31)
    with database.session() as session:
        campaign = Campaign(name="Still calling", purpose=Purpose.WELFARE)
        household = (
            session.scalars(select(PhoneNumber).where(PhoneNumber.e164 == "+447700900666"))
            .one()
            .guardian.household
        )
        session.add_all([campaign, CampaignEntry(campaign=campaign, household=household)])
    assert _in_files(folder, b"447700900555")
    report = run_maintenance(config, database, now=later)
    assert "numbers purged: 1" in report.lines
    with database.session() as session:
        assert session.scalars(select(PhoneNumber.e164)).all() == ["+447700900666"]
    # Really gone: neither the database file nor its write-ahead log holds the digits.
    assert _in_files(folder, b"447700900555") == []
    assert _in_files(folder, b"447700900666") != []


def test_nothing_is_purged_before_its_time(hub):
    config, database, _ = hub
    report = run_maintenance(config, database, now=utcnow() + timedelta(days=29))
    assert "numbers purged: 0" in report.lines


def test_old_recordings_are_deleted(hub):
    config, database, folder = hub
    recordings = folder / "recordings"
    recordings.mkdir()
    old, new = recordings / "attempt-1.wav", recordings / "attempt-2.wav"
    for path in (old, new):
        path.write_bytes(b"RIFF")
    month_ago = (utcnow() - timedelta(days=31)).timestamp()
    os.utime(old, (month_ago, month_ago))
    report = run_maintenance(config, database, now=utcnow())
    assert "recordings purged: 1" in report.lines
    assert not old.exists() and new.exists()


def test_backups_are_complete_private_and_rotated(hub):
    _, database, folder = hub
    made = [backup(database, folder / "backups", now=utcnow() + timedelta(days=d), keep=3)
            for d in range(5)]  # fmt: skip
    kept = sorted((folder / "backups").glob("*.db"))
    assert kept == made[-3:]
    assert kept[-1].stat().st_mode & 0o077 == 0
    with sqlite3.connect(kept[-1]) as copy:
        assert copy.execute("SELECT count(*) FROM pupils").fetchone()[0] == 2
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_damaged_database_is_reported_in_one_sentence(hub, tmp_path):
    config, database, folder = hub
    database.close()
    path = folder / "phonehub.db"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name='pupils'").fetchone()[0]
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start + 8 : start + 200] = b"\xff" * 192  # scribble over the pupils table's page
    path.write_bytes(bytes(data))
    with (
        open_database(config.database.url, migrate=False) as damaged,
        pytest.raises(DatabaseError, match="failed its integrity check") as failed,
    ):
        run_maintenance(config, damaged, now=utcnow())
    assert "restore the newest backup" in str(failed.value)


def test_numbers_an_import_brings_back_get_their_full_time(hub):
    config, database, _ = hub
    with database.session() as session:  # families on the hub for months, never called
        session.execute(update(Household).values(created_at=utcnow() - timedelta(days=90)))
    # Their numbers came (back) with today's import: they keep them for number_days.
    report = run_maintenance(config, database, now=utcnow())
    assert "numbers purged: 0" in report.lines
    report = run_maintenance(config, database, now=utcnow() + timedelta(days=31))
    assert "numbers purged: 2" in report.lines


def test_uploads_sessions_failed_sign_ins_and_practice_recordings_go_in_their_time(hub):
    config, database, folder = hub
    now = utcnow()
    # An MIS upload nobody confirmed holds every family's numbers; one being checked now stays.
    uploads, practice = folder / "uploads", folder / "practice"
    uploads.mkdir()
    practice.mkdir()
    forgotten, checking = uploads / "abandoned.csv", uploads / "checking.csv"
    forgotten.write_text(EXPORT.replace("900555", "900777"))
    checking.write_text(EXPORT)
    old_call, new_call = practice / "call-1.wav", practice / "call-2.wav"
    for path in (old_call, new_call):
        path.write_bytes(b"RIFF")
    # What the line said for one call ("Connecting you to the Nowak family") soon goes.
    said = folder / "said"
    said.mkdir()
    whisper = said / "whisper.wav"
    whisper.write_bytes(b"RIFF")
    _age(whisper, timedelta(hours=1), now)
    _age(forgotten, timedelta(hours=2), now)
    _age(old_call, timedelta(days=31), now)
    with database.session() as session:
        sam = add_staff(session, "Sam")
        session.add_all([
            WebSession(token_hash="a" * 64, staff_id=sam.id, ended_at=now - timedelta(days=1)),
            WebSession(token_hash="b" * 64, staff_id=sam.id, last_seen_at=now - timedelta(hours=1)),
            WebSession(token_hash="c" * 64, staff_id=sam.id, last_seen_at=now),
            LoginFailure(email="sam@school.example", address="127.0.0.1",
                         at=now - timedelta(days=8)),
            LoginFailure(email="sam@school.example", address="127.0.0.1", at=now),
        ])  # fmt: skip
    report = run_maintenance(config, database, now=now)
    assert {
        "unconfirmed MIS uploads deleted: 1",
        "practice-line recordings purged: 1",
        "spoken codes and whispers deleted: 1",
        "web sessions ended: 2",
        "failed sign-ins forgotten: 1",
    } <= set(report.lines)
    assert sorted(p.name for p in folder.rglob("*") if p.is_file() and p.suffix != ".db"
                  and "phonehub.db" not in p.name) == ["call-2.wav", "checking.csv"]  # fmt: skip
    # The abandoned upload's digits are nowhere under the data folder any more.
    assert [p for p in folder.rglob("*") if p.is_file() and b"900777" in p.read_bytes()] == []
    with database.session() as session:
        assert session.scalars(select(WebSession.token_hash)).all() == ["c" * 64]
        assert len(session.scalars(select(LoginFailure)).all()) == 1


def _age(path: Path, by: timedelta, now) -> None:
    moment = (now - by).timestamp()
    os.utime(path, (moment, moment))


def test_a_family_whose_nominated_call_is_made_loses_its_numbers_in_time(hub):
    config, database, _ = hub
    with database.session() as session:
        teacher = add_staff(session, "Green")
        zoe, kai = (session.scalar(select(Pupil).where(Pupil.forename == name))
                    for name in ("Zoë", "Kai"))  # fmt: skip
        done = positive.nominate(session, zoe, "Kind.", by=teacher, now=utcnow()).entry
        done.state = EntryState.DONE  # called: the standing campaign needs them no longer
        positive.nominate(session, kai, "Brave.", by=teacher, now=utcnow())  # still to call
    report = run_maintenance(config, database, now=utcnow() + timedelta(days=31))
    assert "numbers purged: 1" in report.lines
    with database.session() as session:
        assert session.scalars(select(PhoneNumber.e164)).all() == ["+447700900666"]
