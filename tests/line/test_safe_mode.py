"""A start that never finished brings the line up in safe mode, and only once."""

from __future__ import annotations

import subprocess

import pytest

from hub.exceptions import ControlError
from tests.line.conftest import PHONEHUB


def test_a_start_that_never_finished_brings_the_line_up_in_safe_mode(make_line, kamailio):
    line = make_line(kamailio)
    (line.folder / "line.starting").write_text("started\n")  # the last start died
    line.start(wait_for="safe_mode")
    status = line.status()
    assert "phonehub doctor" in status["fault"]
    assert status["lights"] == {"green": "off", "amber": "off", "red": "blinking"}
    with pytest.raises(ControlError, match="safe mode"):
        line.client.request("test_call", number="07700 900123", **{"as": "it@school.example"})
    assert kamailio.messages("REGISTER") == []  # no SIP at all in safe mode
    doctor = subprocess.run([*PHONEHUB, "--config", str(line.config_path), "doctor"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert doctor.returncode == 1
    assert "FAIL  registration  The phone line failed to start last time" in doctor.stdout
    line.stop()
    line.start()  # the next restart tries the full line again
    assert line.status()["registration"] == "registered"
