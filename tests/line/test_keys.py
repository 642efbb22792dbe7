"""The desk's keypad: keys sent into a call, heard by the far end as a phone menu would.

Through a real Kamailio to the practice line, which reports each key it hears and how
it came (RFC 4733 telephone-events in the audio, or SIP INFO); and through SIPp, a far
end that takes no telephone-events at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.db import open_database
from hub.exceptions import ControlError, LineError
from hub.line.keys import MOST_KEYS, checked_keys
from tests.kamailio import Kamailio
from tests.line.conftest import (
    Family,
    LineProcess,
    PracticeLineProcess,
    line_to,
    wait_until,
)
from tests.sipp import SippCallee


def answered(line: LineProcess, family: Family) -> Iterator[dict | None]:
    """Dial the family and return the line's events once the practice line has answered."""
    attempt = family.attempt(family.number("+447700900123"))
    events = line.client.events()
    next(events)
    line.client.request("dial", attempt=attempt)
    for event in events:
        if event.get("event") == "call" and event["state"] == "answered":
            return events
        assert event.get("state") != "ended", event
    raise AssertionError("the call was never answered")


def heard(practice: PracticeLineProcess, count: int) -> list[tuple[str, str]]:
    """The first ``count`` keys the practice line heard, each with how it came."""
    found = wait_until(
        lambda: len(practice.events("dtmf")) >= count and practice.events("dtmf"),
        what=f"{count} keys at the practice line",
    )
    return [(event["key"], event["method"]) for event in found]


def test_keys_pressed_on_the_desk_reach_the_far_end_as_telephone_events(
    hub_line: LineProcess, practice_line: PracticeLineProcess, family: Family
):
    answered(hub_line, family)
    assert hub_line.client.request("keys", keys="4") == {"sent": 1}
    assert hub_line.client.request("keys", keys="2 9#") == {"sent": 3}
    assert heard(practice_line, 4) == [
        ("4", "rfc4733"), ("2", "rfc4733"), ("9", "rfc4733"), ("#", "rfc4733")
    ]  # fmt: skip
    hub_line.client.request("hangup")
    # A PIN or an extension is nobody's business: how many keys went, never which.
    assert "sent 3 key(s) as RFC 4733" in hub_line.log()
    assert "29#" not in hub_line.log()


def test_a_trunk_that_wants_sip_info_gets_the_keys_that_way(
    make_line, kamailio: Kamailio, practice_line: PracticeLineProcess
):
    line = make_line(kamailio, sip={"dtmf": "info"})
    line.start()
    with open_database(line.database_url) as database:
        answered(line, Family(database))
    # One key at a time, as a person presses them. Two keys sent in one go leave as two
    # INFOs a millisecond apart; Kamailio passed both on, but the practice line sometimes
    # heard only the second (most likely they crossed between Kamailio's two workers and
    # the older CSeq was refused). Pacing INFO keys in the hub is in note 16.
    line.client.request("keys", keys="*")
    assert heard(practice_line, 1) == [("*", "info")]
    line.client.request("keys", keys="7")
    assert heard(practice_line, 2) == [("*", "info"), ("7", "info")]
    infos = kamailio.messages("INFO")
    assert len(infos) == 2
    assert all("application/dtmf-relay" in info for info in infos)
    assert "Signal=*" in infos[0] and "Signal=7" in infos[1]
    line.client.request("hangup")


def test_keys_go_only_into_an_answered_call_and_only_keys_a_phone_has(
    hub_line: LineProcess, family: Family
):
    with pytest.raises(ControlError, match="only while a call is answered"):
        hub_line.client.request("keys", keys="1")
    with pytest.raises(ControlError, match="not X"):
        hub_line.client.request("keys", keys="12X")


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("1", "1"),
        ("12 34#", "1234#"),
        ("*0#", "*0#"),
        ("abcd", "ABCD"),
        ("9" * MOST_KEYS, "9" * MOST_KEYS),
    ],
)
def test_what_can_be_sent_as_keys(typed: str, sent: str):
    assert checked_keys(typed) == sent


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "Press at least one key to send."),
        ("   ", "Press at least one key to send."),
        ("9" * (MOST_KEYS + 1), f"At most {MOST_KEYS} keys can be sent at once."),
        ("12+3", "Only the keys 0 to 9, * and # can be sent (and A to D), not +."),
        ("07700 900123 x", "Only the keys 0 to 9, * and # can be sent (and A to D), not X."),
    ],
)
def test_what_cannot_be_sent_as_keys_says_why_in_one_sentence(typed: str, why: str):
    with pytest.raises(LineError) as raised:
        checked_keys(typed)
    assert str(raised.value) == why


def test_auto_sends_sip_info_to_a_far_end_that_takes_no_telephone_events(make_line, tmp_path: Path):
    far_end = SippCallee("no_telephone_events.xml", tmp_path / "sipp", timeout=30)
    try:
        line = line_to(make_line, far_end)
        with open_database(line.database_url) as database:
            answered(line, Family(database))
        assert line.client.request("keys", keys="5#") == {"sent": 2}
        assert far_end.finish(timeout=20) == 0, far_end.messages.read_text()[-3000:]
    finally:
        far_end.stop()
    text = far_end.messages.read_text(errors="replace")
    signals = re.findall(r"^Signal=(.)", text, re.MULTILINE)
    assert signals == ["5", "#"], text[-3000:]
    assert "sent 2 key(s) as SIP INFO" in line.log()
