"""Placing and controlling a call from the card, and the live call state pushed to the desk."""

from __future__ import annotations

import threading
from typing import Any

from flask import (
    Response,
    current_app,
    request,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from hub import calls, own_phone
from hub.exceptions import ControlError, DialRefused
from hub.guard import NO_OWN_PHONE
from hub.models import (
    CallAttempt,
    CampaignEntry,
    Guardian,
    Hub,
    PhoneNumber,
)
from web.db import db
from web.desk.common import (
    ANYONE,
    bp,
    calls_on_line,
    line_client,
    pending_call,
    signed_in,
)
from web.live import DesksFull, LiveFeed, Message, desks_allowed, from_attempt
from web.security import roles

NOT_YOUR_CALL = "The call on this hub's line is a colleague's; only they can end or change it."

_FEED_LOCK = threading.Lock()  # two desks opening at once make one feed


@bp.route("/call", methods=["POST"])
@roles(*ANYONE)
def call() -> tuple[dict[str, Any], int]:
    """Ring one of the household's numbers; the line daemon reads it from the database.

    ``via`` "own_phone": the member of staff talks on their own phone, rung first.
    """
    user = signed_in()
    payload = request.get_json(silent=True) or {}
    via = "own_phone" if payload.get("via") == "own_phone" else "handset"
    if via == "own_phone" and not own_phone.ready(user):
        return {"error": NO_OWN_PHONE}, 409
    entry = db().get(CampaignEntry, int(payload.get("entry", 0)))
    number_id = int(payload.get("number", 0))
    # Whose number it is, in one query rather than loading the number, then its contact:
    # the member of staff is waiting for the phone to ring.
    household_id = db().scalar(
        select(Guardian.household_id).join(PhoneNumber).where(PhoneNumber.id == number_id)
    )
    if entry is None or household_id is None or entry.claimed_by_id != user.id:
        return {"error": "That household is not on your card any more; reload the page."}, 409
    if household_id != entry.household_id:
        return {"error": "That number is not this household's."}, 409
    pending = pending_call(user)
    if pending is not None and pending.end_reason is None and pending.ended_at is None:
        return {"error": "You are already in a call."}, 409
    attempt = calls.request(db(), user, entry, number_id, hub_id=_this_hub())
    attempt_id = attempt.id  # read now: after the commit it would be read back from the database
    db().commit()  # the line daemon reads the attempt from the database
    try:
        line_client().request("dial", attempt=attempt_id, via=via)
    except DialRefused as exc:
        return {"error": str(exc), "attempt": attempt_id}, 409
    except ControlError as exc:
        _close_failed(attempt_id, str(exc))
        return {"error": str(exc)}, 503
    return {"attempt": attempt_id}, 200


def _this_hub() -> int | None:
    """This hub's row (the line daemon makes it at start-up), looked up once."""
    hub_id = current_app.extensions.get("phonehub.hub_id")
    if hub_id is None:
        name = current_app.config["PHONEHUB"].hub.name
        hub_id = db().scalar(select(Hub.id).where(Hub.name == name))
        current_app.extensions["phonehub.hub_id"] = hub_id
    return hub_id


def _close_failed(attempt_id: int, reason: str) -> None:
    """The line could not be asked to dial: the call failed, and the audit log says why."""
    attempt = db().get(CallAttempt, attempt_id)
    if attempt is not None:
        calls.failed(db(), attempt, reason, hub_id=None)
        db().commit()


@bp.route("/practice", methods=["POST"])
@roles(*ANYONE)
def practice() -> tuple[dict[str, Any], int]:
    """Ring the practice line instead of a family, to get used to the desk."""
    payload = request.get_json(silent=True) or {}
    via = "own_phone" if payload.get("via") == "own_phone" else "handset"
    try:
        attempt = line_client().request("practice_call", via=via,
                                        **{"as": signed_in().email})["attempt"]  # fmt: skip
    except ControlError as exc:
        return {"error": str(exc)}, 409
    return {"attempt": attempt}, 200


@bp.route("/hangup", methods=["POST"])
@roles(*ANYONE)
def hangup() -> tuple[dict[str, Any], int]:
    """End the current call."""
    return _ask("hangup")


@bp.route("/voicemail", methods=["POST"])
@roles(*ANYONE)
def voicemail() -> tuple[dict[str, Any], int]:
    """Play the school's message into the answering machine; the line hangs up after."""
    return _ask("voicemail")


@bp.route("/mute", methods=["POST"])
@roles(*ANYONE)
def mute() -> tuple[dict[str, Any], int]:
    """Turn the handset's microphone off (or on again) for the family; they are still heard."""
    payload = request.get_json(silent=True) or {}
    return _ask("mute", on=payload.get("on") is True)


@bp.route("/keys", methods=["POST"])
@roles(*ANYONE)
def keys() -> tuple[dict[str, Any], int]:
    """Send keys into the answered call: a parent's work extension, a service's menu."""
    payload = request.get_json(silent=True) or {}
    to = "interpreter" if payload.get("to") == "interpreter" else "family"
    return _ask("keys", keys=str(payload.get("keys", "")), to=to)


@bp.route("/interpreter", methods=["POST"])
@roles(*ANYONE)
def interpreter() -> tuple[dict[str, Any], int]:
    """Join the school's interpreting service to the call (a three-way call), or drop it."""
    payload = request.get_json(silent=True) or {}
    return _ask("interpreter", on=payload.get("on") is True)


def _ask(command: str, **fields: Any) -> tuple[dict[str, Any], int]:
    """Send ``command`` about this person's call on the line (the hub may carry several).

    The desk names its call by attempt; only whoever made a call may end, mute, key or
    message it, though the line itself would obey anyone.
    """
    user = signed_in()
    on_line = calls_on_line()
    named = (request.get_json(silent=True) or {}).get("attempt")
    if named not in (None, ""):
        live = next((c for c in on_line if str(c.attempt.id) == str(named)), None)
        if live is None:
            return {"error": "That call has ended."}, 409
        if not calls.may_control(live.attempt, user):
            return {"error": NOT_YOUR_CALL}, 403
        fields["attempt"] = live.attempt.id
    else:
        mine = [live for live in on_line if calls.may_control(live.attempt, user)]
        if not mine:
            if on_line:
                return {"error": NOT_YOUR_CALL}, 403
            return {"error": "There is no call in progress."}, 409
        fields["attempt"] = mine[0].attempt.id
    try:
        reply = line_client().request(command, **fields)
    except (ControlError, DialRefused) as exc:
        return {"error": str(exc)}, 409
    return reply, 200


@bp.route("/events")
@roles(*ANYONE)
def events() -> BaseResponse:
    """This member of staff's own calls as they happen, pushed to the desk (Server-Sent Events)."""
    staff_id = signed_in().id
    try:
        desk = _feed().open(staff_id, fallback=lambda: _latest_call(staff_id))
    except DesksFull as exc:
        # The browser tries again by itself; the pages other staff are loading come first.
        return Response(str(exc), 503, {"Retry-After": "5"}, mimetype="text/plain")
    response = Response(desk.stream(), mimetype="text/event-stream")
    response.call_on_close(desk.close)
    return response


def _feed() -> LiveFeed:
    """The panel's one subscription to the line's events, made when the first desk opens."""
    with _FEED_LOCK:
        feed = current_app.extensions.get("phonehub.live")
        if feed is None:
            config = current_app.config["PHONEHUB"]
            database = current_app.extensions["phonehub.db"]
            limit = desks_allowed(config.web.threads)
            feed = LiveFeed(config.line.control_socket, database, limit=limit)
            current_app.extensions["phonehub.live"] = feed
    return feed


def _latest_call(staff_id: int) -> Message | None:
    """The member of staff's latest call as its row has it, for a desk opened before any event."""
    attempt = db().scalar(
        select(CallAttempt)
        .where(CallAttempt.staff_id == staff_id)
        .order_by(CallAttempt.id.desc())
        .limit(1)
    )
    return from_attempt(attempt) if attempt is not None else None
