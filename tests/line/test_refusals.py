"""Inbound calls declined a turn after pjsua offers them, and the refusals said sparingly.

With pretend calls and a clock the test moves; floods of real INVITEs are in
test_inbound.py.
"""

from __future__ import annotations

from typing import Any

import pjsua2 as pj
import pytest

from hub.line.refusals import REFUSALS_EVENT_S, REFUSALS_LOG_S, Refusals, Tally
from hub.models import EndReason


class PretendCall:
    """Records the status it was hung up with; fails to hang up when told to."""

    def __init__(self, *, failing: bool = False) -> None:
        self.hangup_as: tuple[EndReason, str] | None = None
        self.failing = failing
        self.hung_up: list[int] = []

    def hangup(self, param: pj.CallOpParam) -> None:
        if self.failing:
            raise pj.Error()
        self.hung_up.append(int(param.statusCode))


@pytest.fixture
def said() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def refusals(said: list[dict[str, Any]]) -> Refusals:
    return Refusals(said.append)


def test_an_offered_call_is_declined_on_the_next_turn_not_in_the_callback(refusals):
    call = PretendCall()
    refusals.refuse(call)
    assert call.hung_up == []  # inside onIncomingCall a hang-up aborts the process
    assert call.hangup_as == (EndReason.REJECTED, "hub")
    refusals.decline()
    assert call.hung_up == [603]
    refusals.decline()
    assert call.hung_up == [603]


def test_a_refused_call_is_held_until_it_is_disconnected(refusals):
    call = PretendCall()
    refusals.refuse(call)
    refusals.decline()
    assert refusals.retired == [call]
    refusals.forget(call)
    assert refusals.retired == []


def test_a_call_gone_before_its_turn_is_not_declined(refusals):
    call = PretendCall()
    refusals.refuse(call)
    refusals.forget(call)
    refusals.decline()
    assert call.hung_up == []


def test_a_failed_decline_is_logged_and_still_counted(refusals, said, caplog):
    refusals.refuse(PretendCall(failing=True))
    refusals.decline()
    refusals.report(0, 1000.0)
    assert "could not decline" in caplog.text
    assert said == [{"event": "inbound_refused", "count": 1}]


def test_refusals_here_and_beneath_pjsua_are_said_once_a_second(refusals, said):
    refusals.refuse(PretendCall())
    refusals.decline()
    refusals.report(10, 1000.0)
    refusals.report(30, 1000.0 + REFUSALS_EVENT_S / 2)
    assert said == [{"event": "inbound_refused", "count": 11}]
    refusals.report(30, 1000.0 + REFUSALS_EVENT_S)
    assert said[-1] == {"event": "inbound_refused", "count": 20}
    refusals.report(30, 1000.0 + 5 * REFUSALS_EVENT_S)
    assert len(said) == 2  # nothing more refused, nothing said


def test_refusals_are_logged_once_a_minute(refusals, caplog):
    caplog.set_level("INFO", "hub.line.refusals")
    refusals.report(100, 1000.0)
    refusals.report(5000, 1000.0 + REFUSALS_LOG_S - 1)
    refusals.report(6000, 1000.0 + REFUSALS_LOG_S)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "refused 100 inbound call(s) or subscription(s)",
        "refused 5900 inbound call(s) or subscription(s)",
    ]


def test_a_tally_says_only_what_is_new():
    tally = Tally(5.0)
    assert tally.due(0, 0.0) == 0
    assert tally.due(3, 0.0) == 3
    assert tally.due(4, 1.0) == 0  # too soon
    assert tally.due(4, 5.0) == 1
