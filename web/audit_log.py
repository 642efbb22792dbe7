"""The audit page: who did what, when, to which record. It never shows a phone number.

The lines are shown in words (web/audit_words.py): the member of staff's name, what
happened, the family or person it was about, and the school's local time.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from hub.models import AuditEvent, Role, StaffUser
from web.audit_words import ACTIONS, describe
from web.db import db
from web.security import roles

bp = Blueprint("audit_log", __name__, url_prefix="/audit")

PAGE = 100
# The "What happened" choices, grouped by what the action is about.
GROUPS = {
    "call": "Calls", "dial": "Calls", "household": "Families", "guardian": "Families",
    "people": "Families", "entry": "Families in campaigns", "campaign": "Campaigns",
    "concern": "Safeguarding", "dsl": "Safeguarding", "user": "Accounts",
    "numbers": "Clean-up", "recordings": "Clean-up", "calendar": "Calendar",
    "insights": "What the school learns",
}  # fmt: skip


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """The newest audit lines, filtered by what happened, person or record."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    target = request.args.get("target", "").strip()
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        # People are shown by name, so they are found by name (or by email, as before).
        named = select(StaffUser.id).where(StaffUser.name.ilike(f"%{actor}%"))
        query = query.where(
            or_(AuditEvent.actor.contains(actor.lower()), AuditEvent.actor_id.in_(named))
        )
    if target:
        kind, _, number = target.partition(":")
        query = query.where(AuditEvent.target_type == kind)
        if number.isdigit():
            query = query.where(AuditEvent.target_id == int(number))
    page = max(request.args.get("page", 1, type=int), 1)
    events = db().scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    lines = describe(db(), events)
    return render_template(
        "audit.html", lines=lines, page=page, more=len(events) == PAGE, choices=_choices(),
        about=lines[0].about if target and lines else "",
        filters={"action": action, "actor": actor, "target": target},
    )  # fmt: skip


def _choices() -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, words in ACTIONS.items():
        label = words.rstrip(":")
        # "viewed the phone numbers of …": the rest of the sentence is the record.
        if words.endswith(":") or words.rsplit(" ", 1)[-1] in ("of", "to", "with", "about"):
            label += " …"
        group = GROUPS.get(code.split(".")[0], "Other")
        groups.setdefault(group, []).append((code, label))
    return {group: sorted(items, key=lambda item: item[1]) for group, items in groups.items()}
