"""Keeping the hub registered.

First the decisions alone, with a pretend account and clock (no SIP stack at all);
then the line daemon with a real Kamailio that goes away, restarts or refuses the
hub's password.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from itertools import pairwise

import pytest

from hub.line.registration import (
    KEEPALIVE_DEADLINE_S,
    KEEPALIVE_DOWN_S,
    KEEPALIVE_S,
    PROBE_MOST_S,
    RETRY_FIRST_S,
    RETRY_MOST_S,
    Binding,
    backoff,
)
from hub.line.states import Registration, registration_words
from tests.line.conftest import HUB_USER, PHONEHUB, LineProcess, wait_until

# Registration retries are timed on the wall clock.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone

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


def longest(low: float, high: float) -> float:
    """The draw that always waits the longest its range allows."""
    return high


@pytest.fixture
def account() -> PretendAccount:
    return PretendAccount()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def binding(account: PretendAccount, clock: Clock) -> Binding:
    """A binding that has just registered and sent its first keepalive."""
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(200, 300)
    binding.keepalive()
    binding.on_keepalive_answer(200)
    return binding


def registers_until(binding: Binding, account: PretendAccount, clock: Clock, count: int
                    ) -> list[float]:  # fmt: skip
    """Turn the loop every 0.5 s, refusing each REGISTER with 503; the waits between them."""
    sent_at = [clock.now]
    while account.registers < count:
        clock.now += 0.5
        before = account.registers
        binding.keepalive()
        binding.on_keepalive_answer(200)  # the registrar is there; it just says no
        if account.registers > before:
            sent_at.append(clock.now)
            binding.on_registration(503, 0)
    return [round(b - a, 1) for a, b in pairwise(sent_at)]


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


def test_the_registrar_answering_again_means_registering_again(binding, account, clock):
    binding.on_keepalive_answer(408)
    binding.on_keepalive_answer(200)
    # Soon, at a random moment: not in step with every hub that lost the same registrar.
    assert binding.register_at == clock.now + RETRY_FIRST_S
    clock.now += RETRY_FIRST_S
    binding.keepalive()
    assert account.registers == 1
    binding.on_keepalive_answer(200)
    binding.keepalive()
    assert account.registers == 1  # once, not on every answer
    binding.on_registration(200, 300)
    assert binding.state is Registration.REGISTERED


@pytest.mark.parametrize("code", [404, 408, 480, 500, 503, 0])
def test_a_refused_register_is_tried_again_backing_off_and_never_given_up(account, clock, code):
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(code, 0)
    assert binding.state is Registration.UNREGISTERED
    assert binding.problem
    assert str(code) in binding.problem or "did not answer" in binding.problem
    waits = registers_until(binding, account, clock, 12)
    doubling = [RETRY_FIRST_S * 2**n for n in range(5)]
    assert waits[:7] == [*doubling, RETRY_MOST_S, RETRY_MOST_S]
    assert max(waits) == RETRY_MOST_S  # capped at a minute and a half, for ever


def test_the_first_retry_comes_within_a_few_seconds(account, clock):
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(404, 0)
    clock.now += RETRY_FIRST_S - 0.1
    binding.keepalive()
    assert account.registers == 0
    clock.now += 0.1
    binding.keepalive()
    assert account.registers == 1


def test_each_wait_is_drawn_from_the_upper_half_of_its_range():
    draws = [backoff(attempt, RETRY_FIRST_S, RETRY_MOST_S, random.uniform)
             for attempt in range(1, 10) for _ in range(200)]  # fmt: skip
    first = draws[:200]
    assert min(first) >= RETRY_FIRST_S / 2 and max(first) <= RETRY_FIRST_S
    assert len({round(wait, 3) for wait in first}) > 150  # spread, not in step
    assert max(draws) <= RETRY_MOST_S and min(draws[-200:]) >= RETRY_MOST_S / 2


def test_a_registration_resets_the_backoff(account, clock):
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(503, 0)
    registers_until(binding, account, clock, 4)
    binding.on_registration(200, 300)
    assert (binding.problem, binding.register_at) == (None, None)
    binding.on_registration(503, 0)
    assert binding.register_at == clock.now + RETRY_FIRST_S


def test_a_register_that_cannot_even_be_sent_is_tried_again_too(account, clock):
    # A registrar's name that does not resolve fails before anything is sent.
    account.register_failing = "Unable to resolve registrar.school.invalid"
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(503, 0)
    clock.now += RETRY_FIRST_S
    binding.keepalive()
    binding.on_keepalive_answer(200)
    assert account.registers == 1
    assert binding.problem == ("the registration could not be sent: "
                               "Unable to resolve registrar.school.invalid")  # fmt: skip
    assert binding.register_at == clock.now + RETRY_FIRST_S * 2
    clock.now += RETRY_FIRST_S * 2
    binding.keepalive()
    assert account.registers == 2


def test_a_lost_registrar_is_asked_less_and_less_often(binding, account, clock):
    binding.on_keepalive_answer(408)
    sent_at = []
    for _ in range(int(600 / 0.5)):
        clock.now += 0.5
        before = account.keepalives
        binding.keepalive()
        if account.keepalives > before:
            sent_at.append(clock.now)
            binding.on_keepalive_answer(408)
    waits = [b - a for a, b in pairwise(sent_at)]
    assert waits[:4] == [KEEPALIVE_DOWN_S, KEEPALIVE_DOWN_S * 2, KEEPALIVE_DOWN_S * 4,
                         KEEPALIVE_DOWN_S * 8]  # fmt: skip
    assert max(waits) == PROBE_MOST_S
    assert account.registers == 0  # no REGISTER to a registrar that does not answer


def test_the_status_says_why_and_when_it_tries_again(account, clock):
    binding = Binding(account, REREGISTER_S, clock=clock, draw=longest)
    binding.on_registration(404, 0)
    status = {"registration": "unregistered", "registration_problem": binding.problem,
              "registration_retry_at": 100.0 + binding.retry_in_s()}  # fmt: skip
    assert registration_words(status, now=100.0) == (
        "unregistered: the registrar refused the registration (404); trying again in 3 s"
    )
    assert registration_words({"registration": "registered"}) == "registered"


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


def test_a_trunk_refusing_registrations_for_a_while_is_tried_again_until_it_takes_them(
    make_line, kamailio
):
    # pjsua by itself never tried a 404 again, and tried a 503 every 5 s for ever.
    kamailio.refuse_registers(404)
    line = make_line(kamailio)
    line.start(wait_for=None)
    arrivals: list[float] = []

    def registers_seen(count: int) -> bool:
        seen = len(kamailio.messages("REGISTER"))
        arrivals.extend([time.monotonic()] * (seen - len(arrivals)))
        return seen >= count

    wait_until(lambda: registers_seen(1), timeout=15, what="the first REGISTER")
    wait_until(lambda: "(404)" in (line.status()["registration_problem"] or ""), timeout=5,
               what="the status to say the registrar refused it")  # fmt: skip
    shown = subprocess.run([*PHONEHUB, "--config", str(line.config_path), "status"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "registration: unregistered: the registrar refused the registration (404); " \
           "trying again in " in shown  # fmt: skip
    kamailio.refuse_registers(503)
    wait_until(lambda: registers_seen(2), timeout=10, what="a second REGISTER")
    wait_until(lambda: "(503)" in (line.status()["registration_problem"] or ""), timeout=5,
               what="the status to say the registrar is unavailable")  # fmt: skip
    kamailio.refuse_registers(0)
    wait_until(lambda: registers_seen(3), timeout=15, what="a third REGISTER")
    wait_until(lambda: kamailio.registered(HUB_USER), timeout=10, what="the registration")
    first_wait, second_wait = arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]
    # 1.5–3 s, then 3–6 s: backing off, and never a storm.
    assert RETRY_FIRST_S / 2 - 0.3 <= first_wait <= RETRY_FIRST_S + 0.5, arrivals
    assert RETRY_FIRST_S - 0.3 <= second_wait <= RETRY_FIRST_S * 2 + 0.5, arrivals
    wait_until(lambda: line.status()["registration"] == "registered", timeout=5)
    assert line.status()["registration_problem"] is None
    assert line.status()["lights"] == {"green": "on", "amber": "off", "red": "off"}
