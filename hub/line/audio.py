"""A call's sound: the handset, the recording notice and the recording, the message, muting.

Everything here runs on the SIP thread, called by the Line that owns it. pjsua2
deletes a player or recorder with its last Python reference, so each one a call
lets go of is held here until the next loop turn, outside any callback; and an
``AudioMediaRecorder`` writes its WAV header only once it is deleted and the loop
turns again, so a recording is said to be saved a turn after that.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pjsua2 as pj

from hub.exceptions import LineError
from hub.line.call import HubCall, Leg
from hub.line.sip import Player, SipStack, audio_media, reason
from hub.models import EndReason
from hub.spoken import Prompts

if TYPE_CHECKING:
    from hub.line.bridge import Bridge

log = logging.getLogger(__name__)


class AudioOwner(Protocol):
    """Whoever runs the calls and the stack: shows and says what the audio did."""

    stack: SipStack | None

    def show(self) -> None:
        """Update the status snapshot and the LEDs."""

    def publish(self, event: dict[str, Any]) -> None:
        """Say ``event`` once the current poll returns."""

    def hang_up(self, call: HubCall, end_reason: EndReason, ended_by: str) -> None:
        """End ``call``, as ``ended_by`` and for ``end_reason``."""


class CallAudio:
    """Connects each call to the handset, plays into it and records it."""

    def __init__(self, owner: AudioOwner, prompts: Prompts) -> None:
        self.owner = owner
        self.prompts = prompts
        # A recording is announced a turn after its recorder is deleted (the turn after
        # its call ends): the WAV header is written as the loop polls in between.
        self._deleting: list[tuple[int | None, Path]] = []
        self._saved: list[tuple[int | None, Path]] = []
        self._releasing: list[object] = []

    def turn(self) -> None:
        """Once per loop turn, outside any callback: delete what the last turn let go of."""
        for attempt_id, path in self._saved:
            self.owner.publish({"event": "recording", "attempt": attempt_id, "on": False,
                                "saved": str(path)})  # fmt: skip
        self._saved, self._deleting = self._deleting, []
        self._releasing.clear()

    def release(self) -> None:
        """Delete every player and recorder let go of, at once (when the line shuts down)."""
        self._releasing.clear()

    def release_later(self, media: object) -> None:
        """Delete a player or recorder on the next turn, outside any callback."""
        self._releasing.append(media)

    def let_go(self, call: HubCall) -> None:
        """A call is disconnecting: hold its player and recorder until the next turn."""
        if call.recorder is not None and call.recording_path is not None:
            self._deleting.append((call.attempt_id, call.recording_path))
        self._stop_player(call)
        self._releasing.append(call.recorder)
        call.recorder = None

    def connect(self, call: HubCall) -> bool:
        """A call's media changed: connect it to the handset; False if it could not be."""
        stack = self.owner.stack
        assert stack is not None
        media = audio_media(call)
        if media is None or call.finished:
            return True
        earpiece = stack.audio_device_media()[1]
        connected = True
        try:
            media.startTransmit(earpiece)
            self._route_microphone(call)
        except pj.Error as exc:
            # The handset went between the watch's checks; the watch will say so.
            log.warning("the handset could not be opened for the call: %s", reason(exc))
            connected = False
        self.answered(call)
        return connected

    def join(self, bridge: Bridge) -> None:
        """Let each party to a call of several legs hear the others, and its recording all.

        The parties are its legs, and the hub's handset when the member of staff is on
        it. Run again whenever a leg's media or the mute changes; connecting twice is
        harmless. A muted member of staff is heard by nobody, the recording included.
        """
        family = bridge.family
        muted = family is not None and family.muted
        recorder = family.recorder if family is not None else None
        parties: list[tuple[pj.AudioMedia, pj.AudioMedia, bool]] = [
            (media, media, leg.leg is Leg.STAFF)  # what it says, what it hears, is it staff
            for leg in bridge.legs()
            if (media := audio_media(leg)) is not None
        ]
        if bridge.handset and self.owner.stack is not None:
            microphone, earpiece = self.owner.stack.audio_device_media()
            parties.append((microphone, earpiece, True))
        for n, (source, _, staff) in enumerate(parties):
            targets = [heard for m, (_, heard, _) in enumerate(parties) if m != n]
            if recorder is not None:
                targets.append(recorder)
            for target in targets:
                try:
                    if muted and staff:
                        with contextlib.suppress(pj.Error):  # it was never connected
                            source.stopTransmit(target)
                    else:
                        source.startTransmit(target)
                except pj.Error as exc:  # the handset went between the watch's checks
                    log.warning("a party to the call could not be joined: %s", reason(exc))

    def answered(self, call: HubCall) -> None:
        """Start the message or the recording notice, once the call has audio *and* an answer.

        Many networks send audio before the answer (ringback in a 183): a notice
        played then would reach nobody, and recording would start while ringing.
        """
        if call.answered_at is None or call.finished or call.prompted:
            return  # before the media lookup: this runs before the ACK is sent
        media = audio_media(call)
        if media is None:
            return
        call.prompted = call.play_message or call.recording_path is not None
        if call.play_message:
            self._play_message(call, media)
        elif call.recording_path is not None:
            # The parent hears the recording notice before anything is recorded.
            call.player = Player((call.prompts or self.prompts).recording_notice, lambda: None)
            call.player.on_end = lambda: self._start_recording(call)
            call.player.startTransmit(media)

    def _start_recording(self, call: HubCall) -> None:
        assert self.owner.stack is not None and call.recording_path is not None
        media = audio_media(call)
        if media is None or call.finished:
            return
        call.recording_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(str(call.recording_path))
        os.chmod(call.recording_path, 0o600)
        media.startTransmit(recorder)
        call.recorder = recorder
        self._route_microphone(call)
        self.owner.show()  # the LEDs and status first, so whoever hears the event sees them
        self.owner.publish({"event": "recording", "attempt": call.attempt_id, "on": True})

    def mute(self, call: HubCall | None, on: bool) -> None:
        """Stop (``on``) or restart sending the handset's microphone to the family."""
        if call is None or call.answered_at is None:
            raise LineError("There is no call in progress to mute.")
        if call.muted == on:
            return
        call.muted = on
        self._route_microphone(call)
        self.owner.show()
        self.owner.publish({"event": "mute", "attempt": call.attempt_id, "on": on})

    def _route_microphone(self, call: HubCall) -> None:
        """Send the handset's microphone to the family and the recording, unless muted.

        On a bridged call the member of staff's phone is the microphone.
        """
        if call.bridge is not None:
            self.join(call.bridge)
            return
        assert self.owner.stack is not None
        media = audio_media(call)
        if media is None:
            return
        microphone = self.owner.stack.audio_device_media()[0]
        for target in (media, call.recorder):
            if target is None:
                continue
            if call.muted:
                with contextlib.suppress(pj.Error):  # it was never connected
                    microphone.stopTransmit(target)
            else:
                microphone.startTransmit(target)

    def leave_voicemail(self, call: HubCall | None) -> None:
        """Play the school's message into the answered call, then hang up."""
        if call is None or call.answered_at is None:
            raise LineError("A message can only be left once the call has been answered.")
        media = audio_media(call)
        if media is None:
            raise LineError("The call has no audio to play the message into.")
        self._play_message(call, media)

    def _play_message(self, call: HubCall, media: pj.AudioMedia) -> None:
        self._stop_player(call)
        prompts = call.prompts or self.prompts
        call.player = Player(prompts.voicemail, lambda: None)
        call.player.startTransmit(media)
        if call.bridge is not None:  # the member of staff hears it go, on their own phone
            for leg in call.bridge.legs():
                if leg is not call and (heard := audio_media(leg)) is not None:
                    call.player.startTransmit(heard)
        call.player.on_end = lambda: self.owner.hang_up(call, EndReason.COMPLETED, "hub")
        self.owner.publish({"event": "voicemail", "attempt": call.attempt_id, "state": "playing",
                            "language": prompts.language})  # fmt: skip

    def finish_playing(self, call: HubCall) -> None:
        """Once per turn: if the call's player has ended, let it go and do what follows it."""
        if call.player is not None and call.player.ended:
            on_end, call.player.on_end = call.player.on_end, lambda: None
            self._stop_player(call)
            on_end()

    def _stop_player(self, call: HubCall) -> None:
        """Stop what is playing into the call; the player goes on the next turn."""
        if call.player is not None:
            call.player.on_end = lambda: None  # it may hold the call
            self._releasing.append(call.player)
            call.player = None
