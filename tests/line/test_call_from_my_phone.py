"""Call from my phone: the hub rings the member of staff's phone, then the family, and joins them.

Through a real Kamailio to practice lines registered as the staff member's mobile and
the family's. Each practice line says a tone of its own (staff 440 Hz, family 1000 Hz)
and records what it hears, so each recording shows what crossed the bridge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub import calls, own_phone
from hub.db import open_database
from hub.exceptions import DialRefused
from hub.models import AuditEvent, EndReason, PhoneNumber, Pupil, StaffUser, utcnow
from tests.audio import listen_for, share, write_tone
from tests.kamailio import Kamailio
from tests.line.conftest import (
    FAMILY_NUMBER,
    STAFF_EMAIL,
    STAFF_NAME,
    Family,
    LineProcess,
    PracticeLineProcess,
    wait_until,
)
from tests.line.test_calls import assert_presents_the_school, headers, wav_facts

pytestmark = pytest.mark.alone  # the audio through the bridge is measured

STAFF_MOBILE = "07700900555"
# The member of staff answers in half a second and presses 1 while the whisper plays.
PRESS_1 = ("--ring", "0.5", "--press", "1", "--press-after", "2")
STAFF_TONE, FAMILY_TONE = 440.0, 1000.0


def _tone(folder: Path, hertz: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tone-{int(hertz)}.wav"
    write_tone(path, hertz, 30, off_s=0)  # continuous: any gap is one the bridge made
    return path


def _confirmed_phone(family: Family, number: str = STAFF_MOBILE) -> None:
    """The member of staff's own phone, confirmed (the code's round trip: test_own_phone)."""
    with family.database.session() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL))
        own_phone.set_number(session, staff, number)
        staff.own_phone_verified_at = utcnow()


def _nowak(family: Family, number: str, *, recording: bool = False) -> int:
    """The Nowak family's attempt, in a campaign that records if ``recording``."""
    number_id = family.number(number)
    entry_id = family.entry(number_id, recording=recording)
    with family.database.session() as session:
        household_id = session.get(PhoneNumber, number_id).guardian.household_id
        session.add(Pupil(mis_id=f"P{number_id}", forename="Zofia", surname="Nowak",
                          year="8", form="8N", household_id=household_id))  # fmt: skip
    return family.attempt(number_id, entry_id=entry_id)


def _ended_unrung(family: Family, attempt: int, ended_by: str, *, timeout: float) -> None:
    """The attempt ended before the family was rung, needing no outcome, and says why."""
    row = wait_until(lambda: (r := family.row(attempt)).ended_at and r, timeout=timeout,
                     what="the attempt to end")  # fmt: skip
    assert (row.end_reason, row.ended_by) == (EndReason.INTERRUPTED, ended_by)
    assert calls.ending_words(row.end_reason, row.ended_by) == calls.NOT_RUNG[ended_by]
    assert not calls.outcome_needed(row.end_reason)


def _events(line: LineProcess) -> Iterator[dict[str, Any]]:
    events = line.client.events(idle_s=1)
    next(events)  # the status the subscription starts with
    return events


def _until(events: Iterator[dict[str, Any]], seen: list[dict[str, Any]], want: dict[str, Any],
           timeout: float = 30) -> None:  # fmt: skip
    """Read the line's events into ``seen`` up to the first that has every field of ``want``."""
    deadline = time.monotonic() + timeout
    for event in events:
        if time.monotonic() > deadline:
            break
        if event is None:
            continue
        seen.append(event)
        if all(event.get(k) == v for k, v in want.items()):
            return
    raise AssertionError(f"never saw {want}; saw {seen}")


