"""Who may see what: sign-in sessions, roles on every route, CSRF and safe headers.

Every view must say who may use it (``@roles(...)`` or ``@public``); a view that
says nothing is refused to everyone, so a forgotten decorator fails closed.
Sessions live in the database: the cookie carries only a random token, so
signing out (or going idle) really ends a session, on every hub.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.models import Role, StaffUser, WebSession, utcnow
from web import db as request_db
from web.db import db

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
SEEN_EVERY = timedelta(minutes=1)  # how often last_seen_at is refreshed


def roles(*allowed: Role) -> Callable[[F], F]:
    """Let only these roles use the view."""

    def mark(view: F) -> F:
        view.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Let anyone use the view, signed in or not (sign-in and first-run pages)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def token_hash(token: str) -> str:
    """How a cookie or invite token is stored: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: StaffUser) -> None:
    """Sign ``user`` in with a brand-new session id (never one from before sign-in)."""
    session.clear()
    token = secrets.token_urlsafe(32)
    db().add(WebSession(token_hash=token_hash(token), staff_id=user.id))
    session["token"] = token
    user.last_login_at = utcnow()


def end_session() -> None:
    """Sign out: the session row is ended, so the old cookie opens nothing again."""
    record = _session_record()
    if record is not None:
        record.ended_at = utcnow()
    session.clear()


def current_session_id() -> int | None:
    """The id of the signed-in member of staff's own web session, if there is one."""
    record = _session_record()
    return record.id if record is not None else None


def _session_record() -> WebSession | None:
    token = session.get("token")
    if not token:
        return None
    # The member of staff comes in the same query: every page needs them.
    return db().scalar(
        select(WebSession)
        .where(WebSession.token_hash == token_hash(token), WebSession.ended_at.is_(None))
        .options(joinedload(WebSession.staff))
    )


def current_user() -> StaffUser | None:
    """The signed-in member of staff, or None (also after an idle timeout)."""
    if "user" in g:
        return g.user
    g.user = None
    record = _session_record()
    if record is None:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["PHONEHUB"].web.session_idle_minutes)
    if now - record.last_seen_at > idle or not record.staff.active:
        record.ended_at = now
        g.idle_out = True
        return None
    if now - record.last_seen_at > SEEN_EVERY:
        record.last_seen_at = now
    g.user = record.staff
    return g.user


def _has_users() -> bool:
    # Accounts are disabled, never deleted, so once there is one there always is:
    # remembered, rather than counted on every request.
    if current_app.extensions.get("phonehub.has_users"):
        return True
    found = db().scalar(select(StaffUser.id).limit(1)) is not None
    current_app.extensions["phonehub.has_users"] = found
    return found


def _enforce() -> Any:
    if request.endpoint in (None, "static", "favicon"):
        return None
    view = current_app.view_functions[request.endpoint]
    if not _has_users() and request.endpoint != "account.setup":
        return redirect(url_for("account.setup"))
    if getattr(view, "is_public", False):
        return None
    allowed = getattr(view, "allowed_roles", None)
    if allowed is None:
        abort(403)  # a view nobody declared access for is closed to everyone
    user = current_user()
    if user is None:
        if g.get("idle_out"):
            flash("You were signed out after a while without using the hub.", "info")
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            abort(401)
        return redirect(url_for("account.login", next=request.full_path))
    if user.role not in allowed:
        abort(403)
    return None


def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "static":
        # Pages may show family data: never kept by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Wire CSRF, access control, headers and the request's database session."""
    csrf.init_app(app)
    app.before_request(_enforce)
    app.after_request(request_db.commit)
    app.after_request(_headers)
    app.teardown_request(request_db.close)
    app.context_processor(lambda: {"user": current_user(), "Role": Role})
