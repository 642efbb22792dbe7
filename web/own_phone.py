"""My phone: a member of staff's own phone, for calling families from wherever they are.

They give its number; the hub rings it, showing the school's number, and speaks a
code; they type the code here. Only then does the hub use it. Nobody else sees it;
they see it masked, and may remove it at any time. Every step is audited.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from hub import own_phone
from hub.control_client import ControlClient
from hub.exceptions import ControlError
from hub.models import StaffUser, utcnow
from web.db import db
from web.desk.common import ANYONE
from web.security import current_user, roles

bp = Blueprint("own_phone", __name__, url_prefix="/account/phone")


@bp.route("/")
@roles(*ANYONE)
def index() -> str:
    """The member of staff's own phone, and what to do next with it."""
    return _page()


@bp.route("/", methods=["POST"])
@roles(*ANYONE)
def save() -> str | BaseResponse | tuple[str, int]:
    """Take a number as this person's own phone; it waits for its code before it is used."""
    typed = request.form.get("number", "")
    try:
        own_phone.set_number(db(), _me(), typed)
    except own_phone.OwnPhoneError as exc:
        return _page(error=str(exc), typed=typed), 400
    flash("Saved. Now have the hub ring it with a code, to show the phone is yours.", "info")
    return redirect(url_for("own_phone.index"))


@bp.route("/call", methods=["POST"])
@roles(*ANYONE)
def call() -> str | BaseResponse | tuple[str, int]:
    """Have the line ring the phone and speak its code."""
    me = _me()
    db().commit()  # the line reads the account from its own session
    client = ControlClient(current_app.config["PHONEHUB"].line.control_socket, timeout=20)
    try:
        client.request("own_phone_code", **{"as": me.email})
    except ControlError as exc:
        return _page(error=str(exc)), 409
    flash("The hub is ringing your phone: answer it, and type the code it says below.", "info")
    return redirect(url_for("own_phone.index") + "#code")


@bp.route("/confirm", methods=["POST"])
@roles(*ANYONE)
def confirm() -> str | BaseResponse | tuple[str, int]:
    """The code the hub said, typed back: the phone is confirmed as this person's."""
    try:
        own_phone.confirm(db(), _me(), request.form.get("code", ""), utcnow())
    except own_phone.OwnPhoneError as exc:
        db().commit()  # the try is counted, right or wrong
        return _page(error=str(exc)), 400
    flash("Your phone is confirmed.", "info")
    return redirect(url_for("own_phone.index"))


@bp.route("/remove", methods=["POST"])
@roles(*ANYONE)
def remove() -> BaseResponse:
    """Forget this person's own phone."""
    own_phone.remove(db(), _me())
    flash("Your phone's number is removed from the hub.", "info")
    return redirect(url_for("own_phone.index"))


def _page(*, error: str = "", typed: str = "") -> str:
    me = _me()
    return render_template("own_phone.html", shown=own_phone.shown(me),
                           ready=own_phone.ready(me), error=error, typed=typed,
                           waiting=bool(me.own_phone_code_hash))  # fmt: skip


def _me() -> StaffUser:
    user = current_user()
    assert user is not None
    return user
