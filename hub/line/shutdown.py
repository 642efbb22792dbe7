"""The line's orderly end: commands refused, the call ended, unregistered, all released.

Run by the Line on the SIP thread as it stops, between its last turn and the stack's
destruction. pjsua2 deletes a call, player or recorder with its last reference, and
each deletion has to be seen through by a poll before the stack goes, so every step
here polls the stack itself, for at most SHUTDOWN_WAIT_S.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from typing import Protocol

import pjsua2 as pj

from hub.exceptions import LineError
from hub.line.call import HubCall
from hub.line.commands import Command
from hub.line.registration import Binding
from hub.line.sip import POLL_MS, reason
from hub.line.states import Registration

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 4.0


class Stack(Protocol):
    """The SIP stack, as far as shutting down polls it."""

    def poll(self, milliseconds: int) -> None:
        """Let pjsip handle what has arrived, waiting up to ``milliseconds``."""


class Releasing(Protocol):
    """Whatever holds pjsua2 objects until a turn outside any callback."""

    def release(self) -> None:
        """Drop every reference held until the next turn."""


def refuse_waiting(commands: queue.Queue[Command]) -> None:
    """Fail every command still queued: the line will not carry it out."""
    while not commands.empty():
        commands.get_nowait().done.set_exception(LineError("The line is shutting down."))


def poll_until(
    done: Callable[[], bool],
    stack: Stack,
    flush: Callable[[], None],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll until ``done()``, for at most SHUTDOWN_WAIT_S, saying what happens as it does."""
    deadline = clock() + SHUTDOWN_WAIT_S
    while not done() and clock() < deadline:
        stack.poll(POLL_MS)
        flush()


def unregister(
    account: pj.Account | None, binding: Binding, stack: Stack, flush: Callable[[], None]
) -> None:
    """Take the hub's binding off the registrar (REGISTER with Expires: 0), if it has one."""
    if account is None or binding.state is not Registration.REGISTERED:
        return
    try:
        account.setRegistration(False)
        poll_until(lambda: binding.state is not Registration.REGISTERED, stack, flush)
    except pj.Error as exc:
        log.warning("could not unregister: %s", reason(exc))


def turn_until_released(stack: Stack, audio: Releasing, refused: list[HubCall]) -> None:
    """Let go of every player and recorder, then of the ``refused`` calls, polling between."""
    for _ in range(3):
        audio.release()
        for call in refused:
            call.player = call.recorder = None
        stack.poll(POLL_MS)
    refused.clear()
    stack.poll(POLL_MS)
