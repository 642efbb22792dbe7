"""The line's states shown on the status LEDs: the hub's names mapped onto the driver's.

hardware/leds.py knows only "ready", how far a call has got, recording and fault;
this is where the line's registration and call states become those.
"""

from __future__ import annotations

import threading
from typing import Any

from hardware.leds import CallStage, StatusLights
from hub.line.states import LineState, Registration

# An IP-authenticated trunk takes calls without registering: the line is ready.
READY = frozenset({Registration.REGISTERED, Registration.NOT_NEEDED})
CALL_STAGE = {
    LineState.IDLE: CallStage.NONE,
    LineState.DIALLING: CallStage.SETTING_UP,
    LineState.RINGING: CallStage.SETTING_UP,
    LineState.CONNECTED: CallStage.CONNECTED,
}


def show(
    lights: StatusLights,
    *,
    registration: Registration,
    line: LineState,
    recording: bool,
    fault: bool,
) -> None:
    """Light ``lights`` for the line in this state."""
    lights.show(
        ready=registration in READY, call=CALL_STAGE[line], recording=recording, fault=fault
    )


class LineLights:
    """Combines the line's state and the database's health onto the LEDs."""

    def __init__(self, lights: StatusLights) -> None:
        self.lights = lights
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {
            "registration": Registration.UNREGISTERED,
            "line": LineState.IDLE,
            "recording": False,
            "handset_missing": False,
        }
        self.fault = False

    def line_changed(self, state: dict[str, Any]) -> None:
        """The line's state changed (called with ``Line.on_change``'s dict)."""
        with self.lock:
            self.state = state
            self._show()

    def database_fault(self, fault: bool) -> None:
        """A database write failed (True) or worked again (False)."""
        with self.lock:
            self.fault = fault
            self._show()

    def _show(self) -> None:
        state = dict(self.state)
        # An unplugged handset blinks the red LED, as a fault IT or staff can fix.
        handset_missing = state.pop("handset_missing", False)
        show(self.lights, fault=self.fault or handset_missing, **state)
