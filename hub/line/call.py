"""One call and what hangs off it: its state as pjsua2 reports it, its audio, its end.

A ``HubCall`` lives from the INVITE until pjsua2 says it is disconnected; its
owner (the Line, on the SIP thread) hears each of its callbacks.
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pjsua2 as pj

from hub.line.sip import Player, rx_packets
from hub.models import EndReason
from hub.spoken import Prompts

if TYPE_CHECKING:
    from hub.line.bridge import Bridge

# pjmedia_stream_dtmf_event_flags: a key already reported, held longer.
DTMF_IS_UPDATE = 1


class Leg(enum.StrEnum):
    """Who a call reaches: the family (the attempt's own call), or another leg of a bridge."""

    FAMILY = "family"
    STAFF = "staff"  # the member of staff's own phone
    INTERPRETER = "interpreter"


class CallOwner(Protocol):
    """Whoever runs the calls: told of every change, inside pjsua2's poll."""

    def on_call_state(self, call: HubCall) -> None:
        """The call's INVITE session changed state."""

    def on_call_media(self, call: HubCall) -> None:
        """The call's media changed."""

    def on_call_key(self, call: HubCall, key: str) -> None:
        """A key was pressed at the far end of the call."""


class HubCall(pj.Call):
    """One call attempt and everything hanging off it until it is released."""

    def __init__(
        self,
        line: CallOwner,
        account: pj.Account,
        attempt_id: int | None,
        call_id: int = pj.PJSUA_INVALID_ID,
        *,
        leg: Leg = Leg.FAMILY,
        bridge: Bridge | None = None,
    ) -> None:
        super().__init__(account, call_id)
        self.line = line
        self.attempt_id = attempt_id
        self.leg = leg
        self.bridge = bridge  # None: a call on the handset (or a test call with no one on it)
        self.started = time.monotonic()
        self.ringing = False
        # Whether the far end has answered the INVITE at all, if only with 100 Trying:
        # until it has, the INVITE cannot be cancelled (RFC 3261 9.1).
        self.responded = False
        self.answered_at: float | None = None
        self.hangup_as: tuple[EndReason, str] | None = None
        self.finished = False
        self.recording_path: Path | None = None
        self.play_message = False
        self.prompts: Prompts | None = None  # in the family's language; None: the line's own
        self.prompted = False  # the message or the recording notice has been started
        self.player: Player | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.muted = False
        self.rx_packets = 0
        self.rx_changed = time.monotonic()

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        self.line.on_call_state(self)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        self.line.on_call_media(self)

    def onDtmfEvent(self, prm: pj.OnDtmfEventParam) -> None:
        if not prm.flags & DTMF_IS_UPDATE:  # not the same key, held longer
            self.line.on_call_key(self, prm.digit)

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        tsx = prm.e.body.tsxState.tsx
        if tsx.method == "INVITE" and int(tsx.statusCode) >= 100:
            self.responded = True


def remote_ending(status: int, answered_at: float | None) -> tuple[EndReason, str]:
    """How a call the hub did not hang up itself ended, from its final SIP status."""
    if answered_at is not None:
        return EndReason.COMPLETED, "remote"
    if status in (486, 600):
        return EndReason.BUSY, "remote"
    if status in (480, 408):
        return EndReason.NO_ANSWER, "remote"
    if status in (603, 403, 487):
        return EndReason.REJECTED, "remote"
    return EndReason.FAILED, "remote"


def timed_out(call: HubCall, now: float, *, ring_s: float, silent_s: float) -> EndReason | None:
    """Why to end ``call``: unanswered after ``ring_s``, or answered yet silent for ``silent_s``.

    Once per turn: an answered call's received RTP is counted each time, and silence
    is measured from the last time the count moved.
    """
    if call.answered_at is None:
        if now - call.started < ring_s:
            return None
        # Not a word from the trunk, not even 100 Trying: nothing rang, so not "no answer".
        return EndReason.NO_ANSWER if call.responded else EndReason.FAILED
    packets = rx_packets(call)
    if packets is None:
        call.rx_changed = now  # on hold: the silence timer waits, and starts again after
        return None
    if packets != call.rx_packets:
        call.rx_packets, call.rx_changed = packets, now
    elif now - call.rx_changed >= silent_s:
        return EndReason.DROPPED
    return None


def call_event(
    call: HubCall | int | None,
    state: str,
    *,
    sip_status: int | None = None,
    end_reason: EndReason | None = None,
    ended_by: str | None = None,
) -> dict[str, Any]:
    """The event that says ``call`` (or attempt) reached ``state`` (and, if ended, how)."""
    attempt = call if call is None or isinstance(call, int) else call.attempt_id
    event: dict[str, Any] = {
        "event": "call",
        "attempt": attempt,
        "state": state,
        "at": datetime.now(UTC).isoformat(),
        "sip_status": sip_status,
    }
    if end_reason is not None:
        event["end_reason"] = end_reason.value
        event["ended_by"] = ended_by
    return event
