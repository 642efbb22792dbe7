"""The handset path end to end, with real audio: staff and family hear each other.

The handset is a virtual one (tests/pulse.py: PulseAudio behind ALSA's pulse PCM),
so pjmedia's real ALSA code runs in real time. The family is the practice line,
registered at a real Kamailio, answering with a tone of its own and recording what
it hears. A voice is a tone in bursts (tests/audio.py): the member of staff's is
1 kHz, the family's 600 Hz.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db import open_database
from hub.exceptions import ControlError
from hub.models import AuditEvent, CallAttempt, EndReason
from tests.audio import listen_for, share, write_tone
from tests.kamailio import Kamailio
from tests.line.conftest import (
    FAMILY_NUMBER,
    Family,
    LineProcess,
    PracticeLineProcess,
    wait_until,
)
from tests.pulse import VirtualHandset

# Real-time sound through the virtual sound card: a loaded machine stretches it.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone

STAFF_HZ, FAMILY_HZ = 1000, 600
MOST_TONE_S = 2.4  # the most 3 s of bursts (2 s of tone) can count as; see below


@pytest.fixture
def handset(tmp_path: Path) -> Iterator[VirtualHandset]:
    """A virtual USB handset: ALSA PCM "handset" on a PulseAudio of the test's own."""
    with VirtualHandset(tmp_path / "sound") as virtual:
        yield virtual


@pytest.fixture
def parent(request, tmp_path: Path, kamailio: Kamailio) -> Iterator[PracticeLineProcess]:
    """The practice line as the family: answers at once and says 3 s of 600 Hz bursts.

    A test may ask for a longer greeting: ``@pytest.mark.parametrize("parent", [6],
    indirect=True)``.
    """
    seconds = getattr(request, "param", 3)
    greeting = write_tone(tmp_path / "family-voice.wav", FAMILY_HZ, seconds)
    line = PracticeLineProcess(tmp_path / "practice", kamailio, FAMILY_NUMBER,
                               "--ring", "0.3", "--greeting", str(greeting))  # fmt: skip
    yield line
    line.stop()


class Desk:
    """The hub's line on the virtual handset, and the rows the panel would write."""

    def __init__(self, line: LineProcess, handset: VirtualHandset, family: Family) -> None:
        self.line, self.handset, self.family = line, handset, family
        self.number = family.number("+447700900123")

    def call(self, *, recording: bool = False) -> int:
        """Dial the family as the member of staff; the attempt's id once it is answered."""
        entry = self.family.entry(self.number, recording=recording) if recording else None
        attempt = self.family.attempt(self.number, entry_id=entry)
        self.line.client.request("dial", attempt=attempt)
        wait_until(lambda: self.family.row(attempt).answered_at, timeout=15,
                   what=f"the family to answer\n{self.line.log()}")  # fmt: skip
        return attempt

    def ended(self, attempt: int, timeout: float = 20) -> CallAttempt:
        """The attempt's row once the line has written its end."""
        return wait_until(lambda: (r := self.family.row(attempt)).end_reason and r,
                          timeout=timeout, what=f"attempt {attempt} to end")  # fmt: skip

    def speak(self, wav: Path) -> None:
        """The member of staff says ``wav`` into the handset; returns when it is said."""
        player = self.handset.speak(wav)
        assert player.wait(timeout=30) == 0, "paplay failed"


def start_desk(make_line, kamailio: Kamailio, handset: VirtualHandset,
               line_settings: dict | None = None, **audio) -> Iterator[Desk]:  # fmt: skip
    line = make_line(kamailio, audio={"device": handset.device, **audio},
                     line=line_settings or {})  # fmt: skip
    line.start(env=handset.env())
    with open_database(line.database_url) as database:
        yield Desk(line, handset, Family(database))


@pytest.fixture
def desk(make_line, kamailio: Kamailio, handset: VirtualHandset, parent) -> Iterator[Desk]:
    """The line daemon on the virtual handset as a headset (no echo cancellation).

    Echo cancellation's noise suppressor fades a steady tone out within a second or
    two, as it should; the tones that measure the path go through without it.
    """
    yield from start_desk(make_line, kamailio, handset, echo_cancellation=False)


@pytest.fixture
def handset_desk(make_line, kamailio: Kamailio, handset: VirtualHandset, parent) -> Iterator[Desk]:
    """The line daemon on the virtual handset with the defaults: echo cancellation on."""
    yield from start_desk(make_line, kamailio, handset)


