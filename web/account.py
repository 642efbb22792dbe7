"""Signing in and out (with a second factor for those who set one up), the first-run page,
accepting an invitation, and one's own password and two-step sign-in."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, second_factor, users
from hub.exceptions import UserError
from hub.models import Invite, LoginFailure, Role, StaffUser, utcnow
from web import home as home_page
from web.db import db
from web.security import (
    current_session_id,
    current_user,
    end_session,
    public,
    roles,
    start_session,
    token_hash,
)

bp = Blueprint("account", __name__)

LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(minutes=5)
ALL_ROLES = (Role.STAFF, Role.ADMIN, Role.DSL)


@bp.route("/")
@roles(*ALL_ROLES)
def home() -> str | BaseResponse:
    """The signed-in member of staff's starting page: what is waiting for their role."""
    user = current_user()
    assert user is not None
    return home_page.page(user)


@bp.route("/my-calls")
@roles(*ALL_ROLES)
def my_calls() -> str:
    """The member of staff's own calls this week, behind the figures on their home page."""
    user = current_user()
    assert user is not None
    return home_page.my_calls(user, request.args.get("which", "made"))


@bp.route("/calls/today")
@roles(Role.ADMIN)
def todays_calls() -> str:
    """Every family call made today, behind the figures on the office's home page."""
    return home_page.todays_calls(request.args.get("which", "made"))


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup() -> str | BaseResponse:
    """First run: create the school's first admin (there are no default accounts)."""
    if db().scalar(select(func.count()).select_from(StaffUser)):
        return redirect(url_for("account.login"))
    if request.method == "POST":
        form = request.form
        try:
            if form.get("password", "") != form.get("confirm", ""):
                raise UserError("The two passwords differ.")
            user = users.add(
                db(),
                form.get("email", ""),
                form.get("name", ""),
                Role.ADMIN,
                form.get("password", ""),
                actor="first-run",
            )
        except UserError as exc:
            flash(str(exc), "error")
            return render_template("setup.html", form=form), 400
        start_session(user)
        # The first admin's next job is inviting the staff.
        return redirect(url_for("staff.index"))
    return render_template("setup.html", form={})


def _locked_out(email: str, address: str) -> bool:
    since = utcnow() - LOCKOUT_WINDOW
    for column, value in ((LoginFailure.email, email), (LoginFailure.address, address)):
        count = db().scalar(select(func.count()).where(column == value, LoginFailure.at >= since))
        if (count or 0) >= LOCKOUT_FAILURES:
            return True
    return False


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | BaseResponse | tuple[str, int]:
    """Sign in with email and password."""
    if request.method == "GET":
        return render_template("login.html", email="")
    email = users.normalise_email(request.form.get("email", ""))
    address = request.remote_addr or "unknown"
    if _locked_out(email, address):
        flash("Too many failed sign-ins; wait a few minutes and try again.", "error")
        return render_template("login.html", email=email), 429
    user = users.find(db(), email)
    if (
        user is None
        or not user.active
        or not users.verify_password(user, request.form.get("password", ""))
    ):
        db().add(LoginFailure(email=email, address=address))
        db().commit()  # kept even though this response is an error
        flash("That email and password don't match an active account.", "error")
        return render_template("login.html", email=email), 401
    target = request.args.get("next", "")
    # Only a path on this site, never an address elsewhere.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("account.home")
    required = user.role in TWO_STEP_ROLES and current_app.config["PHONEHUB"].web.require_two_step
    if user.totp_enabled_at is not None or required:
        # Half-way: the password is right; the code from their app comes next, or
        # setting the app up, for an admin or the DSL who has not yet.
        session.clear()
        session.update(pending_user=user.id, pending_at=time.time(), pending_next=target)
        if user.totp_enabled_at is None:
            return redirect(url_for("account.set_up"))
        return redirect(url_for("account.code"))
    start_session(user)
    audit.record(db(), "user.signed_in", actor=user, target_type="staff_user", target_id=user.id)
    return redirect(target)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code() -> str | BaseResponse | tuple[str, int]:
    """The second step of signing in: the code from the authenticator app, or a recovery code."""
    user = _pending_user()
    if user is None:
        flash("Sign in again: the first step was too long ago.", "error")
        return redirect(url_for("account.login"))
    if request.method == "GET":
        return render_template("login_code.html")
    address = request.remote_addr or "unknown"
    if _locked_out(user.email, address):
        flash("Too many failed sign-ins; wait a few minutes and try again.", "error")
        return render_template("login_code.html"), 429
    if not second_factor.check(db(), user, request.form.get("code", "").strip()):
        db().add(LoginFailure(email=user.email, address=address))
        db().commit()  # kept even though this response is an error
        flash("That code is not right: type the newest one your app shows, or a recovery "
              "code.", "error")  # fmt: skip
        return render_template("login_code.html"), 401
    target = session.get("pending_next") or url_for("account.home")
    start_session(user)
    audit.record(db(), "user.signed_in", actor=user, target_type="staff_user", target_id=user.id,
                 detail={"second_factor": True})  # fmt: skip
    return redirect(target)


