"""The call desk: staff take the next household, call it, and record what happened.

Staff see who and why, never a full number: each number is a button labelled
"Mum · mobile ••• 123", and the line daemon reads the number itself. The call's
state is pushed to the page as the line's events arrive (``/desk/events``, fed by
web/live.py), starting with the call as it is now. A card shown afresh asks the
line which call it has up, so a reload never loses a call. An outcome is required
before the next card, and the next page says what was saved.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response as BaseResponse

from hub import calls, queues
from hub.control_client import ControlClient
from hub.exceptions import ControlError, DialRefused, QueueError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EndReason,
    EntryState,
    Guardian,
    Household,
    Hub,
    Outcome,
    PhoneNumber,
    Role,
    StaffUser,
    utcnow,
)
from hub.numbers import mask
from web.db import db
from web.live import DesksFull, LiveFeed, Message, desks_allowed, from_attempt
from web.security import current_user, roles

bp = Blueprint("desk", __name__, url_prefix="/desk")

ANYONE = (Role.STAFF, Role.ADMIN, Role.DSL)
SWEEP_EVERY_S = 60.0
OUTCOMES = {
    Outcome.SPOKE_TO_PARENT: "Spoke to parent or carer",
    Outcome.SPOKE_TO_PUPIL: "Spoke to the pupil",
    Outcome.NO_ANSWER: "No answer",
    Outcome.VOICEMAIL: "Left a voicemail",
    Outcome.WRONG_NUMBER: "Wrong number",
    Outcome.DECLINED: "Declined to talk",
    Outcome.CONCERN: "Safeguarding concern (goes to the DSL)",
}
NOT_YOUR_CALL = "The call on this hub's line is a colleague's; only they can end or change it."
LIVE = {"dialling": "Dialling…", "ringing": "Ringing…", "connected": "Connected"}
_FEED_LOCK = threading.Lock()  # two desks opening at once make one feed
STATUS_TIMEOUT_S = 2.0  # the line answers status from memory; a card must not hang on it


@dataclass(frozen=True)
class LiveCall:
    """The call the line has up now, belonging to the member of staff looking."""

    attempt: CallAttempt
    state: str  # dialling, ringing or connected
    muted: bool


def _user() -> StaffUser:
    user = current_user()
    assert user is not None
    return user


def _line() -> ControlClient:
    return ControlClient(current_app.config["PHONEHUB"].line.control_socket, timeout=10)


def _pending(user: StaffUser) -> CallAttempt | None:
    """The member of staff's last campaign call that still needs an outcome."""
    return db().scalar(
        select(CallAttempt)
        .where(
            CallAttempt.staff_id == user.id,
            CallAttempt.entry_id.is_not(None),
            CallAttempt.outcome.is_(None),
            # A refused dial never rang; an interrupted call went back in the queue.
            CallAttempt.end_reason.not_in([EndReason.REFUSED, EndReason.INTERRUPTED])
            | CallAttempt.end_reason.is_(None),
        )
        .order_by(CallAttempt.id.desc())
        .limit(1)
    )


def _line_status() -> dict[str, Any] | None:
    """The line daemon's status; None if it is not answering (then it has no call up)."""
    socket = current_app.config["PHONEHUB"].line.control_socket
    try:
        return ControlClient(socket, timeout=STATUS_TIMEOUT_S).request("status")["status"]
    except (ControlError, OSError, ValueError):
        return None


def _live_call(user: StaffUser) -> LiveCall | None:
    """The call this hub's line has up for the member of staff, as the line itself says.

    Asked of the line rather than read from the attempt rows: a practice call has no
    campaign entry, and a reloaded card must show whatever is really on the handset.
    """
    status = _line_status()
    call = status.get("call") if status else None
    if not call:
        return None
    attempt = db().get(CallAttempt, call["attempt"])
    if attempt is None or attempt.staff_id != user.id or attempt.ended_at is not None:
        return None
    return LiveCall(attempt=attempt, state=call["state"], muted=bool(status.get("muted")))


@bp.route("/")
@roles(*ANYONE)
def index() -> str | BaseResponse:
    """The campaigns this member of staff may work."""
    user = _user()
    pending = _pending(user)
    if pending is not None and pending.entry is not None:
        return redirect(url_for("desk.card", campaign_id=pending.entry.campaign_id))
    campaigns = [
        c
        for c in db().scalars(select(Campaign).where(Campaign.closed_at.is_(None)))
        if queues.may_work(user, c)
    ]
    progress = {c.id: queues.progress(db(), c) for c in campaigns}
    # Only what this person could be offered now: another's list, a concern with
    # the DSL or a family tried today are waiting, but not for them.
    zone = current_app.config["PHONEHUB"].dialplan.zone
    waiting = {c.id: queues.waiting_for(db(), c, user, now=utcnow(), zone=zone) for c in campaigns}
    return render_template(
        "desk_index.html", campaigns=campaigns, progress=progress, waiting=waiting
    )


