"""Keeping the hub registered.

First the decisions alone, with a pretend account and clock (no SIP stack at all);
then the line daemon with a real Kamailio that goes away, restarts or refuses the
hub's password.
"""

from __future__ import annotations

import os

import pytest

from hub.line.registration import (
    KEEPALIVE_DEADLINE_S,
    KEEPALIVE_DOWN_S,
    KEEPALIVE_S,
    Binding,
)
from hub.line.states import Registration
from tests.line.conftest import HUB_USER, LineProcess, wait_until

REREGISTER_S = 60.0


class PretendAccount:
    """Records what the binding asks of the SIP account; fails sends when told to."""

    def __init__(self) -> None:
        self.keepalives = 0
        self.registers = 0
        self.told: list[tuple[Registration, int, bool]] = []
        self.failing: str | None = None
        self.register_failing: str | None = None

    def send_keepalive(self) -> str | None:
        self.keepalives += 1
        return self.failing

    def register(self) -> str | None:
        self.registers += 1
        return self.register_failing

    def registration_set(self, state: Registration, code: int, *, changed: bool) -> None:
        self.told.append((state, code, changed))


class Clock:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def account() -> PretendAccount:
    return PretendAccount()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def binding(account: PretendAccount, clock: Clock) -> Binding:
    """A binding that has just registered and sent its first keepalive."""
    binding = Binding(account, REREGISTER_S, clock=clock)
    binding.on_registration(200, 300)
    binding.keepalive()
    binding.on_keepalive_answer(200)
    return binding


def test_a_registration_is_said_once_and_shown_every_time(account, clock):
    binding = Binding(account, REREGISTER_S, clock=clock)
    binding.on_registration(200, 300)
    binding.on_registration(200, 300)
    assert binding.state is Registration.REGISTERED
    assert account.told == [(Registration.REGISTERED, 200, True),
                            (Registration.REGISTERED, 200, False)]  # fmt: skip


@pytest.mark.parametrize("code", [401, 403, 407])
def test_a_rejected_password_stops_every_keepalive_and_register(account, clock, code):
    binding = Binding(account, REREGISTER_S, clock=clock)
    binding.on_registration(code, 0)
    assert binding.state is Registration.CREDENTIALS_REJECTED
    for _ in range(10):
        clock.now += REREGISTER_S
        binding.keepalive()
    assert (account.keepalives, account.registers) == (0, 0)


@pytest.mark.parametrize(("code", "expiration"), [(404, 0), (503, 0), (200, 0)])
def test_any_other_refusal_or_an_unregister_leaves_it_unregistered(
    account, clock, code, expiration
):
    binding = Binding(account, REREGISTER_S, clock=clock)
    binding.on_registration(200, 300)
    binding.on_registration(code, expiration)
    assert binding.state is Registration.UNREGISTERED
    assert account.told[-1] == (Registration.UNREGISTERED, code, True)


def test_keepalives_go_every_keepalive_s_while_the_registrar_answers(binding, account, clock):
    assert account.keepalives == 1
    clock.now += KEEPALIVE_S - 0.1
    binding.keepalive()
    assert account.keepalives == 1
    clock.now += 0.1
    binding.keepalive()
    binding.keepalive()
    assert account.keepalives == 2
    assert binding.state is Registration.REGISTERED


def test_an_unanswered_keepalive_means_the_registrar_is_lost(binding, account, clock):
    clock.now += KEEPALIVE_S
    binding.keepalive()  # sent, and never answered
    clock.now += KEEPALIVE_DEADLINE_S + 0.1
    binding.keepalive()
    assert binding.state is Registration.UNREGISTERED
    assert account.told[-1] == (Registration.UNREGISTERED, 408, True)


@pytest.mark.parametrize("code", [408, 503, 0])
def test_a_keepalive_timing_out_or_not_getting_through_means_the_registrar_is_lost(binding, code):
    binding.on_keepalive_answer(code)
    assert binding.state is Registration.UNREGISTERED