def parents_recording(parent: PracticeLineProcess, call: int = 1) -> Path:
    """The practice line's recording of its ``call``-th call, once it is complete."""
    saved = wait_until(lambda: [e for e in parent.events("saved") if e["call"] == call],
                       timeout=15, what="the practice line's recording")  # fmt: skip
    return Path(saved[0]["recording"])


def test_staff_and_family_hear_each_other_through_the_handset(desk: Desk, parent, tmp_path):
    assert desk.line.status()["handset"] == "connected"
    earpiece = tmp_path / "earpiece.wav"
    desk.handset.listen(earpiece)
    attempt = desk.call()
    desk.speak(write_tone(tmp_path / "staff-voice.wav", STAFF_HZ, 3))
    desk.line.client.request("hangup")
    assert desk.ended(attempt).end_reason is EndReason.COMPLETED
    desk.handset.stop_listening()

    heard_by_family = listen_for(parents_recording(parent), STAFF_HZ)
    # 3 s of bursts, 200 ms in every 300: 2 s of tone. A burst that does not start on a
    # 20 ms window's edge touches 11 windows, and the jitter buffer may stretch one by a
    # frame more: up to 2.4 s counted. Twice the tone (an echo, a doubled stream) is 4 s.
    assert 1.6 <= heard_by_family.tone_s <= MOST_TONE_S, heard_by_family.tone_s
    assert heard_by_family.loudest_dbfs() > -30

    heard_by_staff = listen_for(earpiece, FAMILY_HZ)
    assert 1.6 <= heard_by_staff.tone_s <= MOST_TONE_S, heard_by_staff.tone_s
    assert heard_by_staff.loudest_dbfs() > -30
    # The family's own voice never comes back to the family, nor staff's to staff.
    assert listen_for(parents_recording(parent), FAMILY_HZ).tone_s < 0.2
    assert listen_for(earpiece, STAFF_HZ).tone_s < 0.2


def test_with_echo_cancellation_the_family_hears_the_member_of_staffs_speech(
    handset_desk: Desk, parent, tmp_path
):
    speech = tmp_path / "speech.wav"
    words = "Hello, this is Northfield School. Everything is fine."
    subprocess.run(["espeak-ng", "-v", "en-gb", "-w", str(speech), words], check=True)
    said = listen_for(speech, STAFF_HZ).sound_s()
    attempt = handset_desk.call()
    handset_desk.speak(speech)
    handset_desk.line.client.request("hangup")
    handset_desk.ended(attempt)

    heard = listen_for(parents_recording(parent), STAFF_HZ)
    assert 0.6 * said <= heard.sound_s() <= 1.3 * said, (heard.sound_s(), said)
    assert heard.loudest_dbfs() > -30


@pytest.mark.parametrize("parent", [6], indirect=True)
def test_muted_the_family_hears_silence_and_is_still_heard(desk: Desk, parent, tmp_path):
    earpiece = tmp_path / "earpiece.wav"
    desk.handset.listen(earpiece)
    attempt = desk.call()
    player = desk.handset.speak(write_tone(tmp_path / "staff-voice.wav", STAFF_HZ, 5))
    time.sleep(1.5)
    assert desk.line.client.request("mute", on=True) == {"muted": True}
    assert desk.line.status()["muted"] is True
    assert player.wait(timeout=10) == 0
    desk.line.client.request("hangup")
    desk.ended(attempt)
    desk.handset.stop_listening()

    # Times count from the first burst each side heard, so a slow machine's delays
    # before the speaking starts do not matter; the mute came 1.5 s into 5 s of it.
    heard_by_family = listen_for(parents_recording(parent), STAFF_HZ)
    spoke = heard_by_family.first_tone_s()
    assert spoke is not None
    assert heard_by_family.tone_between(spoke, spoke + 1.0) > 0.3  # before muting
    assert heard_by_family.tone_between(spoke + 2.5, spoke + 5) < 0.1  # muted: silence
    # The family's 6 s greeting, begun at the answer, goes on reaching the earpiece.
    heard_by_staff = listen_for(earpiece, FAMILY_HZ)
    greeted = heard_by_staff.first_tone_s()
    assert greeted is not None
    assert heard_by_staff.tone_between(greeted + 3.0, greeted + 5.0) > 0.6


