"""Staff accounts: creating, listing and disabling them, and checking passwords.

Passwords are hashed with argon2id and never stored or logged in the clear.
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub import audit, second_factor
from hub.exceptions import UserError
from hub.models import CampaignEntry, EntryState, Role, StaffUser, WebSession, utcnow

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(email: str) -> str:
    """The form an email address is stored and looked up in."""
    return email.strip().lower()


def check_password_rules(password: str) -> None:
    """Raise UserError if ``password`` is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if password.strip() != password:
        raise UserError("The password must not start or end with a space.")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    """True if ``password`` is the user's password."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find(session: Session, email: str) -> StaffUser | None:
    """The account with this email address, if there is one."""
    return session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def add(
    session: Session,
    email: str,
    name: str,
    role: Role,
    password: str,
    *,
    actor: StaffUser | str,
    opted_in: bool = False,
) -> StaffUser:
    """Create an active account; raises UserError for a duplicate or a bad value."""
    email = normalise_email(email)
    if not _EMAIL.fullmatch(email):
        raise UserError(f"{email!r} is not an email address.")
    if not name.strip():
        raise UserError("Give the member of staff's name with --name.")
    check_password_rules(password)
    if find(session, email) is not None:
        raise UserError(f"There is already an account for {email}.")
    user = StaffUser(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        opted_in=opted_in,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.created",
        actor=actor,
        target_type="staff_user",
        target_id=user.id,
        detail={"email": email, "role": role.value},
    )
    return user


def disable(session: Session, email: str, *, actor: StaffUser | str) -> StaffUser:
    """Deactivate an account so it can no longer sign in; its history stays, its phone goes."""
    user = find(session, email)
    if user is None:
        raise UserError(f"There is no account for {normalise_email(email)}.")
    if user.active and user.role is Role.ADMIN:
        check_not_last_admin(session, user)
    if user.active:
        user.active = False
        # Their own phone was for their calls alone: it goes with the account.
        user.own_phone, user.own_phone_verified_at = "", None
        user.own_phone_code_hash, user.own_phone_code_until = "", None
        # Families shared out to them (a pupil nominated for them to call, say) would
        # wait for someone who will never come: anyone who may call takes them now.
        unassigned = session.execute(
            update(CampaignEntry)
            .where(CampaignEntry.assignee_id == user.id,
                   CampaignEntry.state.in_([EntryState.WAITING, EntryState.CALL_BACK]))
            .values(assignee_id=None)
        ).rowcount  # fmt: skip
        audit.record(
            session,
            "user.disabled",
            actor=actor,
            target_type="staff_user",
            target_id=user.id,
            detail={"email": user.email, "families_unassigned": int(unassigned or 0)},
        )
    return user


def check_not_last_admin(session: Session, user: StaffUser) -> None:
    """Raise UserError if ``user`` is the only active admin (the school would be locked out)."""
    if _active_admins(session) == 1:
        raise UserError(f"{user.email} is the last active admin; add another admin first.")


def _active_admins(session: Session) -> int:
    query = select(func.count()).where(StaffUser.role == Role.ADMIN, StaffUser.active)
    return session.scalar(query) or 0


def all_users(session: Session) -> list[StaffUser]:
    """Every account, active ones first, then by name."""
    query = select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.name)
    return list(session.scalars(query))


def end_sessions(session: Session, user: StaffUser, *, keep: int | None = None) -> int:
    """End every open web session of ``user`` but ``keep`` (a session id); how many ended."""
    query = update(WebSession).where(WebSession.staff_id == user.id,
                                     WebSession.ended_at.is_(None))  # fmt: skip
    if keep is not None:
        query = query.where(WebSession.id != keep)
    result = session.execute(query.values(ended_at=utcnow()).execution_options(
        synchronize_session=False))  # fmt: skip
    return result.rowcount or 0


def change_password(session: Session, user: StaffUser, current: str, new: str, confirm: str,
                    *, keep: int | None) -> int:  # fmt: skip
    """The member of staff's own new password; every other session of theirs ends.

    Returns how many other sessions ended; UserError with one sentence if it cannot be.
    """
    if not verify_password(user, current):
        raise UserError("Your current password is not right.")
    if new != confirm:
        raise UserError("The two new passwords differ.")
    if new == current:
        raise UserError("Choose a password different from the current one.")
    check_password_rules(new)
    user.password_hash = hash_password(new)
    ended = end_sessions(session, user, keep=keep)
    audit.record(session, "user.password_changed", actor=user, target_type="staff_user",
                 target_id=user.id, detail={"sessions_ended": ended})  # fmt: skip
    return ended


def reset_password(session: Session, user: StaffUser, *, actor: StaffUser) -> None:
    """An admin resets another account: its password is unknown to all and its sessions end.

    The caller gives its owner a new one-time link to choose a password.
    """
    if user.id == actor.id:
        raise UserError("Change your own password from your account page, not by resetting it.")
    if not user.active:
        raise UserError(f"{user.name}'s account is deactivated; it cannot be reset.")
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    if user.totp_secret is not None:
        second_factor.remove(session, user, actor=actor)  # a lost phone is why, often
    ended = end_sessions(session, user)
    audit.record(session, "user.password_reset", actor=actor, target_type="staff_user",
                 target_id=user.id, detail={"sessions_ended": ended})  # fmt: skip
