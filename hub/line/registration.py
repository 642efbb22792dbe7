"""Keeping the hub registered: its registration's state, keepalives and new REGISTERs.

While registered the hub asks the registrar OPTIONS every KEEPALIVE_S; no answer
within KEEPALIVE_DEADLINE_S means the registrar is unreachable, and the hub asks
every KEEPALIVE_DOWN_S until it answers, then registers again. A rejected password
stops it all. This module only decides: the Line carries out what it asks on the
SIP thread, through the ``Account`` it hands in, so nothing here touches pjsua2.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from hub.line.states import Registration

log = logging.getLogger(__name__)

KEEPALIVE_S = 5.0  # OPTIONS to the registrar while registered…
KEEPALIVE_DOWN_S = 2.0  # …and more often while it is unreachable
KEEPALIVE_DEADLINE_S = 3.0  # no answer by then: the registrar is unreachable
CREDENTIAL_CODES = (401, 403, 407)


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
    ) -> None:
        self.account = account
        self.reregister_s = reregister_s
        self.clock = clock
        self.state = Registration.UNREGISTERED
        self._keepalive_sent: float | None = None
        self._keepalive_next = 0.0
        self._refresh_next = 0.0
        self._reachable = True

    def on_registration(self, code: int, expiration: int) -> None:
        """pjsua's REGISTER finished with ``code``; ``expiration`` 0 means no binding."""
        if code // 100 == 2 and expiration > 0:
            self._reachable = True
            # A registrar restarted between two keepalives has forgotten the hub, and
            # its answers to OPTIONS can't say so; [sip] reregister_s bounds how long.
            self._refresh_next = self.clock() + self.reregister_s
            self.set_registration(Registration.REGISTERED, code)
        elif code in CREDENTIAL_CODES:
            # pjsua does not retry a rejected password by itself; say so and
            # stop, rather than hammer the trunk with the same wrong password.
            self.set_registration(Registration.CREDENTIALS_REJECTED, code)
        else:
            self.set_registration(Registration.UNREGISTERED, code)

    def on_keepalive_answer(self, code: int) -> None:
        """The registrar answered a keepalive with ``code`` (408 or 503: it did not)."""
        self._keepalive_sent = None
        # Any answer from the registrar itself (not a timeout or a transport
        # error, which pjsip reports as 408 and 503) means it is back.
        reachable = code not in (408, 503) and code > 0
        if reachable and not self._reachable:
            self._reachable = True
            self._register_again()
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
        if now < self._keepalive_next:
            return
        self._keepalive_next = now + (KEEPALIVE_S if self._reachable else KEEPALIVE_DOWN_S)
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
        if self.state is Registration.REGISTERED:
            self.set_registration(Registration.UNREGISTERED, 408)

    def _refresh_binding(self, now: float) -> None:
        """REGISTER again, so a registrar that restarted since the last one has the hub."""
        self._refresh_next = now + self.reregister_s
        # It fails if, say, the last REGISTER is still being resent.
        if (not_sent := self.account.register()) is not None:
            log.debug("registration refresh not sent: %s", not_sent)

    def _register_again(self) -> None:
        log.info("the registrar answers again; registering")
        if (not_started := self.account.register()) is not None:
            log.debug("re-registration not started: %s", not_started)

    def set_registration(self, registration: Registration, code: int) -> None:
        """Record ``registration`` and tell the account; log and say it only if it changed."""
        changed = registration is not self.state
        self.state = registration
        if changed:
            log.info("registration: %s (%s)", registration.value, code)
        self.account.registration_set(registration, code, changed=changed)
