"""What the line shows: the status snapshot other threads read, and the status LEDs.

The SIP thread works both out from the line's state each time it changes; other
threads only read the snapshot, a copy taken under a lock, never pjsua2.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import calls
from hub.line.call import HubCall
from hub.line.registration import Binding
from hub.line.states import LineState, Registration

if TYPE_CHECKING:
    from hub.line.bridge import Bridge

# The LEDs show the furthest on of the hub's calls.
_FURTHEST = (LineState.IDLE, LineState.DIALLING, LineState.RINGING, LineState.CONNECTED)


class StatusBoard:
    """The line's status as last shown, and the LEDs it is shown on (``on_change``)."""

    def __init__(self, on_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_change = on_change
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {
            "registration": "starting",
            "registration_problem": None,
            "registration_retry_at": None,
            "call": None,
            "calls": [],
            "recording": False,
            "handset": "starting",
            "handset_problem": None,
            "muted": False,
        }
        self.lights_due = False  # the LEDs are behind the status until the poll returns

    def snapshot(self) -> dict[str, Any]:
        """The status as last shown (from any thread)."""
        with self._lock:
            return dict(self._status)

    @property
    def starting(self) -> bool:
        """Whether the handset has yet to be shown, one way or the other."""
        return self._status["handset"] == "starting"

    def show(
        self,
        call: HubCall | None,
        registration: Registration,
        handset: str,
        handset_problem: str | None,
        *,
        lights: bool = True,
        binding: Binding | None = None,
        bridges: list[Bridge] | None = None,
    ) -> None:
        """Update the status snapshot and the LEDs (``lights=False``: the LEDs after the poll).

        ``binding`` says why the hub is not registered and when it next tries (as a
        wall-clock time, so a reader later still counts down from it). ``call`` is the
        handset's; ``calls`` lists it and each call through a member of staff's phone.
        """
        shown = [] if call is None else [_shown(call, "handset")]
        for bridge in bridges or ():
            shown.append(_bridged(bridge))
        line_state = LineState.IDLE
        if call is not None:
            line_state = LineState(shown[0]["state"])
        elif shown:
            line_state = max((LineState(c["state"]) for c in shown), key=_FURTHEST.index)
        recording = any(c["recording"] for c in shown)
        problem = retry_at = None
        if binding is not None and registration is not Registration.REGISTERED:
            problem = binding.problem
            if (retry_in := binding.retry_in_s()) is not None:
                retry_at = time.time() + retry_in
        snapshot = {
            "registration": registration.value,
            "registration_problem": problem,
            "registration_retry_at": retry_at,
            "call": None
            if call is None
            else {"attempt": call.attempt_id, "state": line_state.value},
            "calls": shown,
            "recording": recording,
            "handset": handset,
            "handset_problem": handset_problem,
            "muted": call is not None and call.muted,
        }
        with self._lock:
            self._status = snapshot
        self.lights_due = not lights
        if lights and self.on_change is not None:
            self.on_change(
                {
                    "registration": registration,
                    "line": line_state,
                    "recording": recording,
                    "handset_missing": handset == "unplugged",
                }
            )


def _shown(call: HubCall, via: str) -> dict[str, Any]:
    stage = calls.stage(ended=False, answered=call.answered_at is not None, ringing=call.ringing)
    leg = call.bridge.interpreter if call.bridge is not None else None
    interpreter = None if leg is None else "answered" if leg.answered_at else "ringing"
    return {"attempt": call.attempt_id, "state": LineState(stage).value, "via": via,
            "muted": call.muted, "recording": call.recorder is not None,
            "interpreter": interpreter}  # fmt: skip


def _bridged(bridge: Bridge) -> dict[str, Any]:
    """A call through a member of staff's phone: "dialling" until the family is rung."""
    family = bridge.family
    if family is None:
        shown = {"attempt": bridge.attempt_id, "state": LineState.DIALLING.value,
                 "via": "own_phone", "muted": False, "recording": False,
                 "interpreter": None}  # fmt: skip
    else:
        shown = _shown(family, "own_phone")
    shown["your_phone"] = bridge.staff_state()
    return shown
