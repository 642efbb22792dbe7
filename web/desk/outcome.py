"""Recording how a call went, and the one line the next card shows about what was saved."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from hub import calls, positive
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    CampaignEntry,
    EntryState,
    Outcome,
    Purpose,
    StaffUser,
    utcnow,
)
from hub.school_days import SchoolCalendar
from web.db import db
from web.desk.cards import MEETING, card_page
from web.desk.common import ANYONE, bp, pending_call, signed_in
from web.security import roles


@bp.route("/outcome", methods=["POST"])
@roles(*ANYONE)
def outcome() -> BaseResponse:
    """Record how the call went; then the next household comes up."""
    user = signed_in()
    form = request.form
    attempt = db().get(CallAttempt, form.get("attempt", 0, type=int))
    if attempt is None or attempt.entry is None:
        abort(404)
    campaign_id = attempt.entry.campaign_id
    typed = {name: form.get(name, "").strip() for name in ("outcome", "notes", "call_back_at")}
    zone = current_app.config["PHONEHUB"].dialplan.zone
    nation = current_app.config["PHONEHUB"].dialplan.nation
    meeting = typed["outcome"] == MEETING
    if meeting and attempt.entry.campaign.purpose is not Purpose.POSITIVE:
        return _try_again(user, attempt, typed, "A meeting is booked from a positive call home; "
                          "choose how this call went.")  # fmt: skip
    try:
        chosen = Outcome.SPOKE_TO_PARENT if meeting else Outcome(typed["outcome"])
    except ValueError:
        return _try_again(user, attempt, typed, "Choose how the call went.")
    try:
        when = _call_back(typed["call_back_at"], zone)
    except ValueError:
        return _try_again(user, attempt, typed, "Give the call-back time as a date and a time.")
    if meeting and when is None:  # booked for them: the next school day, after school
        dialplan = current_app.config["PHONEHUB"].dialplan
        when = positive.follow_up_at(utcnow(), dialplan=dialplan,
                                     calendar=SchoolCalendar.load(db(), nation))  # fmt: skip
    try:
        entry = calls.record_outcome(db(), attempt, chosen, staff=user, now=utcnow(),
                                      notes=typed["notes"], call_back_at=when, meeting=meeting,
                                      zone=zone, nation=nation)  # fmt: skip
    except QueueError as exc:
        return _try_again(user, attempt, typed, str(exc))
    flash(_saved(chosen, entry, zone, meeting=meeting), "info")
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
    pending = pending_call(user)
    if pending is None or pending.id != attempt.id or pending.entry is None:
        flash(error, "error")
        return redirect(url_for("desk.card", campaign_id=attempt.entry.campaign_id))
    entry = pending.entry
    return card_page(user, entry.campaign, entry, pending, typed=typed, error=error), 422


def _saved(chosen: Outcome, entry: CampaignEntry, zone: ZoneInfo, *, meeting: bool = False) -> str:
    """One line for the next page: what was saved for which family, and what happens next."""
    family = calls.family_name(entry.household)
    if meeting and entry.state is EntryState.CALL_BACK and entry.call_back_at is not None:
        return (
            f"Saved for {family}: the parent wants a meeting; a follow-up call to arrange "
            f"it is booked for you on {_day_and_time(entry.call_back_at, zone)}."
        )
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
    return f"Saved for {family}: {calls.SAID[chosen]}; {then}."


def _day_and_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 1 Dec at 16:30', in the school's time zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"
