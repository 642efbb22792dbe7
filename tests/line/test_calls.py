"""Calls through a real Kamailio to the practice line: what the parent's phone receives."""

from __future__ import annotations

import array
import math
import subprocess
import wave
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from hub import spoken
from hub.config import load_config
from hub.db import open_database
from hub.line.call import call_event, remote_ending, timed_out
from hub.models import AuditEvent, EndReason, PhoneNumber, Pupil, StaffUser
from tests.line.conftest import (
    FAMILY_NUMBER,
    PHONEHUB,
    SCHOOL,
    STAFF_EMAIL,
    STAFF_NAME,
    Family,
    LineProcess,
    PracticeLineProcess,
    wait_until,
)

# What the far end hears is measured from recordings: run with the cores to itself.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone


def headers(message: str) -> dict[str, str]:
    """A SIP message's headers by lower-case name (the first of each)."""
    head = message.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    found: dict[str, str] = {}
    for line in head:
        name, _, value = line.partition(":")
        found.setdefault(name.strip().lower(), value.strip())
    return found


def wav_facts(path: Path) -> tuple[float, float]:
    """A WAV's length in seconds and its loudness (RMS of 16-bit samples)."""
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return seconds, rms


def prompt_seconds(line: LineProcess) -> float:
    """How long the rendered voicemail prompt lasts (the longest cached prompt)."""
    return max(wav_facts(path)[0] for path in (line.folder / "speech").glob("*.wav"))


def assert_presents_the_school(invite: str) -> None:
    """The INVITE shows the school, and nothing about the member of staff."""
    fields = headers(invite)
    assert fields["from"].startswith(f'"{SCHOOL}" <sip:01632960000@127.0.0.1>')
    assert fields["p-asserted-identity"] == f'"{SCHOOL}" <sip:01632960000@127.0.0.1>'
    assert "privacy" not in fields
    for secret in (STAFF_NAME, STAFF_EMAIL, "Imogen", "staffwright", "it@school", "Ivo"):
        assert secret.lower() not in invite.lower()


