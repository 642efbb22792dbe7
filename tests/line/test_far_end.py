"""The line against SIPp as the far end (a trunk, a phone): what the hub records and says.

Each far end is a scenario in tests/sipp/, so a behaviour seen on a real trunk can be
played back here exactly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hub.calls import ending_words
from hub.db import open_database
from hub.models import EndReason
from tests.line.conftest import PHONEHUB, Family, line_to, wait_until
from tests.sipp import SippCallee


def place_test_call(line, number: str = "07700 900123") -> subprocess.CompletedProcess[str]:
    """``phonehub test-call`` as IT runs it, by the admin Family makes."""
    return subprocess.run([*PHONEHUB, "--config", str(line.config_path), "test-call", number,
                           "--as", "it@school.example"],
                          capture_output=True, text=True, timeout=90)  # fmt: skip


def test_a_test_call_that_does_not_connect_exits_non_zero(make_line, tmp_path: Path):
    far_end = SippCallee("busy.xml", tmp_path / "sipp")
    try:
        line = line_to(make_line, far_end)
        with open_database(line.database_url) as database:
            Family(database)
        result = place_test_call(line)
        assert far_end.finish(timeout=20) == 0  # SIPp saw the INVITE and the ACK
    finally:
        far_end.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test call 1: ended, busy, hung up by remote (SIP 486)" in result.stdout
    assert "test call 1: did not connect" in result.stderr


def test_a_trunk_that_never_answers_is_recorded_as_no_response_and_its_invite_cancelled(
    make_line, tmp_path: Path
):
    # Before, this was printed and stored as "SIP 603" (the person declined): the code
    # the hub itself hung up with.
    far_end = SippCallee("silent_then_rings.xml", tmp_path / "sipp", timeout=40)
    try:
        line = line_to(make_line, far_end, ring_timeout_s=5)
        with open_database(line.database_url) as database:
            family = Family(database)
            result = place_test_call(line)
            # The trunk rings 3 s after the hub gave up: the hub CANCELs the INVITE then,
            # as SIP allows only once the far end has answered it at all.
            assert far_end.finish(timeout=30) == 0, far_end.messages.read_text()[-3000:]
            row = family.row(1)
    finally:
        far_end.stop()
    assert result.returncode == 1
    assert ("test call 1: ended, failed, hung up by timeout (no response from the trunk)"
            in result.stdout)  # fmt: skip
    assert (row.end_reason, row.ended_by, row.sip_status) == (EndReason.FAILED, "timeout", None)
    assert ending_words(row.end_reason, row.ended_by) == (
        "the phone system did not respond, so the call could not be placed")  # fmt: skip


def test_a_call_on_hold_is_not_dropped_for_its_silence(make_line, tmp_path: Path):
    # The parent answers, holds for 12 s (a=inactive: no audio either way, as agreed by
    # re-INVITE), comes back and hangs up. Before, the no-audio timer ran on through the
    # hold and the hub dropped the call 8 s in.
    far_end = SippCallee("hold.xml", tmp_path / "sipp", timeout=40)
    try:
        line = line_to(make_line, far_end, rtp_timeout_s=8)
        with open_database(line.database_url) as database:
            family = Family(database)
            attempt = family.attempt(family.number("+447700900123"))
            line.client.request("dial", attempt=attempt)
            assert far_end.finish(timeout=40) == 0, far_end.messages.read_text()[-3000:]
            row = wait_until(lambda: (r := family.row(attempt)).ended_at and r, what="the end")
    finally:
        far_end.stop()
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "remote")
    assert (row.ended_at - row.answered_at).total_seconds() > 13
