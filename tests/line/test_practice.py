"""The practice line as a callee: it answers every call the hub makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.db import open_database
from tests.baresip import Baresip
from tests.line.conftest import Family, PracticeLineProcess


def test_the_practice_line_answers_every_call_while_it_holds_another(make_line, kamailio,
                                                                    tmp_path):  # fmt: skip
    # With one slot held, pjsua gives an ended call's slot to the very next call; the
    # ended call's object must be gone by then, or deleting it hangs that call up (603).
    number = "07700900129"
    callee = PracticeLineProcess(tmp_path / "callee", kamailio, number, "--ring", "0")
    kamailio.add_user("07700900124", "baresip-secret")
    line = make_line(kamailio, dialplan={"per_staff_per_hour": 500, "per_number_per_day": 500})
    line.start()
    try:
        with Baresip(tmp_path / "baresip", user="07700900124", password="baresip-secret",
                     registrar=kamailio) as other:  # fmt: skip
            other.start()
            other.dial(f"sip:{number}@{kamailio.domain}")
            other.wait_for(lambda: len(other.events("CALL_ESTABLISHED")) == 1)
            with open_database(line.database_url) as database:
                rows = Family(database)
                number_id = rows.number("+447700900129")
                events = line.client.events()
                next(events)
                for _ in range(30):
                    attempt = rows.attempt(number_id)
                    line.client.request("dial", attempt=attempt)
                    state = _next_state(events, attempt)
                    assert state["state"] == "answered", state
                    line.client.request("hangup")
                    assert _next_state(events, attempt)["end_reason"] == "completed"
            assert other.calls_ended() == 0  # the call held all along is still on
    finally:
        callee.stop()


def _next_state(events: Iterator[dict[str, Any]], attempt: int) -> dict[str, Any]:
    """The attempt's next answered or ended event."""
    for event in events:
        if event.get("attempt") == attempt and event.get("state") in ("answered", "ended"):
            return event
    raise AssertionError("the line daemon closed its event stream")
