"""The line's orderly end, step by step, with a pretend stack, account and clock.

The whole of it, with real peers, is in test_line.py (a call in progress when the
daemon is stopped) and test_registration.py.
"""

from __future__ import annotations

import queue
from types import SimpleNamespace

import pjsua2 as pj
import pytest

from hub.exceptions import LineError
from hub.line.commands import Hangup, Mute
from hub.line.registration import Binding
from hub.line.shutdown import (
    SHUTDOWN_WAIT_S,
    poll_until,
    refuse_waiting,
    turn_until_released,
    unregister,
)
from hub.line.sip import POLL_MS
from hub.line.states import Registration


class PretendStack:
    """Counts polls; each one moves the clock on by its wait, and may do ``on_poll``."""

    def __init__(self) -> None:
        self.now = 100.0
        self.polls: list[int] = []
        self.on_poll = lambda: None

    def clock(self) -> float:
        return self.now

    def poll(self, milliseconds: int) -> None:
        self.polls.append(milliseconds)
        self.now += milliseconds / 1000
        self.on_poll()


class PretendAudio:
    def __init__(self) -> None:
        self.releases = 0

    def release(self) -> None:
        self.releases += 1


class PretendAccount:
    """Unregisters when asked, or fails to, as pjsua2 would."""

    def __init__(self, binding: Binding, *, failing: bool = False) -> None:
        self.binding = binding
        self.failing = failing
        self.asked: list[bool] = []

    def setRegistration(self, renew: bool) -> None:
        self.asked.append(renew)
        if self.failing:
            raise pj.Error()
        self.binding.state = Registration.UNREGISTERED


class NoAccount:
    """Stands in for the Line as the binding's account; shutdown never asks it anything."""

    def send_keepalive(self) -> str | None:
        raise AssertionError("no keepalive at shutdown")

    def register(self) -> str | None:
        raise AssertionError("no REGISTER at shutdown")

    def registration_set(self, state: Registration, code: int, *, changed: bool) -> None:
        pass


@pytest.fixture
def stack() -> PretendStack:
    return PretendStack()


@pytest.fixture
def binding() -> Binding:
    binding = Binding(NoAccount(), 60.0)
    binding.state = Registration.REGISTERED
    return binding


def test_commands_still_queued_are_told_the_line_is_shutting_down():
    commands: queue.Queue = queue.Queue()
    waiting = [Hangup(), Mute(True)]
    for command in waiting:
        commands.put(command)
    refuse_waiting(commands)
    assert commands.empty()
    for command in waiting:
        with pytest.raises(LineError, match="shutting down"):
            command.done.result(0)


def test_polling_stops_as_soon_as_it_is_done_and_says_what_happened(stack):
    flushed: list[int] = []
    poll_until(lambda: len(stack.polls) == 2, stack, lambda: flushed.append(len(stack.polls)),
               clock=stack.clock)  # fmt: skip
    assert stack.polls == [POLL_MS, POLL_MS]
    assert flushed == [1, 2]


def test_polling_gives_up_after_the_wait(stack):
    poll_until(lambda: False, stack, lambda: None, clock=stack.clock)
    assert len(stack.polls) == pytest.approx(SHUTDOWN_WAIT_S * 1000 / POLL_MS, abs=1)


def test_a_registered_hub_unregisters_and_waits_for_it(stack, binding):
    account = PretendAccount(binding)
    unregister(account, binding, stack, lambda: None)
    assert account.asked == [False]
    assert binding.state is Registration.UNREGISTERED
    assert stack.polls == []  # already done: nothing to wait for


@pytest.mark.parametrize("state", [Registration.UNREGISTERED, Registration.NOT_NEEDED])
def test_a_hub_with_no_binding_sends_no_register(stack, binding, state):
    binding.state = state
    account = PretendAccount(binding)
    unregister(account, binding, stack, lambda: None)
    unregister(None, binding, stack, lambda: None)
    assert account.asked == []


def test_a_failed_unregister_is_logged_and_shutdown_goes_on(stack, binding, caplog):
    unregister(PretendAccount(binding, failing=True), binding, stack, lambda: None)
    assert "could not unregister" in caplog.text


def test_players_and_recorders_go_before_the_refused_calls_and_each_is_polled_out(stack):
    audio = PretendAudio()
    refused = [SimpleNamespace(player=object(), recorder=object())]
    call = refused[0]
    seen: list[tuple[int, int]] = []
    stack.on_poll = lambda: seen.append((audio.releases, len(refused)))
    turn_until_released(stack, audio, refused)
    assert (call.player, call.recorder) == (None, None)
    assert seen == [(1, 1), (2, 1), (3, 1), (3, 0)]
