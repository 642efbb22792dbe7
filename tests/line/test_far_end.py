"""The line against SIPp as the far end (a trunk, a phone): what the hub records and says.

Each far end is a scenario in tests/sipp/, so a behaviour seen on a real trunk can be
played back here exactly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hub.db import open_database
from tests.line.conftest import PHONEHUB, Family
from tests.sipp import SippCallee


def place_test_call(line, number: str = "07700 900123") -> subprocess.CompletedProcess[str]:
    """``phonehub test-call`` as IT runs it, by the admin Family makes."""
    return subprocess.run([*PHONEHUB, "--config", str(line.config_path), "test-call", number,
                           "--as", "it@school.example"],
                          capture_output=True, text=True, timeout=90)  # fmt: skip


def test_a_test_call_that_does_not_connect_exits_non_zero(make_line, tmp_path: Path):
    far_end = SippCallee("busy.xml", tmp_path / "sipp")
    try:
        line = make_line(None, sip={"domain": "127.0.0.1", "proxy": f"sip:{far_end.address}"})
        line.start(wait_for="not_needed")
        with open_database(line.database_url) as database:
            Family(database)
        result = place_test_call(line)
        assert far_end.finish(timeout=20) == 0  # SIPp saw the INVITE and the ACK
    finally:
        far_end.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test call 1: ended, busy, hung up by remote (SIP 486)" in result.stdout
    assert "test call 1: did not connect" in result.stderr
