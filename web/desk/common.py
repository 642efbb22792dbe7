"""What every part of the desk shares: its blueprint, who is signed in, and the call on the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    current_app,
)
from sqlalchemy import select

from hub.control_client import ControlClient
from hub.exceptions import ControlError
from hub.models import (
    CallAttempt,
    EndReason,
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
    """The call the line has up now, belonging to the member of staff looking."""

    attempt: CallAttempt
    state: str  # dialling, ringing or connected
    muted: bool


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
            CallAttempt.end_reason.not_in([EndReason.REFUSED, EndReason.INTERRUPTED])
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


def call_on_line() -> LiveCall | None:
    """The call this hub's line has up now, whoever made it, as the line itself says.

    Asked of the line rather than read from the attempt rows: a practice call has no
    campaign entry, and a reloaded card must show whatever is really on the handset.
    """
    status = line_status()
    call = status.get("call") if status else None
    attempt = db().get(CallAttempt, call["attempt"]) if call else None
    if status is None or call is None or attempt is None:
        return None
    return LiveCall(attempt=attempt, state=call["state"], muted=bool(status.get("muted")))


def live_call(user: StaffUser) -> LiveCall | None:
    """The call this hub's line has up for the member of staff, if it is theirs and still up."""
    live = call_on_line()
    if live is None or live.attempt.staff_id != user.id or live.attempt.ended_at is not None:
        return None
    return live
