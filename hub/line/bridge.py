"""Calls of more than one leg, joined in the hub: a member of staff's own phone, an interpreter.

"Call from my phone": the hub rings the member of staff's phone first, showing the
school's number. When they answer, it tells them who is being called (the whisper) and
asks them to press 1, so that a voicemail answering the staff phone is never put through
to the family. Once 1 is pressed it dials the family, presenting the school as for
every call, and joins the two on pjsua's conference bridge (``CallAudio.join``): each
hears the other, and the recording, when the campaign records, hears both. The family
never sees the member of staff's number, nor they the family's. Either side hanging up
ends both.

Only the family leg's states are the attempt's (ringing, answered, ended). The staff
leg's are said as ``leg`` events. A staff phone that is busy or unanswered
(``staff_phone``), put down before the family is rung (``staff``), or never pressing 1
after the whisper is said three times (``not_accepted``) ends the attempt as
``interrupted``: the family was never rung, so nothing is counted against them and the
card stays.

An interpreter (``[line] interpreter_number``) joins a call as a third leg, on a call
from the hub's handset as on one from a member of staff's phone: every party hears the
other two. Dropping the interpreter ends that leg only. A handset call that gains an
interpreter gets a bridge of its own (``handset``: the handset is its member of staff).

Everything here runs on the SIP thread, for the Line, which owns the calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pjsua2 as pj

from hub.exceptions import LineError
from hub.line.audio import CallAudio
from hub.line.call import HubCall, Leg, call_event
from hub.line.commands import Dial
from hub.line.sip import Player, audio_media, reason
from hub.models import EndReason

log = logging.getLogger(__name__)

ACCEPT_KEY = "1"  # pressed on the member of staff's phone: "put me through"
WHISPER_PLAYS = 3  # the whisper is said this often, waiting for 1, before giving up
# The UK ringing tone (400 + 450 Hz: 0.4 s on, 0.2 off, 0.4 on, 2 off), so a member of
# staff waiting for the family hears it ring rather than silence.
RINGBACK = ((400, 450, 400, 200), (400, 450, 400, 2000))


@dataclass(eq=False)
class Bridge:
    """One attempt made through a member of staff's own phone, and its legs."""

    attempt_id: int
    family_dial: Dial | None  # placed once the member of staff has heard who they are calling
    # Each leg while it is up. pjsua2 frees a call's slot as it disconnects, and a Call
    # object deleted after that hangs up whichever call took the slot: so each is let
    # go of (None) inside its disconnect callback.
    staff: HubCall | None = None
    family: HubCall | None = None
    interpreter: HubCall | None = None
    family_rung: bool = False  # the family's INVITE has been sent
    staff_answered: bool = False
    handset: bool = False  # the member of staff is on the hub's handset, not their own phone
    whisper: Player | None = None
    ringback: pj.ToneGenerator | None = None  # what the member of staff hears as it rings
    whisper_started: bool = False
    plays: int = 0  # times the whisper has been heard to the end
    accepted: bool = False  # the member of staff pressed 1
    # Once decided, why the attempt ends if the family was never rung.
    ending: tuple[EndReason, str] | None = None
    started: float = field(default_factory=time.monotonic)

    def legs(self) -> list[HubCall]:
        """The legs still up (or being set up)."""
        return [c for c in (self.staff, self.family, self.interpreter)
                if c is not None and not c.finished]  # fmt: skip

    def staff_state(self) -> str:
        """The staff phone's state for the desk: ringing, answered or ended."""
        if self.staff is None or self.staff.finished:
            return "ended"
        return "answered" if self.staff_answered else "ringing"


class BridgeOwner(Protocol):
    """The Line, as the bridges use it."""

    def place(self, call: HubCall, callee: str) -> None:
        """Send ``call``'s INVITE to ``callee`` as the school; LineError if it cannot."""

    def publish(self, event: dict[str, Any]) -> None:
        """Say ``event`` once the current poll returns."""

    def show(self) -> None:
        """Update the status snapshot and the LEDs."""

    def hang_up(self, call: HubCall, end_reason: EndReason, ended_by: str) -> None:
        """End ``call``, as ``ended_by`` and for ``end_reason``."""

    def new_call(self, attempt_id: int | None, *, leg: Leg, bridge: Bridge) -> HubCall:
        """A call on the hub's account, not yet placed."""


