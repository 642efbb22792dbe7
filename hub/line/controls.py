"""What staff do to a call that is up: hang up, leave the message, mute, keys, the interpreter.

Each command names its call by attempt (None: the call on the handset). ``CallControls``
finds the call and carries the command out, on the SIP thread, for the Line.
"""

from __future__ import annotations

from typing import Protocol

from hub.config import Config
from hub.exceptions import LineError
from hub.line.audio import CallAudio
from hub.line.bridge import Bridge, Bridges
from hub.line.call import HubCall
from hub.line.commands import Hangup, Interpreter, Keys, Mute, Voicemail
from hub.line.keys import send_keys
from hub.line.sip import SipStack
from hub.models import EndReason

CallCommand = Hangup | Voicemail | Mute | Keys | Interpreter


class ControlledLine(Protocol):
    """The Line, as its calls' controls use it."""

    config: Config
    call: HubCall | None
    bridges: Bridges
    audio: CallAudio
    stack: SipStack | None

    def calls_up(self) -> list[HubCall]:
        """Every call up: the handset's, and each leg of each bridge."""

    def hang_up(self, call: HubCall, end_reason: EndReason, ended_by: str) -> None:
        """End ``call``, as ``ended_by`` and for ``end_reason``."""

    def show(self) -> None:
        """Update the status snapshot and the LEDs."""


class CallControls:
    """Carries out a member of staff's command about one of the line's calls."""

    def __init__(self, line: ControlledLine) -> None:
        self.line = line

    def carry_out(self, command: CallCommand) -> None:
        """Do ``command`` to the call it names; LineError, in one sentence, if it cannot be."""
        line = self.line
        call, bridge = self.find(command.attempt_id)
        if isinstance(command, Hangup):
            if bridge is not None:
                line.bridges.hang_up(bridge, "staff")
                return
            if call is None:
                raise LineError("There is no call to hang up.")
            answered = call.answered_at is not None
            line.hang_up(call, EndReason.COMPLETED if answered else EndReason.CANCELLED, "staff")
        elif isinstance(command, Voicemail):
            line.audio.leave_voicemail(call)
        elif isinstance(command, Mute):
            line.audio.mute(call, command.on)
        elif isinstance(command, Keys):
            self._keys(call, command)
        else:
            self._interpreter(call, command.callee)

    def find(self, attempt_id: int | None) -> tuple[HubCall | None, Bridge | None]:
        """The family's call for an attempt (None: the handset's), and its own-phone bridge."""
        line = self.line
        if attempt_id is None or (line.call is not None and line.call.attempt_id == attempt_id):
            return line.call, None
        bridge = line.bridges.by_attempt.get(attempt_id)
        if bridge is None:
            return None, None
        return bridge.family, bridge

    def _keys(self, call: HubCall | None, command: Keys) -> None:
        if call is None or call.answered_at is None:
            raise LineError("Keys can be sent only while a call is answered.")
        if command.to_interpreter:
            call = call.bridge.interpreter if call.bridge is not None else None
            if call is None or call.answered_at is None:
                raise LineError("The interpreter has not answered yet.")
        send_keys(call, command.keys, self.line.config.sip.dtmf)

    def _interpreter(self, call: HubCall | None, callee: str | None) -> None:
        """Join the interpreting service to an answered call (``callee``), or drop it (None)."""
        line = self.line
        if call is None or call.answered_at is None:
            raise LineError("An interpreter can join a call only once it has been answered.")
        if callee is None:
            line.bridges.drop_interpreter(call.bridge)
            return
        assert line.stack is not None
        if len(line.calls_up()) >= line.stack.settings.calls - 2:  # two kept for strangers
            raise LineError("The hub is carrying as many calls as it can; try again soon.")
        line.bridges.add_interpreter(call, callee)
        line.show()
