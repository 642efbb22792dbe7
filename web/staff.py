"""Admins manage staff: invite, set roles, opt in to calling, deactivate."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, users
from hub.exceptions import UserError
from hub.models import Invite, Role, StaffUser, utcnow
from web.db import db
from web.security import current_user, roles, token_hash
from web.times import school_date

bp = Blueprint("staff", __name__, url_prefix="/staff")

INVITE_DAYS = 7


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """Every account, with invite and edit forms."""
    return _page()


def _page(typed: Mapping[str, str] | None = None) -> str:
    accounts = users.all_users(db())
    # Each account's newest invite still unused: it is why the account has never signed in.
    invites = {
        invite.staff_id: invite
        for invite in db().scalars(
            select(Invite).where(Invite.used_at.is_(None)).order_by(Invite.created_at)
        )
    }
    states = {account.id: _state(account, invites.get(account.id)) for account in accounts}
    return render_template("staff.html", accounts=accounts, roles=list(Role), states=states,
                           typed=typed or {})  # fmt: skip


def _state(account: StaffUser, invite: Invite | None) -> str:
    """Where an account stands, as the admin who invited them needs to know it."""
    if not account.active:
        return "Deactivated: can no longer sign in"
    if account.last_login_at is not None:
        return "Active"
    if invite is None:
        return "Active, not signed in yet"
    state = f"Invited {school_date(invite.created_at)}, not signed in yet"
    if invite.expires_at < utcnow():
        state += f"; the link ran out on {school_date(invite.expires_at)}"
    return state


@bp.route("/invite", methods=["POST"])
@roles(Role.ADMIN)
def invite() -> str | BaseResponse | tuple[str, int]:
    """Create an account and a one-time link for its owner to set a password."""
    admin = current_user()
    assert admin is not None
    form = request.form
    try:
        role = Role(form.get("role", "staff"))
        account = users.add(
            db(),
            form.get("email", ""),
            form.get("name", ""),
            role,
            # Nobody knows this password; the invite link replaces it.
            secrets.token_urlsafe(32),
            actor=admin,
            opted_in=form.get("opted_in") == "on",
        )
    except (UserError, ValueError) as exc:
        flash(str(exc) if isinstance(exc, UserError) else "Choose a role.", "error")
        return _page(form), 400
    flash(
        f"{account.name} is invited. Give them this link (it works once, for "
        f"{INVITE_DAYS} days): {_one_time_link(account)}",
        "invite",
    )
    return redirect(url_for("staff.index"))


def _one_time_link(account: StaffUser) -> str:
    """A link that lets ``account``'s owner choose a password, once, for INVITE_DAYS."""
    token = secrets.token_urlsafe(24)
    db().add(
        Invite(
            token_hash=token_hash(token),
            staff_id=account.id,
            expires_at=utcnow() + timedelta(days=INVITE_DAYS),
        )
    )
    return url_for("account.accept_invite", token=token, _external=True)


@bp.route("/<int:staff_id>", methods=["POST"])
@roles(Role.ADMIN)
def update(staff_id: int) -> BaseResponse:
    """Change an account's role, calling opt-in, or deactivate it."""
    admin = current_user()
    assert admin is not None
    account = db().get(StaffUser, staff_id)
    if account is None:
        abort(404)
    form = request.form
    try:
        if form.get("action") == "deactivate":
            users.disable(db(), account.email, actor=admin)
            flash(f"{account.name} can no longer sign in.", "info")
        elif form.get("action") == "reset":
            users.reset_password(db(), account, actor=admin)
            flash(f"{account.name}'s password is reset and they are signed out everywhere. "
                  f"Give them this link to choose a new one (it works once, for {INVITE_DAYS} "
                  f"days): {_one_time_link(account)}", "invite")  # fmt: skip
        else:
            new_role = Role(form.get("role", account.role.value))
            if account.role is Role.ADMIN and new_role is not Role.ADMIN and account.active:
                users.check_not_last_admin(db(), account)
            changes = {"role": new_role.value, "opted_in": form.get("opted_in") == "on"}
            account.role = new_role
            account.opted_in = changes["opted_in"]
            audit.record(db(), "user.updated", actor=admin, target_type="staff_user",
                         target_id=account.id, detail=changes)  # fmt: skip
            flash(f"{account.name} is saved.", "info")
    except (UserError, ValueError) as exc:
        flash(str(exc) if isinstance(exc, UserError) else "Choose a role.", "error")
    return redirect(url_for("staff.index"))
