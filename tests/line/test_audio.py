"""A call's sound, with a pretend owner and pretend calls: no SIP stack, no sound device.

What happens on the wire and in the earpiece is in test_calls.py and test_handset.py;
here, only what the audio holds on to and when it says so.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub.exceptions import LineError
from hub.line.audio import CallAudio
from hub.models import EndReason
from hub.spoken import Prompts

PROMPTS = Prompts(Path("notice.wav"), Path("message.wav"))


class PretendOwner:
    """Records what the audio shows, says and hangs up."""

    stack = None

    def __init__(self) -> None:
        self.said: list[dict[str, Any]] = []
        self.shown = 0
        self.hung_up: list[tuple[object, EndReason, str]] = []

    def show(self) -> None:
        self.shown += 1

    def publish(self, event: dict[str, Any]) -> None:
        self.said.append(event)

    def hang_up(self, call: object, end_reason: EndReason, ended_by: str) -> None:
        self.hung_up.append((call, end_reason, ended_by))


def pretend_call(**kwargs: Any) -> SimpleNamespace:
    state = {"attempt_id": 7, "answered_at": None, "player": None, "recorder": None,
             "recording_path": None, "muted": False, **kwargs}  # fmt: skip
    return SimpleNamespace(**state)


class PretendPlayer:
    def __init__(self, *, ended: bool = False) -> None:
        self.ended = ended
        self.on_end = lambda: None


@pytest.fixture
def owner() -> PretendOwner:
    return PretendOwner()


@pytest.fixture
def audio(owner: PretendOwner) -> CallAudio:
    return CallAudio(owner, PROMPTS)


def test_a_recording_is_said_saved_only_on_the_second_turn_after_its_call(audio, owner):
    recorder = object()
    call = pretend_call(recorder=recorder, recording_path=Path("rec/7.wav"))

    audio.let_go(call)
    assert call.recorder is None
    audio.turn()  # the recorder is deleted: pjsip writes the WAV header as the loop polls
    assert owner.said == []
    audio.turn()
    assert owner.said == [{"event": "recording", "attempt": 7, "on": False,
                           "saved": "rec/7.wav"}]  # fmt: skip
    audio.turn()
    assert len(owner.said) == 1


def test_what_a_call_lets_go_of_is_held_until_the_next_turn(audio):
    class Held:
        pass

    player, recorder = PretendPlayer(), Held()
    gone = [weakref.ref(player), weakref.ref(recorder)]
    audio.let_go(pretend_call(player=player, recorder=recorder))
    del player, recorder
    gc.collect()
    assert all(ref() is not None for ref in gone)  # pjsua2 would delete them in the callback
    audio.turn()
    gc.collect()
    assert all(ref() is None for ref in gone)


def test_a_call_without_a_recording_is_never_said_saved(audio, owner):
    audio.let_go(pretend_call(recorder=object()))  # a recorder, yet nowhere it was saved
    audio.turn()
    audio.turn()
    assert owner.said == []


def test_a_stopped_player_cannot_end_its_call(audio):
    ended: list[bool] = []
    player = PretendPlayer()
    player.on_end = lambda: ended.append(True)
    audio.let_go(pretend_call(player=player))
    player.on_end()
    assert ended == []


def test_a_player_that_reached_its_end_is_let_go_then_followed_once(audio):
    ended: list[bool] = []
    player = PretendPlayer(ended=True)
    player.on_end = lambda: ended.append(True)
    call = pretend_call(player=player)
    audio.finish_playing(call)
    assert call.player is None
    assert ended == [True]
    audio.finish_playing(call)
    assert ended == [True]


def test_a_player_still_playing_is_left_alone(audio):
    call = pretend_call(player=(player := PretendPlayer()))
    audio.finish_playing(call)
    assert call.player is player


@pytest.mark.parametrize("call", [None, pretend_call()], ids=["no-call", "not-answered"])
def test_only_an_answered_call_can_be_muted_or_sent_the_message(audio, owner, call):
    with pytest.raises(LineError, match="no call in progress to mute"):
        audio.mute(call, True)
    with pytest.raises(LineError, match="once the call has been answered"):
        audio.leave_voicemail(call)
    assert owner.said == []


def test_muting_a_muted_call_again_says_nothing(audio, owner):
    audio.mute(pretend_call(answered_at=1.0, muted=True), True)
    assert (owner.said, owner.shown) == ([], 0)


def test_no_prompt_starts_before_the_call_is_answered(audio):
    call = pretend_call(play_message=True, finished=False, prompted=False)
    audio.answered(call)  # would look up the call's media (pjsua2) if it went further
    assert (call.player, call.prompted) == (None, False)
