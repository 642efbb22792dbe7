"""Hub status (admin): every hub's registration, this hub's current call, today's counts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from hub.config import Config
from hub.control_client import ControlClient
from hub.exceptions import ControlError
from hub.line.states import registration_words
from hub.models import CallAttempt, EndReason, Hub, Role, utcnow
from web.db import db
from web.security import roles

bp = Blueprint("hub_status", __name__, url_prefix="/hub")

STALE = timedelta(minutes=2)  # a hub silent this long is shown as not running


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """The hubs, this hub's line, and today's calls."""
    config = current_app.config["PHONEHUB"]
    line, problem = line_state(config)
    zone = config.dialplan.zone
    midnight = datetime.combine(utcnow().astimezone(zone).date(), time(), zone)
    today = CallAttempt.requested_at >= midnight
    counts = {
        "dialled": _count(today, CallAttempt.end_reason.is_distinct_from(EndReason.REFUSED)),
        "answered": _count(today, CallAttempt.answered_at.is_not(None)),
        "not answered": _count(today, CallAttempt.end_reason.in_(
            [EndReason.NO_ANSWER, EndReason.BUSY, EndReason.REJECTED])),
        "refused by the dial guard": _count(today, CallAttempt.end_reason == EndReason.REFUSED),
    }  # fmt: skip
    hubs = db().scalars(select(Hub).order_by(Hub.name)).all()
    phone_system = registration_words(line) if line else None
    return render_template("hub_status.html", line=line, problem=problem,
                           phone_system=phone_system, counts=counts,
                           hubs=hubs, stale_before=utcnow() - STALE)  # fmt: skip


def line_state(config: Config) -> tuple[dict[str, Any] | None, str | None]:
    """This hub's line as its daemon reports it, or None and one sentence saying why not."""
    try:
        reply = ControlClient(config.line.control_socket, timeout=3).request("status")
    except ControlError as exc:
        return None, str(exc)
    return reply["status"], None


def _count(*conditions: object) -> int:
    return db().scalar(select(func.count()).select_from(CallAttempt).where(*conditions)) or 0