def test_the_staff_phone_rings_first_hears_who_then_talks_with_the_family_both_ways(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    staff_phone = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE, *PRESS_1,
                                      "--greeting", str(_tone(tmp_path, STAFF_TONE)))  # fmt: skip
    family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER, "--ring", "1",
                                       "--greeting", str(_tone(tmp_path, FAMILY_TONE)))  # fmt: skip
    _confirmed_phone(family)
    attempt = _nowak(family, "+447700900123", recording=True)
    events = _events(hub_line)
    assert hub_line.client.request("dial", attempt=attempt, via="own_phone") == {"attempt": attempt}
    seen: list[dict[str, Any]] = []
    _until(events, seen, {"event": "leg", "leg": "staff", "state": "answered"})
    # Nobody rings the family until the member of staff has answered and heard who it is.
    assert family_phone.events("invite") == []
    _until(events, seen, {"event": "call", "state": "answered"})
    status = hub_line.status()
    assert status["calls"] == [{"attempt": attempt, "state": "connected", "via": "own_phone",
                                "muted": False, "recording": False, "your_phone": "answered",
                                "interpreter": None}]  # fmt: skip
    assert status["call"] is None  # the handset is free for someone at the hub
    time.sleep(9)  # the recording notice (about 5 s), then talk, both ways
    hub_line.client.request("hangup", attempt=attempt)
    _until(events, seen, {"event": "leg", "leg": "staff", "state": "ended"})
    states = [e["state"] for e in seen if e.get("event") == "call"]
    assert states == ["dialling", "ringing", "answered", "ended"]
    ended = next(e for e in seen if e.get("event") == "call" and e["state"] == "ended")
    assert (ended["end_reason"], ended["ended_by"]) == ("completed", "staff")

    # Both phones see the school calling, and nothing of each other.
    [to_staff] = staff_phone.events("invite")
    [to_family] = family_phone.events("invite")
    assert to_staff["message"].startswith(f"INVITE sip:{STAFF_MOBILE}@")
    assert to_family["message"].startswith(f"INVITE sip:{FAMILY_NUMBER}@")
    for invite in (to_staff["message"], to_family["message"]):
        assert_presents_the_school(invite)
    staff_headers, family_headers = headers(to_staff["message"]), headers(to_family["message"])
    assert staff_headers.keys() == family_headers.keys()  # each INVITE is an ordinary call's
    for name, value in family_headers.items():
        for secret in (STAFF_MOBILE, "7700900555", STAFF_NAME, "staffwright"):
            assert secret.lower() not in value.lower(), f"the family's {name} shows the staff"
    for name, value in staff_headers.items():
        for secret in (FAMILY_NUMBER, "7700900123", "Nowak", "Testfamily"):
            assert secret.lower() not in value.lower(), f"the staff's {name} shows the family"

    # The audio crossed the bridge both ways: each phone heard the other's tone.
    staff_heard = Path(wait_until(lambda: staff_phone.events("saved"))[0]["recording"])
    family_heard = Path(wait_until(lambda: family_phone.events("saved"))[0]["recording"])
    assert listen_for(family_heard, STAFF_TONE).tone_s > 5
    at_staff = listen_for(staff_heard, FAMILY_TONE)
    assert at_staff.tone_s > 5
    # Before the family's voice, the member of staff heard who they were being put through to.
    first = at_staff.first_tone_s()
    assert first is not None and at_staff.sound_s(0, first) > 1.5
    # Then, while the family's phone rang (a second), the UK ringing tone, not silence.
    ringing = listen_for(staff_heard, 425, band_hz=40)
    assert ringing.tone_between(first - 1.5, first) >= 0.3
    assert ringing.tone_between(first + 0.5, first + 5) == 0  # and never over the family
    # The campaign records: after the notice, the school's recording has both sides.
    row = wait_until(lambda: (r := family.row(attempt)).ended_at and r, what="the row")
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")
    recorded = Path(row.recording_path)
    wait_until(lambda: any(e.get("saved") for e in seen) or recorded.stat().st_size > 44)
    assert share(recorded, STAFF_TONE) > 0.2 and share(recorded, FAMILY_TONE) > 0.2

    with family.database.session() as session:
        dialled = session.scalar(select(AuditEvent).where(AuditEvent.action == "call.dialled"))
        assert dialled.detail["via"] == "own_phone"
    for written in (STAFF_MOBILE, "7700900555", FAMILY_NUMBER, "7700900123", "Nowak"):
        assert written not in hub_line.log()


def test_a_staff_phone_that_does_not_answer_ends_the_call_and_the_family_is_never_rung(
    make_line, kamailio: Kamailio, tmp_path: Path
):
    hub_line = make_line(kamailio, line={"ring_timeout_s": 5})
    hub_line.start()
    with open_database(hub_line.database_url) as database:
        family = Family(database)
        staff_phone = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE,
                                          "--no-answer")  # fmt: skip
        family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER)
        _confirmed_phone(family)
        attempt = _nowak(family, "+447700900123")
        hub_line.client.request("dial", attempt=attempt, via="own_phone")
        _ended_unrung(family, attempt, "staff_phone", timeout=20)
        assert len(staff_phone.events("invite")) == 1
        time.sleep(1)
        assert family_phone.events("invite") == []
        assert all(STAFF_MOBILE in m.split("\r\n", 1)[0] for m in kamailio.messages("INVITE"))
        assert hub_line.status()["calls"] == []


