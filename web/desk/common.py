"""What every part of the desk shares: its blueprint, who is signed in, and the call on the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    current_app,
)
from sqlalchemy import select

from hub import calls
from hub.control_client import ControlClient
from hub.exceptions import ControlError
from hub.models import (
    CallAttempt,
    Role,
    StaffUser,
)
from web.db import db
from web.security import current_user

bp = Blueprint("desk", __name__, url_prefix="/desk")

ANYONE = (Role.STAFF, Role.ADMIN, Role.DSL)

STATUS_TIMEOUT_S = 2.0  # the line answers status from memory; a card must not hang on it


@dataclass(frozen=True)
class LiveCall:
    """A call the line has up now, as the line itself says."""

    attempt: CallAttempt
    state: str  # dialling, ringing or connected
    muted: bool
    via: str = "handset"  # or "own_phone": the member of staff's own phone, rung first
    your_phone: str | None = None  # that phone's state: ringing, answered, ended
    interpreter: str | None = None  # the interpreting service's leg: ringing or answered


def signed_in() -> StaffUser:
    user = current_user()
    assert user is not None
    return user


def line_client() -> ControlClient:
    return ControlClient(current_app.config["PHONEHUB"].line.control_socket, timeout=10)


def pending_call(user: StaffUser) -> CallAttempt | None:
    """The member of staff's last campaign call that still needs an outcome."""
    return db().scalar(
        select(CallAttempt)
        .where(
            CallAttempt.staff_id == user.id,
            CallAttempt.entry_id.is_not(None),
            CallAttempt.outcome.is_(None),
            # A refused dial never rang; an interrupted call went back in the queue.
            CallAttempt.end_reason.not_in(list(calls.NO_OUTCOME))
            | CallAttempt.end_reason.is_(None),
        )
        .order_by(CallAttempt.id.desc())
        .limit(1)
    )


def line_status() -> dict[str, Any] | None:
    """The line daemon's status; None if it is not answering (then it has no call up)."""
    socket = current_app.config["PHONEHUB"].line.control_socket
    try:
        return ControlClient(socket, timeout=STATUS_TIMEOUT_S).request("status")["status"]
    except (ControlError, OSError, ValueError):
        return None


def calls_on_line() -> list[LiveCall]:
    """Every call this hub's line has up now, whoever made it, as the line itself says.

    Asked of the line rather than read from the attempt rows: a practice call has no
    campaign entry, and a reloaded card must show whatever is really on the line.
    """
    status = line_status()
    found = []
    for shown in (status or {}).get("calls") or []:
        attempt = db().get(CallAttempt, shown["attempt"])
        if attempt is not None:
            found.append(LiveCall(attempt=attempt, state=shown["state"],
                                  muted=bool(shown.get("muted")),
                                  via=shown.get("via", "handset"),
                                  your_phone=shown.get("your_phone"),
                                  interpreter=shown.get("interpreter")))  # fmt: skip
    return found


def live_call(user: StaffUser) -> LiveCall | None:
    """The call this hub's line has up for the member of staff, if it is theirs and still up."""
    for live in calls_on_line():
        if live.attempt.staff_id == user.id and live.attempt.ended_at is None:
            return live
    return None
