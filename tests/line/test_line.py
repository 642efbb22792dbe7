"""The line daemon with real peers: the dial guard, calls, timeouts, recording, shutdown."""

from __future__ import annotations

import os
import signal
import time
import wave
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.config import load_config
from hub.db import open_database
from hub.exceptions import ControlError, DialRefused
from hub.line.events import EventBus
from hub.line.line import Line
from hub.line.sip import release_free_memory
from hub.models import (
    AuditEvent,
    CallAttempt,
    CampaignEntry,
    EndReason,
    EntryState,
    utcnow,
)
from hub.spoken import Prompts
from tests.baresip import Baresip
from tests.line.conftest import (
    HUB_USER,
    Family,
    LineProcess,
    PracticeLineProcess,
    next_keepalive,
    wait_until,
)

# Timeouts and prompts are measured on the wall clock and in recordings.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone


def ended(family: Family, attempt: int, timeout: float = 30) -> CallAttempt:
    """The attempt's row once the line has written its end."""
    return wait_until(lambda: (r := family.row(attempt)).end_reason and r, timeout=timeout,
                      what=f"attempt {attempt} to end")  # fmt: skip


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("0909 879 0123", "kind_not_allowed"),
        ("+33 1 99 00 00 00", "international"),
        ("999", "kind_not_allowed"),
        ("118 118", "kind_not_allowed"),
    ],
)
def test_a_refused_test_call_puts_no_invite_on_the_wire(hub_line, family, kamailio, number, reason):
    with pytest.raises(DialRefused) as refused:
        hub_line.client.request("test_call", number=number, **{"as": "it@school.example"})
    assert refused.value.reason == reason
    assert "never dials" in str(refused.value) or "international" in str(refused.value)
    next_keepalive(kamailio)
    assert kamailio.messages("INVITE") == []
    with family.database.session() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "dial.refused"))
    assert event.detail["reason"] == reason


def test_family_calls_outside_hours_or_over_a_limit_are_refused(make_line, kamailio):
    today = time.strftime("%a").lower()
    other_days = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != today]
    line = make_line(kamailio, dialplan={"calling_days": other_days[:2], "per_staff_per_hour": 1})
    line.start()
    with open_database(line.database_url) as database:
        rows = Family(database)
        attempt = rows.attempt(rows.number("+447700900123"))
        with pytest.raises(DialRefused) as refused:
            line.client.request("dial", attempt=attempt)
        assert refused.value.reason == "outside_hours"
        assert rows.row(attempt).end_reason is EndReason.REFUSED
    assert kamailio.messages("INVITE") == []

    line.stop()
    over = make_line(kamailio, dialplan={"per_staff_per_hour": 1})
    over.start()
    with open_database(over.database_url) as database:
        rows = Family(database)
        number = rows.number("+447700900123")
        rows.attempt(number, requested_at=utcnow() - timedelta(minutes=5),
                     ended_at=utcnow(), end_reason=EndReason.COMPLETED)  # fmt: skip
        second = rows.attempt(number)
        with pytest.raises(DialRefused) as refused:
            over.client.request("dial", attempt=second)
        assert refused.value.reason == "staff_rate"
    assert kamailio.messages("INVITE") == []


def test_a_call_nobody_answers_ends_as_no_answer(make_line, kamailio, tmp_path):
    silent = PracticeLineProcess(tmp_path / "nobody", kamailio, "07700900125", "--no-answer")
    line = make_line(kamailio, line={"ring_timeout_s": 5})
    line.start()
    try:
        with open_database(line.database_url) as database:
            rows = Family(database)
            attempt = rows.attempt(rows.number("+447700900125"))
            started = time.monotonic()
            line.client.request("dial", attempt=attempt)
            row = ended(rows, attempt)
        assert (row.end_reason, row.ended_by) == (EndReason.NO_ANSWER, "timeout")
        assert 4.5 < time.monotonic() - started < 12
        assert row.ringing_at is not None and row.answered_at is None
        assert wait_until(lambda: silent.events("ended"))[0]["answered"] is False
    finally:
        silent.stop()