def test_the_family_hears_the_recording_notice_and_the_voicemail_message(desk: Desk, parent):
    attempt = desk.call(recording=True)
    wait_until(lambda: desk.line.status()["recording"], timeout=20, what="recording to start")
    desk.line.client.request("voicemail")
    row = desk.ended(attempt, timeout=40)
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "hub")

    heard = listen_for(parents_recording(parent), STAFF_HZ)
    # The notice (about 4 s of speech) and the message (about 10 s) reached the family.
    assert heard.sound_s() > 8, heard.sound_s()


def test_a_handset_unplugged_mid_call_ends_it_as_interrupted_and_comes_back(
    desk: Desk, parent, tmp_path
):
    attempt = desk.call()
    desk.handset.unplug()
    row = desk.ended(attempt, timeout=10)
    assert (row.end_reason, row.ended_by) == (EndReason.INTERRUPTED, "handset")
    with desk.family.database.session() as session:
        [audit] = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.interrupted"))
        assert (audit.target_id, audit.detail) == (attempt, {"by": "handset"})
    status = wait_until(lambda: (s := desk.line.status())["handset"] == "unplugged" and s,
                        timeout=5, what="the status to say the handset is unplugged")  # fmt: skip
    assert "cannot be opened" in status["handset_problem"]
    assert status["lights"]["red"] == "blinking"
    with pytest.raises(ControlError, match="handset is not plugged in"):
        desk.call()

    desk.handset.plug_in()
    wait_until(lambda: desk.line.status()["handset"] == "connected", timeout=5,
               what="the line to find the handset again")  # fmt: skip
    assert desk.line.status()["lights"] == {"green": "on", "amber": "off", "red": "off"}
    pid = desk.line.process.pid if desk.line.process else None
    again = desk.call()
    desk.speak(write_tone(tmp_path / "staff-voice.wav", STAFF_HZ, 1.5))
    desk.line.client.request("hangup")
    desk.ended(again)
    assert listen_for(parents_recording(parent, call=2), STAFF_HZ).tone_s > 0.7
    assert desk.line.process is not None and desk.line.process.pid == pid


INTERPRETER_NUMBER, INTERPRETER_HZ = "08081570123", 1500  # Ofcom's freephone drama range


@pytest.mark.parametrize("parent", [20], indirect=True)
def test_an_interpreter_joins_a_handset_call_and_each_party_hears_the_other_two(
    make_line, kamailio: Kamailio, handset: VirtualHandset, parent, tmp_path
):
    voice = write_tone(tmp_path / "interpreter-voice.wav", INTERPRETER_HZ, 20)
    interpreter = PracticeLineProcess(tmp_path / "interpreter", kamailio, INTERPRETER_NUMBER,
                                      "--ring", "0.3", "--greeting", str(voice))  # fmt: skip
    desk = next(start_desk(make_line, kamailio, handset, {"interpreter_number": INTERPRETER_NUMBER},
                           echo_cancellation=False))  # fmt: skip
    earpiece = tmp_path / "earpiece.wav"
    desk.handset.listen(earpiece)
    attempt = desk.call()
    # No attempt named: the call on the handset, as the CLI would ask.
    assert desk.line.client.request("interpreter", on=True) == {"interpreter": True}
    wait_until(lambda: interpreter.events("answered"), what="the interpreter to answer")
    desk.speak(write_tone(tmp_path / "staff-voice.wav", STAFF_HZ, 4))
    desk.line.client.request("interpreter", on=False)
    wait_until(lambda: interpreter.events("ended"), what="the interpreter's leg to end")
    [shown] = desk.line.status()["calls"]
    assert (shown["via"], shown["state"], shown["interpreter"]) == ("handset", "connected", None)
    desk.line.client.request("hangup")
    assert desk.ended(attempt).end_reason is EndReason.COMPLETED
    desk.handset.stop_listening()

    at_interpreter = parents_recording(interpreter)
    assert share(at_interpreter, STAFF_HZ) > 0.1 and share(at_interpreter, FAMILY_HZ) > 0.1
    at_family = parents_recording(parent)
    assert share(at_family, STAFF_HZ) > 0.05 and share(at_family, INTERPRETER_HZ) > 0.05
    assert share(earpiece, FAMILY_HZ) > 0.05 and share(earpiece, INTERPRETER_HZ) > 0.05
    # Nobody hears themselves back: not the family, the interpreter, nor the handset.
    assert share(at_family, FAMILY_HZ) < 0.02
    assert share(at_interpreter, INTERPRETER_HZ) < 0.02
    assert share(earpiece, STAFF_HZ) < 0.02