def _release_abandoned_claims() -> None:
    """Give families back to the queue when whoever claimed them walked away.

    A claim is refreshed whenever its card is shown and kept while a call on it is
    recent, so only a closed tab or a member of staff called away lets it go stale.
    Swept at most once a minute per panel, not on every card.
    """
    now = time.monotonic()
    if now - current_app.extensions.get("phonehub.claims_swept", -SWEEP_EVERY_S) < SWEEP_EVERY_S:
        return
    current_app.extensions["phonehub.claims_swept"] = now
    zone = current_app.config["PHONEHUB"].dialplan.zone
    queues.release_stale_claims(db(), older_than=queues.ABANDONED_CLAIM, now=utcnow(), zone=zone)


@bp.route("/<int:campaign_id>")
@roles(*ANYONE)
def card(campaign_id: int) -> str | BaseResponse | tuple[str, int]:
    """The next household to call (or the one still waiting for an outcome)."""
    user = _user()
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or not queues.may_work(user, campaign):
        abort(404)
    pending = _pending(user)
    if pending is not None and pending.entry is not None:
        if pending.entry.campaign_id != campaign.id:  # its own campaign's talking points
            return redirect(url_for("desk.card", campaign_id=pending.entry.campaign_id))
        entry = pending.entry
    else:
        try:
            _release_abandoned_claims()
            zone = current_app.config["PHONEHUB"].dialplan.zone
            entry = queues.claim_next(db(), campaign, user, now=utcnow(), zone=zone)
        except QueueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("desk.index"))
        if entry is None:
            return render_template("desk_empty.html", campaign=campaign)
    return _card_page(user, campaign, entry, pending)


def _card_page(user: StaffUser, campaign: Campaign, entry: CampaignEntry,
               pending: CallAttempt | None, *, typed: dict[str, str] | None = None,
               error: str | None = None) -> str:  # fmt: skip
    """The card, with the call the line has up and the outcome form as last typed."""
    family = _family(entry)
    return render_template(
        "desk.html",
        campaign=campaign,
        entry=entry,
        people=_people(family),
        history=queues.history(db(), family, viewer=user),
        pending=pending,
        call=_call_panel(_live_call(user), pending),
        practice=bool(current_app.config["PHONEHUB"].line.practice_number),
        outcomes=OUTCOMES,
        typed=typed or {},
        error=error,
    )


def _call_panel(live: LiveCall | None, pending: CallAttempt | None) -> dict[str, Any] | None:
    """What the card's call panel shows: the line's call if it has one, else the last call."""
    if live is not None:
        return {"attempt": live.attempt.id, "state": LIVE.get(live.state, "Calling…"),
                "up": True, "connected": live.state == "connected", "muted": live.muted,
                "practice": live.attempt.entry_id is None}  # fmt: skip
    if pending is None:
        return None
    ended = calls.shown(pending).ended
    up = pending.ended_at is None
    return {"attempt": pending.id, "state": "Calling…" if up else f"Ended: {ended or 'call ended'}",
            "up": up, "connected": False, "muted": False, "practice": False}  # fmt: skip


def _family(entry: CampaignEntry) -> Household:
    """The card's household with its pupils, guardians, numbers and relationships.

    One query (a family is a few rows each); loaded one by one as the page read
    them, they took two queries a guardian.
    """
    household = db().scalar(
        select(Household)
        .where(Household.id == entry.household_id)
        .options(
            joinedload(Household.pupils),
            joinedload(Household.guardians).joinedload(Guardian.numbers),
            joinedload(Household.guardians).joinedload(Guardian.contacts),
        )
    )
    assert household is not None  # the entry's foreign key holds it
    return household


def _people(household: Household) -> list[dict[str, Any]]:
    """The guardians as staff see them: name, relationship, masked numbers."""
    people = []
    for guardian in household.guardians:
        relationship = next((c.relationship_ for c in guardian.contacts if c.relationship_), "")
        numbers = [
            {"id": n.id, "shown": mask(n.e164, n.label)}
            for n in guardian.numbers
            if not n.do_not_contact
        ]
        people.append({
            "name": guardian.name, "relationship": relationship,
            "numbers": [] if guardian.do_not_contact else numbers,
            "do_not_contact": guardian.do_not_contact, "times": guardian.preferred_times,
        })  # fmt: skip
    return people


@bp.route("/call", methods=["POST"])
@roles(*ANYONE)
def call() -> tuple[dict[str, Any], int]:
    """Ring one of the household's numbers; the line daemon reads it from the database."""
    user = _user()
    payload = request.get_json(silent=True) or {}
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
    pending = _pending(user)
    if pending is not None and pending.end_reason is None and pending.ended_at is None:
        return {"error": "You are already in a call."}, 409
    attempt = calls.request(db(), user, entry, number_id, hub_id=_this_hub())
    attempt_id = attempt.id  # read now: after the commit it would be read back from the database
    db().commit()  # the line daemon reads the attempt from the database
    try:
        _line().request("dial", attempt=attempt_id)
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
    try:
        attempt = _line().request("practice_call", **{"as": _user().email})["attempt"]
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


