"""The audit page: who did what, when, to which record. It never shows a phone number."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from hub.models import AuditEvent, Role
from web.db import db
from web.security import roles

bp = Blueprint("audit_log", __name__, url_prefix="/audit")

PAGE = 100


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """The newest audit lines, filtered by action, person or record."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    target = request.args.get("target", "").strip()
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        query = query.where(AuditEvent.actor.contains(actor.lower()))
    if target:
        kind, _, number = target.partition(":")
        query = query.where(AuditEvent.target_type == kind)
        if number.isdigit():
            query = query.where(AuditEvent.target_id == int(number))
    page = max(request.args.get("page", 1, type=int), 1)
    events = db().scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template(
        "audit.html", events=events, page=page, more=len(events) == PAGE,
        filters={"action": action, "actor": actor, "target": target},
    )  # fmt: skip
