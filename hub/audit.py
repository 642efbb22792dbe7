"""The append-only audit log: who viewed, dialled, exported, edited or deleted what.

A line never holds a phone number; ``record`` refuses one, so a careless caller
fails in its tests instead of leaking a parent's number into the log.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from hub.models import AuditEvent, StaffUser

# Seven or more digits, allowing the spaces and dashes people write numbers with.
NUMBER_LIKE = re.compile(r"\+?\d(?:[\s-]?\d){6,}")
EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def contact_details_in(text: str) -> str | None:
    """One sentence if ``text`` holds a phone number or an e-mail address, else None.

    Notes on calls and concerns are read by other people and exported; a family's
    numbers and addresses belong on its record, where they are masked and audited.
    """
    if NUMBER_LIKE.search(text):
        found = "phone numbers"
    elif EMAIL_LIKE.search(text):
        found = "e-mail addresses"
    else:
        return None
    return (f"Leave {found} out of the note: they belong on the family's record. Write dates "
            "like 14/01/2025.")  # fmt: skip


Detail = dict[str, str | int | float | bool | None]


def record(
    session: Session,
    action: str,
    *,
    actor: StaffUser | str,
    target_type: str = "",
    target_id: int | None = None,
    hub_id: int | None = None,
    detail: Detail | None = None,
) -> AuditEvent:
    """Add one audit line to the session (written when the session commits)."""
    detail = detail or {}
    for key, value in detail.items():
        if isinstance(value, str) and NUMBER_LIKE.search(value):
            raise ValueError(f"audit detail {key!r} looks like it holds a phone number")
    if isinstance(actor, StaffUser):
        actor_id, actor_label = actor.id, actor.email
    else:
        actor_id, actor_label = None, actor
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        actor=actor_label,
        target_type=target_type,
        target_id=target_id,
        hub_id=hub_id,
        detail=detail,
    )
    session.add(event)
    return event