def _ask(command: str, **fields: Any) -> tuple[dict[str, Any], int]:
    """Send ``command`` about the call on the line, if that call is this person's."""
    status = _line_status()
    call = status.get("call") if status else None
    if call:
        attempt = db().get(CallAttempt, call["attempt"])
        # Only whoever made a call may end, mute or message it; the line would obey anyone.
        if attempt is not None and attempt.staff_id not in (None, _user().id):
            return {"error": NOT_YOUR_CALL}, 403
    try:
        reply = _line().request(command, **fields)
    except ControlError as exc:
        return {"error": str(exc)}, 409
    return reply, 200


@bp.route("/events")
@roles(*ANYONE)
def events() -> BaseResponse:
    """This member of staff's own calls as they happen, pushed to the desk (Server-Sent Events)."""
    staff_id = _user().id
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


@bp.route("/outcome", methods=["POST"])
@roles(*ANYONE)
def outcome() -> BaseResponse:
    """Record how the call went; then the next household comes up."""
    user = _user()
    form = request.form
    attempt = db().get(CallAttempt, form.get("attempt", 0, type=int))
    if attempt is None or attempt.entry is None:
        abort(404)
    campaign_id = attempt.entry.campaign_id
    typed = {name: form.get(name, "").strip() for name in ("outcome", "notes", "call_back_at")}
    zone = current_app.config["PHONEHUB"].dialplan.zone
    try:
        chosen = Outcome(typed["outcome"])
    except ValueError:
        return _try_again(user, attempt, typed, "Choose how the call went.")
    try:
        when = _call_back(typed["call_back_at"], zone)
    except ValueError:
        return _try_again(user, attempt, typed, "Give the call-back time as a date and a time.")
    try:
        entry = calls.record_outcome(db(), attempt, chosen, staff=user, now=utcnow(),
                                      notes=typed["notes"], call_back_at=when,
                                      zone=zone)  # fmt: skip
    except QueueError as exc:
        return _try_again(user, attempt, typed, str(exc))
    flash(_saved(chosen, entry, zone), "info")
    return redirect(url_for("desk.card", campaign_id=campaign_id))


def _call_back(text: str, zone: ZoneInfo) -> datetime | None:
    """The call-back time the browser sent (school-local), or None if none was chosen."""
    return datetime.fromisoformat(text).replace(tzinfo=zone) if text else None


def _try_again(user: StaffUser, attempt: CallAttempt, typed: dict[str, str],
               error: str) -> BaseResponse | tuple[str, int]:  # fmt: skip
    """The same card with what was typed and the one-sentence error; nothing is saved.

    Shown again rather than redirected, so the note, the outcome and the time survive.
    Only a call still waiting for its outcome comes back; otherwise say why and move on.
    """
    db().rollback()
    pending = _pending(user)
    if pending is None or pending.id != attempt.id or pending.entry is None:
        flash(error, "error")
        return redirect(url_for("desk.card", campaign_id=attempt.entry.campaign_id))
    entry = pending.entry
    return _card_page(user, entry.campaign, entry, pending, typed=typed, error=error), 422


def _saved(chosen: Outcome, entry: CampaignEntry, zone: ZoneInfo) -> str:
    """One line for the next page: what was saved for which family, and what happens next."""
    if chosen is Outcome.CONCERN:
        then = "it is on the DSL's list now"
    elif entry.state is EntryState.ESCALATED:
        then = "they have not been reached, so they are on the DSL's list now"
    elif entry.state is EntryState.CALL_BACK and entry.call_back_at is not None:
        then = f"they will be called back on {_day_and_time(entry.call_back_at, zone)}"
    elif entry.state is EntryState.DONE:
        then = "nothing more to do for them in this campaign"
    elif entry.state is EntryState.CLAIMED:
        then = "a colleague has them on their desk now"
    else:
        # Not reached today: offered again from tomorrow (hub.queues), never at once.
        then = "they will be offered again from tomorrow"
    return f"Saved for {_family_name(entry.household)}: {calls.SAID[chosen]}; {then}."


def _family_name(household: Household) -> str:
    """'the Nowak family', or the pupils' names when they have different surnames."""
    surnames = {pupil.surname for pupil in household.pupils}
    if len(surnames) == 1:
        return f"the {surnames.pop()} family"
    names = [pupil.name for pupil in household.pupils]
    if not names:
        return "this family"
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    return f"the family of {listed}"


def _day_and_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 1 Dec at 16:30', in the school's time zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"
