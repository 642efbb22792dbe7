"""Keeping the hub registered: its registration's state, keepalives and new REGISTERs.

While registered the hub asks the registrar OPTIONS every KEEPALIVE_S; no answer
within KEEPALIVE_DEADLINE_S means the registrar is unreachable, and the hub asks
again, less and less often, until it answers, then registers again.

A REGISTER refused for any reason but the password (404, 408, 480, 503, no answer, a
name that does not resolve) is tried again, never given up: after 1.5–3 s, then each
wait twice the last up to RETRY_MOST_S. Each wait is drawn at random from the upper
half of its range, so hubs that lost their trunk together don't return in step. A
rejected password stops it all: the same password would only be rejected again.

This module only decides: the Line carries out what it asks on the SIP thread,
through the ``Account`` it hands in, so nothing here touches pjsua2. pjsua's own
retry is off (``account.account_config``): it waits a fixed time, and not at all
after a 404.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from hub.line.states import Registration

log = logging.getLogger(__name__)

KEEPALIVE_S = 5.0  # OPTIONS to the registrar while registered…
KEEPALIVE_DOWN_S = 2.0  # …sooner once it is unreachable, then backing off…
PROBE_MOST_S = 30.0  # …to this at most
KEEPALIVE_DEADLINE_S = 3.0  # no answer by then: the registrar is unreachable
RETRY_FIRST_S = 3.0  # a refused REGISTER is tried again within this…
RETRY_MOST_S = 90.0  # …each wait doubling, to this at most
CREDENTIAL_CODES = (401, 403, 407)


Draw = Callable[[float, float], float]  # a random number between the two (random.uniform)


def backoff(attempt: int, first: float, most: float, draw: Draw) -> float:
    """How long to wait before the ``attempt``-th retry (1 for the first).

    Doubling from ``first`` to at most ``most``, drawn from the upper half of that.
    """
    ceiling = min(most, first * 2 ** min(attempt - 1, 30))
    return draw(ceiling / 2, ceiling)


def refusal_words(code: int) -> str:
    """What a failed REGISTER's status ``code`` means, for IT."""
    if code in (0, 408):
        return "the registrar did not answer"
    if code == 503:
        return "the registrar is unavailable or unreachable (503)"
    return f"the registrar refused the registration ({code})"


class Account(Protocol):
    """What the registration asks of the hub's SIP account, on the SIP thread."""

    def send_keepalive(self) -> str | None:
        """Send OPTIONS to the registrar; why it could not be sent, or None."""

    def register(self) -> str | None:
        """Send a REGISTER now; why it could not be started, or None."""

    def registration_set(self, state: Registration, code: int, *, changed: bool) -> None:
        """The registration is ``state`` after a SIP ``code``; ``changed`` if it was not."""