def test_a_test_call_shows_the_school_and_plays_its_message(
    hub_line: LineProcess, practice_line: PracticeLineProcess, family: Family, kamailio
):
    result = subprocess.run(
        [*PHONEHUB, "--config", str(hub_line.config_path), "test-call", "07700 900123",
         "--as", "it@school.example"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "test call 1: dialling"
    assert lines[1:3] == ["test call 1: ringing (SIP 180)", "test call 1: answered (SIP 200)"]
    assert lines[3] == "test call 1: ended, completed, hung up by hub (SIP 200)"

    [invite] = practice_line.events("invite")
    assert invite["message"].startswith(f"INVITE sip:{FAMILY_NUMBER}@")
    assert_presents_the_school(invite["message"])
    assert_presents_the_school(kamailio.messages("INVITE")[-1])

    saved = wait_until(lambda: practice_line.events("saved"), what="the practice recording")
    heard, loudness = wav_facts(Path(saved[0]["recording"]))
    assert loudness > 300, "the practice line heard only silence"
    assert abs(heard - prompt_seconds(hub_line)) < 2.0

    row = family.row(1)
    assert row.test_call and row.answered_at and row.ended_at
    assert (row.end_reason, row.ended_by, row.sip_status) == (EndReason.COMPLETED, "hub", 200)
    with family.database.session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "call.test_dialled" in actions


def test_a_family_call_rings_their_number_and_staff_can_hang_up(
    hub_line: LineProcess, practice_line: PracticeLineProcess, family: Family
):
    attempt = family.attempt(family.number("+447700900123"))
    events = hub_line.client.events()
    next(events)
    assert hub_line.client.request("dial", attempt=attempt) == {"attempt": attempt}
    states = []
    for event in events:
        if event.get("event") == "call":
            states.append(event["state"])
            if event["state"] == "answered":
                hub_line.client.request("hangup")
            if event["state"] == "ended":
                assert (event["end_reason"], event["ended_by"]) == ("completed", "staff")
                break
    assert states == ["dialling", "ringing", "answered", "ended"]
    row = wait_until(lambda: (r := family.row(attempt)).ended_at and r, what="the row")
    assert row.ringing_at <= row.answered_at <= row.ended_at
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")
    [invite] = practice_line.events("invite")
    assert_presents_the_school(invite["message"])
    assert wait_until(lambda: practice_line.events("ended"))[0]["answered"]
    # The audio is offered on the configured address and ports, and nothing else.
    body = invite["message"].split("\r\n\r\n", 1)[1]
    assert "c=IN IP4 127.0.0.1" in body
    audio_port = int(body.split("m=audio ", 1)[1].split()[0])
    low, high = map(int, hub_line.rtp_ports.split("-"))
    assert low <= audio_port <= high
    # pjsip's own log is off: the family's number is nowhere in what the daemon printed.
    for written in (FAMILY_NUMBER, "7700900123", "7700 900123"):
        assert written not in hub_line.log()
    assert hub_line.socket.stat().st_mode & 0o777 == 0o660


def test_an_ip_authenticated_trunk_needs_no_registration(make_line, tmp_path):
    """The demo's shape: no registrar, calls sent straight to the trunk (here the practice line)."""
    listening = PracticeLineProcess.listening(tmp_path / "direct", "07700900127")
    try:
        # Written as ITSPs publish it, with ";lr": the hub adds no second one.
        line = make_line(None, sip={"domain": "127.0.0.1",
                                    "proxy": f"sip:{listening.address};lr"})  # fmt: skip
        line.start(wait_for="not_needed")
        assert line.status()["lights"]["green"] == "on"
        with open_database(line.database_url) as database:
            rows = Family(database)
            attempt = rows.attempt(rows.number("+447700900127"))
            line.client.request("dial", attempt=attempt)
            wait_until(lambda: rows.row(attempt).answered_at, what="an answer")
            line.client.request("hangup")
        [invite] = listening.events("invite")
        assert invite["message"].startswith("INVITE sip:07700900127@127.0.0.1 SIP/2.0")
        assert ";lr;lr" not in invite["message"]
        assert_presents_the_school(invite["message"])
    finally:
        listening.stop()


def test_leaving_a_message_plays_it_into_the_answering_machine_and_hangs_up(
    hub_line: LineProcess, practice_line: PracticeLineProcess, family: Family
):
    attempt = family.attempt(family.number("+447700900123"))
    hub_line.client.request("dial", attempt=attempt)
    wait_until(lambda: family.row(attempt).answered_at, what="an answer")
    hub_line.client.request("voicemail")
    row = wait_until(lambda: (r := family.row(attempt)).ended_at and r, timeout=40)
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "hub")
    saved = wait_until(lambda: practice_line.events("saved"), what="the practice recording")
    heard, loudness = wav_facts(Path(saved[0]["recording"]))
    assert loudness > 300
    assert abs(heard - prompt_seconds(hub_line)) < 2.5


POLISH_MESSAGE = "Dzień dobry, tu {school}. Wszystko w porządku."
POLISH_NOTICE = "Ta rozmowa może być nagrywana."


def test_a_polish_family_hears_the_schools_own_polish_message(
    hub_line: LineProcess, practice_line: PracticeLineProcess, family: Family
):
    number = family.number("+447700900123")
    with family.database.session() as session:
        household = session.get(PhoneNumber, number).guardian.household
        session.add(Pupil(mis_id="P1", forename="Kai", surname="Nowak", household=household,
                          home_language="POL"))  # fmt: skip
        staff = session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL))
        config = load_config(hub_line.config_path)
        polish = spoken.save(session, config, "pl", POLISH_MESSAGE, POLISH_NOTICE, actor=staff)
    english = wav_facts(spoken.english(config).voicemail)[0]
    polish_s = wav_facts(polish.voicemail)[0]
    assert english - polish_s > 4  # so the recording can only be the one or the other

    attempt = family.attempt(number)
    events = hub_line.client.events()
    next(events)
    hub_line.client.request("dial", attempt=attempt)
    wait_until(lambda: family.row(attempt).answered_at, what="an answer")
    hub_line.client.request("voicemail")
    played = next(e for e in events if e and e.get("event") == "voicemail")
    assert played["language"] == "pl"
    wait_until(lambda: family.row(attempt).ended_at, timeout=40)
    saved = wait_until(lambda: practice_line.events("saved"), what="the practice recording")
    heard, loudness = wav_facts(Path(saved[0]["recording"]))
    assert loudness > 300
    assert abs(heard - polish_s) < 2.5, (heard, polish_s, english)


@pytest.mark.parametrize(
    ("caller_id", "identity"),
    [("from", None), ("from+ppi", "p-preferred-identity"), ("from+pai", "p-asserted-identity")],
)
def test_the_identity_header_is_the_one_the_trunk_wants(
    make_line, kamailio, practice_line: PracticeLineProcess, caller_id, identity
):
    line = make_line(kamailio, sip={"caller_id": caller_id})
    line.start()
    with open_database(line.database_url) as database:
        rows = Family(database)
        attempt = rows.attempt(rows.number("+447700900123"))
        line.client.request("dial", attempt=attempt)
        wait_until(lambda: practice_line.events("invite"), what="the INVITE")
        line.client.request("hangup")
    fields = headers(practice_line.events("invite")[0]["message"])
    names = {"p-asserted-identity", "p-preferred-identity"}
    assert names & set(fields) == ({identity} if identity else set())
    assert "privacy" not in fields