def test_the_staff_member_putting_their_phone_down_ends_the_familys_call(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    staff_phone = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE, *PRESS_1)
    family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER, "--ring", "1")
    _confirmed_phone(family)
    attempt = _nowak(family, "+447700900123")
    events = _events(hub_line)
    hub_line.client.request("dial", attempt=attempt, via="own_phone")
    seen: list[dict[str, Any]] = []
    _until(events, seen, {"event": "call", "state": "answered"})
    staff_phone.stop()  # hangs up its call as it goes
    _until(events, seen, {"event": "call", "state": "ended"})
    assert (seen[-1]["end_reason"], seen[-1]["ended_by"]) == ("completed", "staff")
    [ended] = wait_until(lambda: family_phone.events("ended"), what="the family's end")
    assert ended["answered"]


def test_a_member_of_staff_without_a_confirmed_phone_is_refused_and_nobody_is_rung(
    hub_line: LineProcess, family: Family, kamailio: Kamailio
):
    with family.database.session() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL))
        own_phone.set_number(session, staff, STAFF_MOBILE)  # given, never confirmed
    attempt = _nowak(family, "+447700900123")
    with pytest.raises(DialRefused, match="Your own phone is not set up"):
        hub_line.client.request("dial", attempt=attempt, via="own_phone")
    assert kamailio.messages("INVITE") == []
    assert family.row(attempt).end_reason is EndReason.REFUSED


def test_three_calls_through_staff_phones_at_once_each_carry_their_audio_without_gaps(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    staff_phone = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE, *PRESS_1,
                                      "--greeting", str(_tone(tmp_path, STAFF_TONE)))  # fmt: skip
    family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER, "--ring", "1",
                                       "--greeting", str(_tone(tmp_path, FAMILY_TONE)))  # fmt: skip
    _confirmed_phone(family)
    attempts = [_nowak(family, "+447700900123") for _ in range(3)]
    events = _events(hub_line)
    for attempt in attempts:
        hub_line.client.request("dial", attempt=attempt, via="own_phone")
    seen: list[dict[str, Any]] = []
    for _ in attempts:
        _until(events, seen, {"event": "call", "state": "answered"})
    calls_up = hub_line.status()["calls"]
    assert sorted(c["attempt"] for c in calls_up) == attempts
    assert {c["state"] for c in calls_up} == {"connected"}
    time.sleep(8)
    for attempt in attempts:
        hub_line.client.request("hangup", attempt=attempt)
    saved = wait_until(lambda: len(family_phone.events("saved")) == 3
                       and len(staff_phone.events("saved")) == 3
                       and family_phone.events("saved"), timeout=20)  # fmt: skip
    assert len(saved) == 3
    for heard_at, tone in ((family_phone, STAFF_TONE), (staff_phone, FAMILY_TONE)):
        for event in heard_at.events("saved"):
            heard = listen_for(Path(event["recording"]), tone)
            first = heard.first_tone_s()
            assert first is not None
            # From the first moment each side was heard, for 6 s: not a window missing.
            span = 6.0
            assert heard.tone_between(first, first + span) >= span - 0.1, event["recording"]


INTERPRETER_NUMBER = "08081570123"  # Ofcom's freephone drama range
INTERPRETER_TONE = 1500.0


