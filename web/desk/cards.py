"""The desk's pages: the campaigns a member of staff may work, and the card of the next family."""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, calls, languages, own_phone, positive, queues, who_called
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EntryState,
    Guardian,
    Household,
    Outcome,
    Purpose,
    StaffUser,
    utcnow,
)
from hub.numbers import mask
from hub.school_days import SchoolCalendar
from web import positive as positive_web
from web.db import db
from web.desk.common import ANYONE, LiveCall, bp, live_call, pending_call, signed_in
from web.security import roles

SWEEP_EVERY_S = 60.0

# The form's values: an Outcome's, or MEETING (spoke to the parent, who wants a meeting).
MEETING = "parent_wants_meeting"
OUTCOMES = {
    Outcome.SPOKE_TO_PARENT: "Spoke to parent or carer",
    Outcome.SPOKE_TO_PUPIL: "Spoke to the pupil",
    Outcome.NO_ANSWER: "No answer",
    Outcome.VOICEMAIL: "Left a voicemail",
    Outcome.WRONG_NUMBER: "Wrong number",
    Outcome.DECLINED: "Declined to talk",
    Outcome.CONCERN: "Safeguarding concern (goes to the DSL)",
}
POSITIVE_OUTCOMES = {
    Outcome.SPOKE_TO_PARENT: "Spoke to parent or carer",
    MEETING: "Parent wants a meeting (books a follow-up call for you to arrange it)",
    **{key: label for key, label in OUTCOMES.items() if key != Outcome.SPOKE_TO_PARENT},
}

LIVE = {"dialling": "Dialling…", "ringing": "Ringing…", "connected": "Connected"}
# Before the family is rung, a call from the member of staff's own phone is at their phone.
YOUR_PHONE = {"ringing": "Ringing your phone…",
              "answered": "Your phone answered: press 1 on it to be put through…"}  # fmt: skip


@bp.route("/")
@roles(*ANYONE)
def index() -> str | BaseResponse:
    """The campaigns this member of staff may work."""
    user = signed_in()
    pending = pending_call(user)
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
    return render_template("desk_index.html", campaigns=campaigns, progress=progress,
                           waiting=waiting, day_off=_day_off(),
                           habit=positive_web.habit(user),
                           called_back=who_called.waiting_for(db(), user))  # fmt: skip


def _day_off() -> str | None:
    """Why no call can be made today, when the school calls on school days only."""
    dialplan = current_app.config["PHONEHUB"].dialplan
    if not dialplan.school_days_only:
        return None
    today = utcnow().astimezone(dialplan.zone).date()
    return SchoolCalendar.load(db(), dialplan.nation).why_not(today)


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
    nation = current_app.config["PHONEHUB"].dialplan.nation
    queues.release_stale_claims(db(), older_than=queues.ABANDONED_CLAIM, now=utcnow(),
                                zone=zone, nation=nation)  # fmt: skip


@bp.route("/<int:campaign_id>")
@roles(*ANYONE)
def card(campaign_id: int) -> str | BaseResponse | tuple[str, int]:
    """The next household to call (or the one still waiting for an outcome)."""
    user = signed_in()
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or not queues.may_work(user, campaign):
        abort(404)
    pending = pending_call(user)
    if pending is not None and pending.entry is not None:
        if pending.entry.campaign_id != campaign.id:  # its own campaign's talking points
            return redirect(url_for("desk.card", campaign_id=pending.entry.campaign_id))
        entry = pending.entry
    else:
        try:
            _release_abandoned_claims()
            zone = current_app.config["PHONEHUB"].dialplan.zone
            wanted = request.args.get("entry", type=int)
            entry = queues.claim_next(db(), campaign, user, now=utcnow(), zone=zone,
                                      wanted=wanted)  # fmt: skip
        except QueueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("desk.index"))
        if wanted is not None and (entry is None or entry.id != wanted):
            flash(_not_now(wanted, zone), "info")
        if entry is None:
            return render_template("desk_empty.html", campaign=campaign)
    return card_page(user, campaign, entry, pending)


def _not_now(entry_id: int, zone: ZoneInfo) -> str:
    """Why the family a link named is not the card shown."""
    wanted = db().get(CampaignEntry, entry_id)
    if wanted is None:
        return "That family is no longer in this campaign."
    family = calls.family_name(wanted.household)
    booked = wanted.call_back_at
    if wanted.state is EntryState.CALL_BACK and booked is not None and booked > utcnow():
        local = booked.astimezone(zone)
        return (f"The call to {family} is booked for {local:%a} {local.day} {local:%b} at "
                f"{local:%H:%M}, so it is not offered yet.")  # fmt: skip
    return f"{family[:1].upper()}{family[1:]} cannot be offered to you just now."