PENDING_S = 300  # how long the code may take after the password
TWO_STEP_ROLES = (Role.ADMIN, Role.DSL)  # who must use it, with [web] require_two_step


@bp.route("/login/set-up", methods=["GET", "POST"])
@public
def set_up() -> str | BaseResponse | tuple[str, int]:
    """An admin or the DSL signing in without two-step sign-in sets it up before going on."""
    user = _pending_user(setting_up=True)
    if user is None:
        flash("Sign in again: the first step was too long ago.", "error")
        return redirect(url_for("account.login"))
    if request.method == "GET" or "totp_setup" not in session:
        session["totp_setup"] = second_factor.new_secret()
        return _two_step_page(user, required=True)
    codes = second_factor.enable(db(), user, session["totp_setup"],
                                 request.form.get("code", "").strip())  # fmt: skip
    if codes is None:
        flash("That code is not right: check the app's clock, and type the newest code.",
              "error")  # fmt: skip
        return _two_step_page(user, required=True), 400
    target = session.get("pending_next") or url_for("account.home")
    start_session(user)
    audit.record(db(), "user.signed_in", actor=user, target_type="staff_user", target_id=user.id,
                 detail={"second_factor": True})  # fmt: skip
    return render_template("two_step.html", codes=codes, next=target)


def _pending_user(*, setting_up: bool = False) -> StaffUser | None:
    """Who typed the right password a moment ago, still waiting to give their code."""
    user_id, at = session.get("pending_user"), session.get("pending_at", 0)
    if user_id is None or time.time() - at > PENDING_S:
        return None
    user = db().get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    return user if (user.totp_enabled_at is None) == setting_up else None


@bp.route("/account/two-step", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def two_step() -> str | BaseResponse | tuple[str, int]:
    """Set up (or turn off) two-step sign-in: after the password, a code from an app."""
    user = current_user()
    assert user is not None
    if user.totp_enabled_at is not None:
        if request.method == "POST":
            if not users.verify_password(user, request.form.get("password", "")):
                flash("Your password is not right, so two-step sign-in is still on.", "error")
                return _two_step_page(user), 400
            second_factor.remove(db(), user, actor=user)
            flash("Two-step sign-in is off: your password alone signs you in.", "info")
            return redirect(url_for("account.home"))
        return _two_step_page(user)
    if request.method == "GET" or "totp_setup" not in session:
        session["totp_setup"] = second_factor.new_secret()
        return _two_step_page(user)
    codes = second_factor.enable(db(), user, session["totp_setup"],
                                 request.form.get("code", "").strip())  # fmt: skip
    if codes is None:
        flash("That code is not right: check the app's clock, and type the newest code.",
              "error")  # fmt: skip
        return _two_step_page(user), 400
    session.pop("totp_setup", None)
    return render_template("two_step.html", codes=codes)


def _two_step_page(user: StaffUser, *, required: bool = False) -> str:
    if user.totp_enabled_at is not None:
        return render_template("two_step.html", enabled=user.totp_enabled_at,
                               left=second_factor.recovery_codes_left(db(), user))  # fmt: skip
    secret = session["totp_setup"]
    return render_template("two_step.html", qr=second_factor.qr_svg(secret, user.email),
                           secret=second_factor.grouped(secret), required=required)  # fmt: skip


@bp.route("/logout", methods=["POST"])
@roles(*ALL_ROLES)
def logout() -> BaseResponse:
    """Sign out; the session is ended on the server, not just forgotten by the browser."""
    user = current_user()
    assert user is not None
    audit.record(db(), "user.signed_out", actor=user, target_type="staff_user", target_id=user.id)
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("account.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def password() -> str | BaseResponse | tuple[str, int]:
    """Change one's own password; every other session of one's own ends."""
    user = current_user()
    assert user is not None
    if request.method == "GET":
        return render_template("password.html")
    form = request.form
    try:
        typed = (form.get("current", ""), form.get("new", ""), form.get("confirm", ""))
        ended = users.change_password(db(), user, *typed, keep=current_session_id())
    except UserError as exc:
        flash(str(exc), "error")
        return render_template("password.html"), 400
    elsewhere = f" You are signed out of {ended} other session(s)." if ended else ""
    flash(f"Your password is changed.{elsewhere}", "info")
    return redirect(url_for("account.home"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invite(token: str) -> str | BaseResponse | tuple[str, int]:
    """A new member of staff sets their password from the link an admin gave them."""
    invite = db().scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
    if invite is None or invite.used_at is not None or invite.expires_at < utcnow():
        return render_template("invite.html", invalid=True), 404
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            if password != request.form.get("confirm", ""):
                raise UserError("The two passwords differ.")
            users.check_password_rules(password)
        except UserError as exc:
            flash(str(exc), "error")
            return render_template("invite.html", invite=invite), 400
        invite.used_at = utcnow()
        invite.staff.password_hash = users.hash_password(password)
        users.end_sessions(db(), invite.staff)  # a new password: no old session lives on
        audit.record(db(), "user.invite_accepted", actor=invite.staff, target_type="staff_user",
                     target_id=invite.staff_id)  # fmt: skip
        start_session(invite.staff)
        return redirect(url_for("account.home"))
    return render_template("invite.html", invite=invite)