def test_an_interpreter_joins_keys_its_pin_and_is_dropped_while_the_family_stays(
    make_line, kamailio: Kamailio, tmp_path: Path
):
    hub_line = make_line(kamailio, line={"interpreter_number": INTERPRETER_NUMBER})
    hub_line.start()
    with open_database(hub_line.database_url) as database:
        family = Family(database)
        parties = (("staff", STAFF_MOBILE, STAFF_TONE), ("family", FAMILY_NUMBER, FAMILY_TONE),
                   ("interpreter", INTERPRETER_NUMBER, INTERPRETER_TONE))  # fmt: skip
        phones = {
            name: PracticeLineProcess(
                tmp_path / name,
                kamailio,
                number,
                *(PRESS_1 if name == "staff" else ("--ring", "0.5")),
                "--greeting",
                str(_tone(tmp_path, tone)),
            )
            for name, number, tone in parties
        }
        _confirmed_phone(family)
        attempt = _nowak(family, "+447700900123")
        events = _events(hub_line)
        hub_line.client.request("dial", attempt=attempt, via="own_phone")
        seen: list[dict[str, Any]] = []
        _until(events, seen, {"event": "call", "state": "answered"})
        assert hub_line.client.request("interpreter", attempt=attempt, on=True) == {
            "interpreter": True
        }
        _until(events, seen, {"event": "leg", "leg": "interpreter", "state": "answered"})
        # The service's PIN and language code, from the desk's keypad.
        hub_line.client.request("keys", attempt=attempt, keys="4321#", to="interpreter")
        time.sleep(6)  # all three talk at once
        keyed = [e["key"] for e in phones["interpreter"].events("dtmf")]
        assert keyed == list("4321#")
        assert phones["family"].events("dtmf") == []  # the family heard no keys
        hub_line.client.request("interpreter", attempt=attempt, on=False)
        _until(events, seen, {"event": "leg", "leg": "interpreter", "state": "ended"})
        [shown] = hub_line.status()["calls"]
        assert (shown["state"], shown["interpreter"]) == ("connected", None)  # family stays
        time.sleep(2)
        hub_line.client.request("hangup", attempt=attempt)
        _until(events, seen, {"event": "leg", "leg": "staff", "state": "ended"})

        [to_interpreter] = phones["interpreter"].events("invite")
        assert_presents_the_school(to_interpreter["message"])
        for secret in (FAMILY_NUMBER, "7700900123", STAFF_MOBILE, "7700900555", "Nowak"):
            assert secret not in to_interpreter["message"]
        heard = {name: Path(wait_until(lambda p=phone: p.events("saved"))[0]["recording"])
                 for name, phone in phones.items()}  # fmt: skip
        # Each party heard the other two.
        assert share(heard["interpreter"], STAFF_TONE) > 0.15
        assert share(heard["interpreter"], FAMILY_TONE) > 0.15
        assert share(heard["family"], INTERPRETER_TONE) > 0.08
        assert share(heard["family"], STAFF_TONE) > 0.15
        assert share(heard["staff"], INTERPRETER_TONE) > 0.08
        assert share(heard["staff"], FAMILY_TONE) > 0.15
        # Nobody hears themselves back.
        for name, tone in (("staff", STAFF_TONE), ("family", FAMILY_TONE),
                           ("interpreter", INTERPRETER_TONE)):  # fmt: skip
            assert share(heard[name], tone) < 0.02, name
        with database.session() as session:
            actions = set(session.scalars(select(AuditEvent.action)))
        assert {"call.interpreter_added", "call.interpreter_dropped"} <= actions
        assert INTERPRETER_NUMBER not in hub_line.log()


def test_the_schools_message_left_from_the_desk_is_heard_on_both_phones_then_both_hang_up(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    staff_phone = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE, *PRESS_1)
    family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER, "--ring", "1")
    _confirmed_phone(family)
    attempt = _nowak(family, "+447700900123")
    events = _events(hub_line)
    hub_line.client.request("dial", attempt=attempt, via="own_phone")
    seen: list[dict[str, Any]] = []
    _until(events, seen, {"event": "call", "state": "answered"})
    hub_line.client.request("voicemail", attempt=attempt)
    _until(events, seen, {"event": "call", "state": "ended"})
    assert (seen[-1]["end_reason"], seen[-1]["ended_by"]) == ("completed", "hub")
    _until(events, seen, {"event": "leg", "leg": "staff", "state": "ended"})
    # The message is seconds of speech, into both calls; the member of staff also heard
    # who they were being put through to, first.
    [whisper] = (hub_line.folder / "said").glob("*.wav")
    whisper_s = wav_facts(whisper)[0]
    heard = {}
    for name, phone in (("staff", staff_phone), ("family", family_phone)):
        [saved] = wait_until(lambda p=phone: p.events("saved"), what="a recording")
        heard[name] = listen_for(Path(saved["recording"]), 1000).sound_s()
    assert heard["family"] > 2
    assert heard["staff"] > whisper_s + 2


def test_a_voicemail_answering_the_staff_phone_is_never_put_through_to_the_family(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    # Answers at once and presses nothing, as a mobile's voicemail does.
    voicemail = PracticeLineProcess(tmp_path / "staff", kamailio, STAFF_MOBILE, "--ring", "0")
    family_phone = PracticeLineProcess(tmp_path / "family", kamailio, FAMILY_NUMBER)
    _confirmed_phone(family)
    attempt = _nowak(family, "+447700900123")
    hub_line.client.request("dial", attempt=attempt, via="own_phone")
    _ended_unrung(family, attempt, "not_accepted", timeout=40)
    assert family_phone.events("invite") == []
    # The voicemail heard who was to be called, and the request for 1, three times over.
    [saved] = wait_until(lambda: voicemail.events("saved"), what="the voicemail's recording")
    [whisper] = (hub_line.folder / "said").glob("*.wav")
    heard = listen_for(Path(saved["recording"]), 1000).sound_s()
    assert heard > 2.5 * listen_for(whisper, 1000).sound_s()
