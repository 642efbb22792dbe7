"""Safe mode: what the line daemon runs when its last start never finished.

A start that crashes (a bad sound device, a broken pjsua2 build, a config that
trips the SIP stack) would otherwise be restarted by systemd again and again. So
the daemon marks each start with a flag file and clears it once it is running;
finding the flag at start means the last attempt died. It then comes up without
the SIP stack: the control socket answers, the red LED blinks, and ``status``
says what to do. The next restart tries the full start again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.exceptions import LineError

FLAG = "line.starting"
ADVICE = (
    "The phone line failed to start last time, so it is in safe mode and cannot call. "
    "Run phonehub doctor, fix what it reports, then: sudo systemctl restart phonehub-line"
)


def start_flag(data_dir: Path) -> Path:
    """Where the start flag lives."""
    return Path(data_dir) / FLAG


class SafeModeService:
    """Answers the control socket while the line is in safe mode."""

    def __init__(self, hub_name: str, lights: Callable[[], dict[str, str]]) -> None:
        self.hub_name = hub_name
        self.lights = lights

    def status(self) -> dict[str, Any]:
        """Safe mode, the advice, and the LEDs."""
        return {"hub": self.hub_name, "registration": "safe_mode", "call": None,
                "recording": False, "lights": self.lights(), "fault": ADVICE}  # fmt: skip

    def _refuse(self, *_args: object, **_kwargs: object) -> dict[str, Any]:
        raise LineError(ADVICE)

    dial = test_call = practice_call = own_phone_code = _refuse
    hangup = voicemail = mute = keys = interpreter = report_fault = _refuse