class Binding:
    """The hub's registration at the registrar, and the upkeep that keeps it there."""

    def __init__(
        self,
        account: Account,
        reregister_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        draw: Draw = random.uniform,
    ) -> None:
        self.account = account
        self.reregister_s = reregister_s
        self.clock = clock
        self.draw = draw
        self.state = Registration.UNREGISTERED
        self.problem: str | None = None  # why it is not registered, for IT
        self.register_at: float | None = None  # when the next REGISTER is due (clock)
        self._failures = 0  # REGISTERs refused in a row
        self._probes = 0  # keepalives sent in a row to an unreachable registrar
        self._keepalive_sent: float | None = None
        self._keepalive_next = 0.0
        self._refresh_next = 0.0
        self._reachable = True

    def on_registration(self, code: int, expiration: int) -> None:
        """pjsua's REGISTER finished with ``code``; ``expiration`` 0 means no binding."""
        if code // 100 == 2 and expiration > 0:
            self._reachable = True
            self._failures, self.register_at, self.problem = 0, None, None
            # A registrar restarted between two keepalives has forgotten the hub, and
            # its answers to OPTIONS can't say so; [sip] reregister_s bounds how long.
            self._refresh_next = self.clock() + self.reregister_s
            self.set_registration(Registration.REGISTERED, code)
        elif code in CREDENTIAL_CODES:
            # Stop, rather than hammer the trunk with the same wrong password.
            self.register_at = None
            self.problem = f"the registrar rejected the username or password ({code})"
            self.set_registration(Registration.CREDENTIALS_REJECTED, code)
        elif code // 100 == 2:
            self.register_at, self.problem = None, None  # taken off on purpose
            self.set_registration(Registration.UNREGISTERED, code)
        else:
            self._register_failed(refusal_words(code))
            self.set_registration(Registration.UNREGISTERED, code)

    def retry_in_s(self) -> float | None:
        """Seconds until the next REGISTER is due, if one is waiting."""
        if self.register_at is None or not self._reachable:
            return None
        return max(0.0, self.register_at - self.clock())

    def _register_failed(self, problem: str) -> None:
        """Try again later: a little later each time, for ever."""
        self._failures += 1
        wait = backoff(self._failures, RETRY_FIRST_S, RETRY_MOST_S, self.draw)
        self.register_at = self.clock() + wait
        self.problem = problem
        log.warning("not registered: %s; trying again in %.0f s", problem, wait)

    def on_keepalive_answer(self, code: int) -> None:
        """The registrar answered a keepalive with ``code`` (408 or 503: it did not)."""
        self._keepalive_sent = None
        # Any answer from the registrar itself (not a timeout or a transport
        # error, which pjsip reports as 408 and 503) means it is back.
        reachable = code not in (408, 503) and code > 0
        if reachable and not self._reachable:
            self._reachable = True
            self._probes = 0
            # Soon, but not in step with every other hub that lost the same registrar.
            soon = self.clock() + self.draw(0, RETRY_FIRST_S)
            self.register_at = soon if self.register_at is None else min(soon, self.register_at)
            log.info("the registrar answers again; registering")
            self.set_registration(self.state, code)
        elif not reachable:
            self._lost_registrar()

    # --- registration upkeep ------------------------------------------

    def keepalive(self) -> None:
        """Once per loop turn: the keepalive and the binding refresh, when they are due."""
        if self.state is Registration.CREDENTIALS_REJECTED:
            return
        now = self.clock()
        if self._keepalive_sent is not None and now - self._keepalive_sent > KEEPALIVE_DEADLINE_S:
            self._keepalive_sent = None
            self._lost_registrar()
        if self.state is Registration.REGISTERED and now >= self._refresh_next:
            self._refresh_binding(now)
        if self.register_at is not None and now >= self.register_at and self._reachable:
            self._register_again()
        if now < self._keepalive_next:
            return
        if self._reachable:
            self._keepalive_next = now + KEEPALIVE_S
        else:
            self._probes += 1
            wait = backoff(self._probes, KEEPALIVE_DOWN_S, PROBE_MOST_S, self.draw)
            self._keepalive_next = now + wait
        not_sent = self.account.send_keepalive()
        if not_sent is None:
            if self._keepalive_sent is None:
                self._keepalive_sent = now
        else:
            log.debug("keepalive not sent: %s", not_sent)
            self._lost_registrar()

    def _lost_registrar(self) -> None:
        if self._reachable:
            log.warning("the registrar stopped answering")
        self._reachable = False
        self.problem = refusal_words(408)
        if self.state is Registration.REGISTERED:
            self.set_registration(Registration.UNREGISTERED, 408)

    def _refresh_binding(self, now: float) -> None:
        """REGISTER again, so a registrar that restarted since the last one has the hub."""
        self._refresh_next = now + self.reregister_s
        # It fails if, say, the last REGISTER is still being resent.
        if (not_sent := self.account.register()) is not None:
            log.debug("registration refresh not sent: %s", not_sent)

    def _register_again(self) -> None:
        self.register_at = None
        # It fails to start if, say, the registrar's name does not resolve.
        if (not_started := self.account.register()) is not None:
            self._register_failed(f"the registration could not be sent: {not_started}")
            self.set_registration(self.state, 0)

    def set_registration(self, registration: Registration, code: int) -> None:
        """Record ``registration`` and tell the account; log and say it only if it changed."""
        changed = registration is not self.state
        self.state = registration
        if changed:
            log.info("registration: %s (%s)", registration.value, code)
        self.account.registration_set(registration, code, changed=changed)