def card_page(user: StaffUser, campaign: Campaign, entry: CampaignEntry,
               pending: CallAttempt | None, *, typed: dict[str, str] | None = None,
               error: str | None = None) -> str:  # fmt: skip
    """The card, with the call the line has up and the outcome form as last typed."""
    family = _family(entry)
    config = current_app.config["PHONEHUB"]
    is_positive = campaign.purpose is Purpose.POSITIVE
    return render_template(
        "desk.html",
        campaign=campaign,
        entry=entry,
        positive_card=_positive_card(entry, family) if is_positive else None,
        length_prompt_s=config.positive.call_length_min * 60 if is_positive else None,
        people=_people(family),
        language=_language(family),
        history=queues.history(db(), family, viewer=user),
        pending=pending,
        call=_call_panel(live_call(user), pending),
        practice=bool(current_app.config["PHONEHUB"].line.practice_number),
        interpreting=bool(current_app.config["PHONEHUB"].line.interpreter_number),
        my_phone=own_phone.shown(user) if own_phone.ready(user) else None,
        outcomes=POSITIVE_OUTCOMES if is_positive else OUTCOMES,
        typed=typed or {},
        error=error,
    )


def _positive_card(entry: CampaignEntry, family: Household) -> dict[str, Any]:
    """A positive call's card: the first line to say, what each pupil did, the caller's plan.

    The notes are the nominations waiting for this call (siblings' together, each under
    its pupil's name), or the notes the office wrote for a positive campaign.
    """
    notes: dict[int, list[dict[str, str]]] = {}
    for nomination in positive.waiting_notes(db(), entry):
        by = nomination.nominated_by.name if nomination.nominated_by else ""
        notes.setdefault(nomination.pupil_id, []).append({"text": nomination.note, "by": by})
    if not notes:
        notes = {pupil_id: [{"text": text, "by": ""}] for pupil_id, text
                 in entry.notes_by_pupil.items()}  # fmt: skip
    pupils = [pupil for pupil in family.pupils if pupil.id in notes] or list(family.pupils)
    school = current_app.config["PHONEHUB"].school.name
    last = entry.attempts[-1] if entry.attempts else None
    return {
        "opening": positive.opening_line(school, [pupil.forename for pupil in pupils]),
        "notes": [{"pupil": pupil, "notes": notes[pupil.id]} for pupil in pupils
                  if pupil.id in notes],
        "follow_up": last if last is not None and last.meeting_wanted else None,
    }  # fmt: skip


@bp.route("/plan", methods=["POST"])
@roles(*ANYONE)
def plan() -> BaseResponse | tuple[BaseResponse, int]:
    """Keep the caller's plan for a positive call, written on its card."""
    user = signed_in()
    entry = db().get(CampaignEntry, request.form.get("entry", 0, type=int))
    if entry is None or not queues.may_work(user, entry.campaign):
        abort(404)
    if entry.claimed_by_id != user.id and entry.assignee_id != user.id:
        flash("This family's call is not yours, so its plan is not yours to change.", "error")
        return redirect(url_for("desk.card", campaign_id=entry.campaign_id))
    text = request.form.get("plan", "").strip()
    problem = audit.contact_details_in(text)
    if problem is None:
        entry.plan = text
    said = problem or "Your plan is saved on the card."
    if request.accept_mimetypes.best == "application/json":  # desk.js: the card stays as typed
        return jsonify({"error": problem} if problem else {"saved": said}), 422 if problem else 200
    flash(said, "error" if problem else "info")
    return redirect(url_for("desk.card", campaign_id=entry.campaign_id))


def _language(family: Household) -> dict[str, Any] | None:
    """The family's home language as the card shows it, and whether to think of an interpreter."""
    written = languages.family_language(pupil.home_language for pupil in family.pupils)
    if written is None:
        return None
    return {"name": languages.shown(written),
            "interpreter": languages.may_need_interpreter(written)}  # fmt: skip


def _call_panel(live: LiveCall | None, pending: CallAttempt | None) -> dict[str, Any] | None:
    """What the card's call panel shows: the line's call if it has one, else the last call."""
    if live is not None:
        state = LIVE.get(live.state, "Calling…")
        if live.state == "dialling" and live.your_phone in YOUR_PHONE:
            state = YOUR_PHONE[live.your_phone]
        return {"attempt": live.attempt.id, "state": state,
                "up": True, "connected": live.state == "connected", "muted": live.muted,
                "interpreter": live.interpreter,
                "practice": live.attempt.entry_id is None}  # fmt: skip
    if pending is None:
        return None
    ended = calls.shown(pending).ended
    up = pending.ended_at is None
    return {"attempt": pending.id, "state": "Calling…" if up else f"Ended: {ended or 'call ended'}",
            "up": up, "connected": False, "muted": False, "practice": False,
            "interpreter": None}  # fmt: skip


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
