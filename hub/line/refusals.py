"""Inbound calls the line refuses, and how many it has refused, said sparingly.

The hub only calls out. Most INVITEs are refused beneath pjsua (``hub.line.inbound``);
one that pjsua offers the account anyway is declined here, on the next loop turn:
hanging up inside onIncomingCall trips an assertion in pjsip and aborts. Each
refused call is held until it is disconnected, since pjsua2 deletes a Call with
its last reference. Run by the Line, on the SIP thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from hub.line.call import HubCall
from hub.line.sip import call_param, reason
from hub.models import EndReason

log = logging.getLogger(__name__)

# However many inbound requests are refused, they make one event a second and one
# log line a minute: a flood must not flood the subscribers or the journal.
REFUSALS_EVENT_S = 1.0
REFUSALS_LOG_S = 60.0


class Tally:
    """How many more of something there are than last time, asked at most once per ``every`` s."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.reported = 0
        self.next_at = 0.0

    def due(self, total: int, now: float) -> int:
        """``total`` less what was last reported, if ``every`` has passed since; else 0."""
        if total <= self.reported or now < self.next_at:
            return 0
        count, self.reported, self.next_at = total - self.reported, total, now + self.every
        return count


class Refusals:
    """The inbound calls being declined, and the count of every refusal; says it by ``publish``."""

    def __init__(self, publish: Callable[[dict[str, Any]], None]) -> None:
        self.publish = publish
        self.retired: list[HubCall] = []  # inbound calls refused, held until they end
        self._to_refuse: list[HubCall] = []
        self._declined = 0  # inbound calls refused here rather than beneath pjsua
        self._events = Tally(REFUSALS_EVENT_S)
        self._lines = Tally(REFUSALS_LOG_S)

    def refuse(self, call: HubCall) -> None:
        """pjsua offered ``call`` (inside a callback): decline it on the next turn."""
        call.hangup_as = (EndReason.REJECTED, "hub")
        self.retired.append(call)  # let go of once it is disconnected
        self._to_refuse.append(call)

    def decline(self) -> None:
        """Once per turn, outside any callback: decline the calls offered since the last."""
        refusing, self._to_refuse = self._to_refuse, []
        for call in refusing:
            try:
                call.hangup(call_param(603))
            except pj.Error as exc:
                log.warning("could not decline an inbound call: %s", reason(exc))
            self._declined += 1

    def forget(self, call: HubCall) -> None:
        """``call`` is disconnecting: hold it no longer."""
        self.retired[:] = [c for c in self.retired if c is not call]  # shutdown holds the list
        self._to_refuse = [c for c in self._to_refuse if c is not call]

    def report(self, refused_beneath: int, now: float) -> None:
        """Say how many more were refused, here and beneath pjsua, if it is time to."""
        refused = self._declined + refused_beneath
        if count := self._events.due(refused, now):
            self.publish({"event": "inbound_refused", "count": count})
        if count := self._lines.due(refused, now):
            log.info("refused %d inbound call(s) or subscription(s); the hub only calls out", count)