class Bridges:
    """Every call the hub is carrying through staff members' own phones."""

    def __init__(self, owner: BridgeOwner, audio: CallAudio) -> None:
        self.owner = owner
        self.audio = audio
        self.by_attempt: dict[int, Bridge] = {}  # calls through members of staff's phones
        self.handset: Bridge | None = None  # the handset's call, once it has an interpreter

    def __len__(self) -> int:
        return len(self.by_attempt)

    def __iter__(self) -> Iterator[Bridge]:
        return iter(list(self.by_attempt.values()))

    def every(self) -> list[Bridge]:
        """Each bridge, the handset call's included."""
        return [*self, *([self.handset] if self.handset is not None else [])]

    def add_interpreter(self, family: HubCall, callee: str) -> None:
        """Dial the interpreting service into the answered call ``family``, as the school."""
        bridge = family.bridge
        if bridge is None:  # a call on the handset: the handset becomes one of its legs
            assert family.attempt_id is not None
            bridge = Bridge(family.attempt_id, None, family=family, family_rung=True,
                            handset=True)  # fmt: skip
            family.bridge = self.handset = bridge
        if bridge.interpreter is not None:
            raise LineError("The interpreter is already on this call.")
        interpreter = self.owner.new_call(None, leg=Leg.INTERPRETER, bridge=bridge)
        self.owner.place(interpreter, callee)
        bridge.interpreter = interpreter
        self._say(bridge, "ringing", leg=Leg.INTERPRETER)

    def drop_interpreter(self, bridge: Bridge | None) -> None:
        """Hang up the interpreter's leg only; the family and the member of staff talk on."""
        if bridge is None or bridge.interpreter is None:
            raise LineError("There is no interpreter on this call.")
        self.owner.hang_up(bridge.interpreter, EndReason.COMPLETED, "staff")

    def start(self, command: Dial) -> None:
        """Ring the member of staff's phone; the family's dial waits for their answer."""
        assert command.own_phone is not None
        bridge = Bridge(command.attempt_id, command)
        staff = self.owner.new_call(None, leg=Leg.STAFF, bridge=bridge)
        bridge.staff = staff
        self.by_attempt[command.attempt_id] = bridge
        try:
            self.owner.place(staff, command.own_phone)
        except LineError:
            if not staff.finished:  # else its disconnect has said how the attempt ended
                self.owner.publish(_failed(command.attempt_id))
            self._forget(bridge)
            raise
        self.owner.publish(call_event(command.attempt_id, "dialling"))
        self._say(bridge, "ringing")

    def hang_up(self, bridge: Bridge, ended_by: str) -> None:
        """End the whole call: the family's leg if it was rung, else the staff phone's."""
        family = bridge.family
        if family is not None and not family.finished:
            answered = family.answered_at is not None
            why = EndReason.COMPLETED if answered else EndReason.CANCELLED
            self.owner.hang_up(family, why, ended_by)
            return
        bridge.ending = bridge.ending or (EndReason.INTERRUPTED, ended_by)
        for leg in bridge.legs():
            self.owner.hang_up(leg, EndReason.INTERRUPTED, ended_by)

    def interrupt_all(self) -> None:
        """The line is stopping: every leg of every bridge ends, as interrupted."""
        for bridge in self.every():
            bridge.ending = bridge.ending or (EndReason.INTERRUPTED, "system")
            for leg in bridge.legs():
                self.owner.hang_up(leg, EndReason.INTERRUPTED, "system")

    # --- pjsua2 callbacks, for the staff and interpreter legs -------------

    def leg_state(self, call: HubCall, state: int, status: int) -> None:
        """A staff or interpreter leg's INVITE session changed state."""
        bridge = call.bridge
        assert bridge is not None
        if state == pj.PJSIP_INV_STATE_EARLY and not call.ringing:
            call.ringing = True
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and call.answered_at is None:
            call.answered_at = call.rx_changed = time.monotonic()
            bridge.staff_answered = bridge.staff_answered or call.leg is Leg.STAFF
            self._say(bridge, "answered", leg=call.leg)
            self.leg_media(call)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not call.finished:
            call.finished = True
            self.audio.let_go(call)
            if call is bridge.staff:
                bridge.staff = None
                self._staff_gone(bridge, call, status)
            elif call is bridge.interpreter:
                bridge.interpreter = None
            self._say(bridge, "ended", leg=call.leg)
            self._forget_if_done(bridge)

    def leg_media(self, call: HubCall) -> None:
        """A staff or interpreter leg's media changed: whisper, then join it to the others."""
        bridge = call.bridge
        assert bridge is not None
        if call.finished or call.answered_at is None or audio_media(call) is None:
            return
        if call.leg is Leg.STAFF and not bridge.whisper_started and not bridge.family_rung:
            bridge.whisper_started = True
            self._play_whisper(bridge, call)
        self.audio.join(bridge)

    def staff_key(self, call: HubCall, key: str) -> None:
        """A key pressed on a member of staff's phone: 1 puts them through (on the next turn)."""
        bridge = call.bridge
        if bridge is not None and call is bridge.staff and key == ACCEPT_KEY:
            bridge.accepted = True

    def family_gone(self, bridge: Bridge) -> None:
        """The family's leg ended (its own event already said so): every other leg goes."""
        self._stop_ringback(bridge)
        for leg in bridge.legs():
            self.owner.hang_up(leg, EndReason.COMPLETED, "remote")
        self._forget_if_done(bridge)

    def forget(self, call: HubCall) -> None:
        """A family leg disconnected: let go of it, and of the bridge once nothing is left."""
        bridge = call.bridge
        if bridge is not None:
            if bridge.family is call:
                bridge.family = None
            self._forget_if_done(bridge)

    # --- once a turn ---------------------------------------------------------

    def turn(self) -> None:
        """Say the whisper again, or ring the family once it has been heard and 1 pressed.

        Never inside a callback: placing a call and deleting a player happen here.
        """
        for bridge in self.every():
            staff = bridge.staff
            if bridge.family_rung or staff is None or staff.hangup_as is not None:
                continue
            player = bridge.whisper
            if player is not None and player.ended:
                bridge.plays += 1
                self._stop_whisper(bridge)
                if not bridge.accepted and bridge.plays < WHISPER_PLAYS:
                    self._play_whisper(bridge, staff)
                elif not bridge.accepted:  # a voicemail, or nobody there: the family is spared
                    self.owner.hang_up(staff, EndReason.INTERRUPTED, "not_accepted")
                    continue
            if bridge.accepted and bridge.plays >= 1:
                self._ring_family(bridge)

    def _play_whisper(self, bridge: Bridge, staff: HubCall) -> None:
        """Tell the member of staff who they are calling, and to press 1."""
        assert bridge.family_dial is not None
        path, media = bridge.family_dial.whisper, audio_media(staff)
        why = "it could not be said" if path is None else "the call has no audio"
        if path is not None and media is not None:
            try:
                bridge.whisper = Player(path, lambda: None)
                bridge.whisper.startTransmit(media)
                return
            except pj.Error as exc:  # the file went (a clean-up, a full disk)
                why = reason(exc)
        # Without it nobody can be asked for 1: put them through, as before there was one.
        log.warning("the whisper could not be played (%s); the family is rung", why)
        bridge.whisper = None
        bridge.accepted, bridge.plays = True, max(bridge.plays, 1)

    # --- inside --------------------------------------------------------------

    def _ring_family(self, bridge: Bridge) -> None:
        """The member of staff knows who they are calling: dial the family as the school."""
        staff = bridge.staff
        if bridge.family_rung or staff is None or staff.finished or bridge.ending:
            return
        if staff.hangup_as is not None:  # being hung up: its end is on its way
            return
        self._stop_whisper(bridge)
        dial = bridge.family_dial
        assert dial is not None
        family = self.owner.new_call(bridge.attempt_id, leg=Leg.FAMILY, bridge=bridge)
        family.recording_path = dial.recording
        family.prompts = dial.prompts
        bridge.family, bridge.family_rung = family, True
        try:
            self.owner.place(family, dial.callee)
        except LineError as exc:
            log.warning("the family's leg could not be placed: %s", exc)
            bridge.family = None
            self.owner.publish(_failed(bridge.attempt_id))
            self.owner.hang_up(staff, EndReason.FAILED, "system")
        else:
            self._ring_back(bridge, staff)
        self.owner.show()

    def _ring_back(self, bridge: Bridge, staff: HubCall) -> None:
        """Let the member of staff hear the family's phone ringing (not silence)."""
        media = audio_media(staff)
        if media is None:
            return
        tones = pj.ToneDescVector()
        for low, high, on_ms, off_ms in RINGBACK:
            tone = pj.ToneDesc()
            tone.freq1, tone.freq2, tone.on_msec, tone.off_msec = low, high, on_ms, off_ms
            tone.volume, tone.flags = 0, 0
            tones.append(tone)
        try:
            ringback = pj.ToneGenerator()
            ringback.createToneGenerator()
            ringback.play(tones, True)
            ringback.startTransmit(media)
        except pj.Error as exc:  # a nicety: the call goes on without it
            log.warning("the ringing tone could not be played: %s", reason(exc))
            return
        bridge.ringback = ringback

    def family_media(self, bridge: Bridge) -> None:
        """The family's phone sends sound (its network's ringing, or the answer): no tone."""
        self._stop_ringback(bridge)

    def _stop_ringback(self, bridge: Bridge) -> None:
        """Stop the ringing tone; it is deleted on the next turn, outside any callback."""
        if bridge.ringback is not None:
            self.audio.release_later(bridge.ringback)
            bridge.ringback = None

    def _staff_gone(self, bridge: Bridge, staff: HubCall, status: int) -> None:
        """The member of staff's phone hung up, or never answered: the attempt ends with it."""
        self._stop_whisper(bridge)
        family = bridge.family
        if not bridge.family_rung:
            # The family was never rung: the attempt ends here, and needs no outcome.
            why = bridge.ending or _staff_phone_ending(bridge, staff)
            self.owner.publish(call_event(bridge.attempt_id, "ended", end_reason=why[0],
                                          ended_by=why[1]))  # fmt: skip
            log.info("the staff phone's leg ended (SIP %s) before the family was rung", status)
            return
        if family is None or family.finished:
            return
        if staff.hangup_as is not None and staff.hangup_as[0] is EndReason.DROPPED:
            self.owner.hang_up(family, EndReason.DROPPED, "timeout")
            return
        answered = family.answered_at is not None
        self.owner.hang_up(family, EndReason.COMPLETED if answered else EndReason.CANCELLED,
                           "staff")  # fmt: skip

    def _stop_whisper(self, bridge: Bridge) -> None:
        if bridge.whisper is not None:
            bridge.whisper.on_end = lambda: None
            self.audio.release_later(bridge.whisper)
            bridge.whisper = None

    def _forget_if_done(self, bridge: Bridge) -> None:
        if not bridge.legs():
            self._forget(bridge)

    def _forget(self, bridge: Bridge) -> None:
        """Drop the bridge, and every reference between it and its calls."""
        self._stop_whisper(bridge)
        self._stop_ringback(bridge)
        for leg in (bridge.staff, bridge.family, bridge.interpreter):
            if leg is not None:
                leg.bridge = None
        bridge.staff = bridge.family = bridge.interpreter = None
        self.by_attempt.pop(bridge.attempt_id, None)
        if bridge is self.handset:
            self.handset = None

    def forget_all(self) -> None:
        """The stack is going: nothing of any bridge may outlive it."""
        for bridge in self.every():
            self._forget(bridge)

    def _say(self, bridge: Bridge, state: str, *, leg: Leg = Leg.STAFF) -> None:
        self.owner.publish({"event": "leg", "attempt": bridge.attempt_id, "leg": leg.value,
                            "state": state})  # fmt: skip


def _staff_phone_ending(bridge: Bridge, staff: HubCall) -> tuple[EndReason, str]:
    """Why an attempt ended whose member of staff's phone went before the family was rung."""
    if staff.hangup_as is not None and staff.hangup_as[1] in ("system", "staff", "not_accepted"):
        return EndReason.INTERRUPTED, staff.hangup_as[1]
    if bridge.staff_answered and staff.hangup_as is None:
        return EndReason.INTERRUPTED, "staff"  # answered, then put the phone down
    return EndReason.INTERRUPTED, "staff_phone"


def _failed(attempt_id: int) -> dict[str, Any]:
    """The event that says the hub could not place a call at all."""
    return call_event(attempt_id, "ended", end_reason=EndReason.FAILED, ended_by="system")
