"""The phone line's state names: what a call is doing and whether the trunk takes calls."""

from __future__ import annotations

import enum


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