def test_a_keepalive_that_cannot_be_sent_means_the_registrar_is_lost(binding, account, clock):
    account.failing = "Network is unreachable"
    clock.now += KEEPALIVE_S
    binding.keepalive()
    assert binding.state is Registration.UNREGISTERED


def test_while_the_registrar_is_lost_keepalives_go_more_often(binding, account, clock):
    binding.on_keepalive_answer(408)
    clock.now += KEEPALIVE_S
    binding.keepalive()
    sent = account.keepalives
    clock.now += KEEPALIVE_DOWN_S
    binding.keepalive()
    assert account.keepalives == sent + 1
    assert account.registers == 0


def test_the_registrar_answering_again_means_registering_again(binding, account):
    binding.on_keepalive_answer(408)
    binding.on_keepalive_answer(200)
    assert account.registers == 1
    binding.on_keepalive_answer(200)
    assert account.registers == 1  # once, not on every answer
    binding.on_registration(200, 300)
    assert binding.state is Registration.REGISTERED


def test_the_binding_is_refreshed_every_reregister_s(binding, account, clock):
    clock.now += REREGISTER_S - 1
    binding.keepalive()
    binding.on_keepalive_answer(200)
    assert account.registers == 0
    clock.now += 1
    binding.keepalive()
    binding.keepalive()
    assert account.registers == 1
    account.register_failing = "the last REGISTER is still being resent"
    clock.now += REREGISTER_S
    binding.keepalive()
    assert account.registers == 2
    assert binding.state is Registration.REGISTERED  # a refresh not sent is no loss


def test_no_registrar_needed_is_shown_as_such(account, clock):
    binding = Binding(account, REREGISTER_S, clock=clock)
    binding.set_registration(Registration.NOT_NEEDED, 0)
    assert account.told == [(Registration.NOT_NEEDED, 0, True)]


def test_registered_again_after_the_registrar_comes_back_and_the_lights_follow(
    hub_line: LineProcess, kamailio
):
    assert hub_line.status()["lights"] == {"green": "on", "amber": "off", "red": "off"}
    kamailio.kill()
    wait_until(lambda: hub_line.status()["registration"] == "unregistered", timeout=15,
               what="the hub to notice the registrar has gone")  # fmt: skip
    assert hub_line.status()["lights"] == {"green": "off", "amber": "off", "red": "blinking"}
    kamailio.start()
    wait_until(lambda: kamailio.registered(HUB_USER), timeout=10, what="registration again")
    wait_until(lambda: hub_line.status()["lights"]["green"] == "on", timeout=3)
    assert hub_line.status()["lights"] == {"green": "on", "amber": "off", "red": "off"}


def test_registered_again_after_a_registrar_restart_between_two_keepalives(make_line, kamailio):
    # Back before the next OPTIONS: the line never sees it gone, but the registrar has
    # forgotten every binding (usrloc is in memory); [sip] reregister_s brings it back.
    hub_line = make_line(kamailio, sip={"reregister_s": 5})
    hub_line.start()
    with kamailio.log_path.open("rb") as log:
        log.seek(0, os.SEEK_END)
        wait_until(lambda: b"\nOPTIONS sip:" in log.read(), timeout=15, what="a keepalive")
    kamailio.restart()
    wait_until(lambda: kamailio.registered(HUB_USER), timeout=60, what="registration again")
    assert hub_line.status()["registration"] == "registered"
    assert hub_line.status()["lights"] == {"green": "on", "amber": "off", "red": "off"}


def test_a_wrong_password_is_reported_and_not_retried(make_line, kamailio, notify_socket):
    line = make_line(kamailio, sip={"password": "not-the-password"})
    line.start(wait_for="credentials_rejected", env=notify_socket.env)
    assert line.status()["lights"]["red"] == "blinking"
    tried = len(kamailio.messages("REGISTER"))
    # Longer than the retry interval, as the line's own loop counts it: a storm would
    # show by now.
    notify_socket.sip_loop_ran_for(8)
    assert len(kamailio.messages("REGISTER")) == tried <= 3
    assert line.status()["registration"] == "credentials_rejected"