def test_a_callee_that_goes_silent_is_dropped(make_line, kamailio, practice_line):
    line = make_line(kamailio, line={"rtp_timeout_s": 5})
    line.start()
    with open_database(line.database_url) as database:
        rows = Family(database)
        attempt = rows.attempt(rows.number("+447700900123"))
        line.client.request("dial", attempt=attempt)
        wait_until(lambda: rows.row(attempt).answered_at, what="an answer")
        time.sleep(1)
        os.kill(practice_line.process.pid, signal.SIGSTOP)  # no more audio, and no BYE
        try:
            row = ended(rows, attempt, timeout=20)
        finally:
            os.kill(practice_line.process.pid, signal.SIGCONT)
    assert (row.end_reason, row.ended_by) == (EndReason.DROPPED, "timeout")
    assert 4 < (row.ended_at - row.answered_at).total_seconds() < 12


def test_sigterm_mid_call_hangs_up_unregisters_and_exits(hub_line, kamailio, practice_line,
                                                         family):  # fmt: skip
    attempt = family.attempt(family.number("+447700900123"))
    hub_line.client.request("dial", attempt=attempt)
    wait_until(lambda: family.row(attempt).answered_at, what="an answer")
    stopped = time.monotonic()
    assert hub_line.stop(signal.SIGTERM) == 0
    assert time.monotonic() - stopped < 10
    assert wait_until(lambda: practice_line.events("ended"))[0]["answered"]
    assert len(kamailio.messages("BYE")) == 1
    unregister = kamailio.messages("REGISTER")[-1]
    assert "Expires: 0" in unregister or "expires=0" in unregister
    assert not kamailio.registered(HUB_USER)
    row = family.row(attempt)
    assert (row.end_reason, row.ended_by) == (EndReason.INTERRUPTED, "system")


def test_a_recorded_campaign_plays_the_notice_then_records(hub_line, practice_line, family):
    number = family.number("+447700900123")
    attempt = family.attempt(number, entry_id=family.entry(number, recording=True))
    events = hub_line.client.events()
    next(events)
    hub_line.client.request("dial", attempt=attempt)
    for event in events:
        if event.get("event") == "recording" and event["on"]:
            break
    assert hub_line.status()["lights"]["red"] == "on"
    time.sleep(2)
    hub_line.client.request("hangup")
    for event in events:
        if event.get("event") == "recording" and "saved" in event:
            break
    row = ended(family, attempt)
    path = Path(row.recording_path)
    assert event["saved"] == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.is_relative_to(hub_line.folder / "recordings")
    with wave.open(str(path)) as recording:
        seconds = recording.getnframes() / recording.getframerate()
    assert 1 < seconds < 6


def test_baresip_answers_a_call_from_the_hub(hub_line, family, kamailio, tmp_path):
    kamailio.add_user("07700900124", "baresip-secret")
    with Baresip(tmp_path / "baresip", user="07700900124", password="baresip-secret",
                 registrar=kamailio) as parent:  # fmt: skip
        parent.start()
        attempt = family.attempt(family.number("+447700900124"))
        hub_line.client.request("dial", attempt=attempt)
        wait_until(lambda: family.row(attempt).answered_at, what="baresip to answer")
        hub_line.client.request("hangup")
        row = ended(family, attempt)
        parent.wait_for(lambda: parent.calls_ended() == 1)
        assert parent.calls_answered() == 1
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")


def test_fifty_calls_in_a_row(make_line, kamailio, tmp_path):
    quick = PracticeLineProcess(tmp_path / "quick", kamailio, "07700900126", "--ring", "0")
    line = make_line(kamailio, dialplan={"per_staff_per_hour": 500, "per_number_per_day": 500,
                                         "per_hub_per_day": 500})  # fmt: skip
    line.start()
    try:
        with open_database(line.database_url) as database:
            rows = Family(database)
            number = rows.number("+447700900126")
            resident = []
            for _ in range(50):
                attempt = rows.attempt(number)
                line.client.request("dial", attempt=attempt)
                wait_until(lambda a=attempt: rows.row(a).answered_at, what="an answer")
                line.client.request("hangup")
                assert ended(rows, attempt).end_reason is EndReason.COMPLETED
                resident.append(_rss_kib(line.process.pid))
        assert line.process.poll() is None
        assert len(quick.events("invite")) == 50
        # Memory is measured in bench/; here it is only shown, never asserted.
        print(f"line daemon resident: {resident[0]} KiB after 1 call, {resident[-1]} after 50")
    finally:
        quick.stop()