def test_a_practice_call_rings_the_practice_line_for_any_member_of_staff(
    make_line, kamailio, practice_line: PracticeLineProcess
):
    line = make_line(kamailio, line={"practice_number": FAMILY_NUMBER})
    line.start()
    with open_database(line.database_url) as database:
        rows = Family(database)
        attempt = line.client.request("practice_call", **{"as": STAFF_EMAIL})["attempt"]
        wait_until(lambda: rows.row(attempt).answered_at, what="the practice line to answer")
        line.client.request("hangup")
        with database.session() as session:
            actions = session.scalars(select(AuditEvent.action)).all()
    assert "call.practice" in actions
    [invite] = practice_line.events("invite")
    assert_presents_the_school(invite["message"])


@pytest.mark.parametrize(
    ("status", "answered_at", "ending"),
    [
        (200, 12.0, EndReason.COMPLETED),
        (486, None, EndReason.BUSY),
        (600, None, EndReason.BUSY),
        (480, None, EndReason.NO_ANSWER),
        (408, None, EndReason.NO_ANSWER),
        (603, None, EndReason.REJECTED),
        (403, None, EndReason.REJECTED),
        (487, None, EndReason.REJECTED),
        (500, None, EndReason.FAILED),
    ],
)
def test_a_call_the_far_end_ended_is_told_apart_by_its_final_status(status, answered_at, ending):
    assert remote_ending(status, answered_at) == (ending, "remote")


def test_a_call_event_says_the_state_and_once_ended_how():
    call = SimpleNamespace(attempt_id=7)
    ringing = call_event(call, "ringing", sip_status=180)
    assert datetime.fromisoformat(ringing.pop("at")).tzinfo is not None
    assert ringing == {"event": "call", "attempt": 7, "state": "ringing", "sip_status": 180}
    ended = call_event(call, "ended", sip_status=486, end_reason=EndReason.BUSY, ended_by="remote")
    assert (ended["end_reason"], ended["ended_by"]) == ("busy", "remote")


def pretend_call(**kwargs):
    return SimpleNamespace(**{"started": 100.0, "answered_at": None, "rx_packets": 0,
                              "rx_changed": 100.0, "responded": True, **kwargs})  # fmt: skip


@pytest.mark.parametrize(("now", "overdue"), [(129.9, None), (130.0, EndReason.NO_ANSWER)])
def test_an_unanswered_call_rings_out_after_the_ring_timeout(now, overdue):
    assert timed_out(pretend_call(), now, ring_s=30, silent_s=5) is overdue


def test_a_call_the_trunk_never_answered_at_all_failed_rather_than_rang_out():
    assert timed_out(pretend_call(responded=False), 130.0, ring_s=30, silent_s=5) is (
        EndReason.FAILED)  # fmt: skip


def test_an_answered_call_is_dropped_only_after_silence(monkeypatch):
    received = iter([10, 20, 20, 20])
    monkeypatch.setattr("hub.line.call.rx_packets", lambda call: next(received))
    call = pretend_call(answered_at=110.0)
    assert timed_out(call, 200.0, ring_s=30, silent_s=5) is None  # audio, long after ringing
    assert timed_out(call, 201.0, ring_s=30, silent_s=5) is None
    assert call.rx_changed == 201.0
    assert timed_out(call, 205.9, ring_s=30, silent_s=5) is None
    assert timed_out(call, 206.0, ring_s=30, silent_s=5) is EndReason.DROPPED


def test_an_answered_call_on_hold_is_silent_for_as_long_as_the_hold(monkeypatch):
    received = iter([10, None, None, 10, 10])  # None: the call is on hold
    monkeypatch.setattr("hub.line.call.rx_packets", lambda call: next(received))
    call = pretend_call(answered_at=110.0)
    assert timed_out(call, 111.0, ring_s=30, silent_s=5) is None
    assert timed_out(call, 200.0, ring_s=30, silent_s=5) is None  # held
    assert timed_out(call, 300.0, ring_s=30, silent_s=5) is None  # held, long past 5 s
    assert timed_out(call, 304.9, ring_s=30, silent_s=5) is None  # back: timed from then
    assert timed_out(call, 305.0, ring_s=30, silent_s=5) is EndReason.DROPPED
