"""The line's status snapshot and what it puts on the LEDs, from pretend calls."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hub.line.bridge import Bridge
from hub.line.states import LineState, Registration
from hub.line.status import StatusBoard

REGISTERED = Registration.REGISTERED


def pretend_call(**kwargs: Any) -> SimpleNamespace:
    state = {"attempt_id": 7, "answered_at": None, "ringing": False, "recorder": None,
             "muted": False, "bridge": None, "finished": False, **kwargs}  # fmt: skip
    return SimpleNamespace(**state)


@pytest.fixture
def lights() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def board(lights: list[dict[str, Any]]) -> StatusBoard:
    return StatusBoard(lights.append)


def test_before_anything_is_shown_the_line_is_starting(board, lights):
    assert board.snapshot()["registration"] == "starting"
    assert board.starting
    assert lights == []


def test_an_idle_line_is_shown_without_a_call(board, lights):
    board.show(None, REGISTERED, "connected", None)
    assert board.snapshot() == {"registration": "registered", "registration_problem": None,
                                "registration_retry_at": None, "call": None, "calls": [],
                                "recording": False,
                                "handset": "connected", "handset_problem": None,
                                "muted": False}  # fmt: skip
    assert lights == [{"registration": REGISTERED, "line": LineState.IDLE, "recording": False,
                       "handset_missing": False}]  # fmt: skip
    assert not board.starting


@pytest.mark.parametrize(
    ("call", "state"),
    [
        pytest.param({}, LineState.DIALLING, id="dialling"),
        pytest.param({"ringing": True}, LineState.RINGING, id="ringing"),
        pytest.param({"ringing": True, "answered_at": 1.0}, LineState.CONNECTED, id="answered"),
    ],
)
def test_a_call_is_shown_at_its_stage(board, lights, call, state):
    board.show(pretend_call(**call), REGISTERED, "connected", None)
    assert board.snapshot()["call"] == {"attempt": 7, "state": state.value}
    assert lights[-1]["line"] is state


def test_a_recorded_muted_call_is_shown_so(board, lights):
    board.show(pretend_call(answered_at=1.0, recorder=object(), muted=True), REGISTERED,
               "connected", None)  # fmt: skip
    assert (board.snapshot()["recording"], board.snapshot()["muted"]) == (True, True)
    assert lights[-1]["recording"] is True


def test_an_unplugged_handset_is_on_the_leds_and_says_why(board, lights):
    board.show(None, REGISTERED, "unplugged", "no capture device")
    assert board.snapshot()["handset_problem"] == "no capture device"
    assert lights[-1]["handset_missing"] is True


def test_the_leds_can_wait_for_the_poll_while_the_snapshot_cannot(board, lights):
    board.show(pretend_call(), REGISTERED, "connected", None, lights=False)
    assert board.snapshot()["call"] == {"attempt": 7, "state": "dialling"}
    assert (lights, board.lights_due) == ([], True)
    board.show(pretend_call(), REGISTERED, "connected", None)
    assert (len(lights), board.lights_due) == (1, False)


def test_a_snapshot_is_a_copy(board):
    board.show(None, REGISTERED, "none", None)
    board.snapshot()["registration"] = "changed"
    assert board.snapshot()["registration"] == "registered"


def test_without_leds_only_the_snapshot_is_kept():
    board = StatusBoard()
    board.show(None, Registration.NOT_NEEDED, "none", None)
    assert board.snapshot()["registration"] == "not_needed"


def test_calls_through_staff_phones_are_listed_beside_the_handsets_and_lit_furthest_on(
    board, lights
):
    ringing_family = pretend_call(attempt_id=9, ringing=True)
    at_staff_phone = Bridge(8, None, staff=pretend_call(attempt_id=None))
    connected = Bridge(9, None, staff=pretend_call(attempt_id=None), family=ringing_family,
                       family_rung=True, staff_answered=True)  # fmt: skip
    board.show(None, REGISTERED, "none", None, bridges=[at_staff_phone, connected])
    calls = board.snapshot()["calls"]
    assert [(c["attempt"], c["state"], c["via"], c["your_phone"]) for c in calls] == [
        (8, "dialling", "own_phone", "ringing"),
        (9, "ringing", "own_phone", "answered"),
    ]
    assert board.snapshot()["call"] is None  # the handset is free
    assert lights[-1]["line"] is LineState.RINGING
    # The handset's own call is what its LEDs show, whatever the others are doing.
    board.show(pretend_call(), REGISTERED, "connected", None, bridges=[connected])
    assert [c["via"] for c in board.snapshot()["calls"]] == ["handset", "own_phone"]
    assert lights[-1]["line"] is LineState.DIALLING