def test_memory_freed_by_calls_goes_back_once_the_line_has_been_idle(make_line, monkeypatch):
    line = Line(load_config(make_line(None).config_path, {}), EventBus(),
                Prompts(Path("notice.wav"), Path("message.wav")))  # fmt: skip
    trims: list[bool] = []
    monkeypatch.setattr("hub.line.line.release_free_memory", lambda: trims.append(True) or True)
    line._trim_at = time.monotonic() + 60  # a call has just ended: pjsip still holds its dialog
    line._turn()
    assert trims == []
    line._trim_at = time.monotonic() - 1  # pjsip's transactions have timed out since
    line._turn()
    line._turn()
    assert trims == [True]  # once, not on every turn
    assert release_free_memory()  # glibc's malloc_trim, for real


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_line_started_without_its_handset_runs_says_so_and_refuses_desk_calls(
    make_line, kamailio
):
    line = make_line(kamailio, audio={"device": "plughw:CARD=Headset,DEV=0"})
    line.start()
    status = line.status()
    assert status["handset"] == "unplugged"
    assert '"plughw:CARD=Headset,DEV=0" cannot be opened' in status["handset_problem"]
    assert status["lights"] == {"green": "on", "amber": "off", "red": "blinking"}
    with open_database(line.database_url) as database:
        rows = Family(database)
        attempt = rows.attempt(rows.number("+447700900123"))
        with pytest.raises(ControlError) as refused:
            line.client.request("dial", attempt=attempt)
    assert str(refused.value) == (
        "The handset is not plugged in, so the call would have no sound; "
        "plug it into the hub and try again."
    )
    assert kamailio.messages("INVITE") == []
    assert "handset unplugged: the microphone" in line.log()


def test_a_fault_reported_by_maintenance_blinks_the_red_led(hub_line: LineProcess):
    hub_line.client.request("fault", message="The database failed its integrity check.")
    status = hub_line.status()
    assert status["fault"] == "The database failed its integrity check."
    assert status["lights"]["red"] == "blinking"
    assert status["lights"]["green"] == "on"  # the line itself still works


def test_a_daemon_killed_mid_call_closes_the_call_as_interrupted_on_restart(
    hub_line: LineProcess, practice_line, family: Family
):
    number = family.number("+447700900123")
    entry_id = family.entry(number, state=EntryState.CLAIMED)
    attempt = family.attempt(number, entry_id=entry_id)
    hub_line.client.request("dial", attempt=attempt)
    wait_until(lambda: family.row(attempt).answered_at, what="an answer")
    hub_line.stop(signal.SIGKILL)
    assert family.row(attempt).ended_at is None  # nobody could write the end
    hub_line.start()
    row = family.row(attempt)
    assert (row.end_reason, row.ended_by) == (EndReason.INTERRUPTED, "system")
    with family.database.session() as session:
        back = session.get(CampaignEntry, entry_id)
        assert (back.state, back.claimed_by_id) == (EntryState.WAITING, None)


def test_prompts_wait_for_the_answer_when_the_network_rings_with_audio(
    make_line, kamailio, tmp_path
):
    # It rings (with audio) for longer than the recording notice lasts.
    early = PracticeLineProcess(tmp_path / "early", kamailio, "07700900128", "--early-media",
                                "--ring", "9")  # fmt: skip
    line = make_line(kamailio)
    line.start()
    try:
        with open_database(line.database_url) as database:
            rows = Family(database)
            number = rows.number("+447700900128")
            attempt = rows.attempt(number, entry_id=rows.entry(number, recording=True))
            events = line.client.events()
            next(events)
            line.client.request("dial", attempt=attempt)
            seen = []
            for event in events:
                seen.append((event.get("event"), event.get("state"), event.get("on")))
                if event.get("event") == "recording" and event.get("on"):
                    break
            line.client.request("hangup")
        # Early audio arrived while ringing, yet the notice and the recording waited.
        assert seen.index(("call", "answered", None)) < seen.index(("recording", None, True))
        assert wait_until(lambda: early.events("answered"))
    finally:
        early.stop()
