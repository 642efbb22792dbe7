"""The phone line's state names: what a call is doing and whether the trunk takes calls."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from typing import Any


class LineState(enum.StrEnum):
    """What the phone line is doing."""

    IDLE = "idle"
    DIALLING = "dialling"
    RINGING = "ringing"
    CONNECTED = "connected"


class Registration(enum.StrEnum):
    """Whether the hub may place calls through the trunk or PBX."""

    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    CREDENTIALS_REJECTED = "credentials_rejected"
    # An IP-authenticated trunk takes calls without registering: the line is ready.
    NOT_NEEDED = "not_needed"


def registration_words(status: Mapping[str, Any], now: float | None = None) -> str:
    """The registration in a line's status, in words: why not, and when it tries again."""
    words = str(status.get("registration", "unknown")).replace("_", " ")
    if problem := status.get("registration_problem"):
        words += f": {problem}"
        if (retry_at := status.get("registration_retry_at")) is not None:
            left = max(0, round(retry_at - (time.time() if now is None else now)))
            words += f"; trying again in {left} s"
    return words
