"""Campaigns (admin, and the DSL for its own queue): create, fill, assign, watch progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, languages, positive, queues, users
from hub.exceptions import QueueError
from hub.models import (
    Campaign,
    CampaignEntry,
    EntryState,
    Household,
    Nomination,
    PupilNote,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from web.db import db
from web.security import current_user, roles

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PURPOSES = {
    Purpose.WELFARE: "Welfare check",
    Purpose.POSITIVE: "Positive call home",
    Purpose.ATTENDANCE: "Attendance",
    Purpose.CUSTOM: "Custom",
}


def _visible(campaign: Campaign, user: StaffUser) -> bool:
    # The vulnerable-children queue is the DSL's alone.
    return user.role is Role.DSL or not campaign.dsl_only


def _campaign(campaign_id: int) -> Campaign:
    user = current_user()
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or user is None or not _visible(campaign, user):
        abort(404)
    return campaign


@bp.route("/")
@roles(Role.ADMIN, Role.DSL)
def index() -> str:
    """Every campaign this person may see, with its progress."""
    user = current_user()
    assert user is not None
    campaigns = [
        c
        for c in db().scalars(select(Campaign).order_by(Campaign.created_at.desc()))
        if _visible(c, user)
    ]
    progress = {c.id: queues.progress(db(), c) for c in campaigns}
    return render_template("campaigns.html", campaigns=campaigns, progress=progress,
                           purposes=PURPOSES, EntryState=EntryState)  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@roles(Role.ADMIN, Role.DSL)
def create() -> str | BaseResponse | tuple[str, int]:
    """A new campaign from a purpose, with its talking points and rules."""
    user = current_user()
    assert user is not None
    staff = [u for u in users.all_users(db()) if u.active]
    if request.method == "GET":
        return render_template("campaign_new.html", purposes=PURPOSES, staff=staff, form={})
    form = request.form
    try:
        plan = queues.CampaignPlan(
            name=form.get("name", ""),
            purpose=_purpose(form.get("purpose", "")),
            talking_points=form.get("talking_points", ""),
            cadence_days=_whole(
                form.get("cadence_days", "14"), "The cadence", 1, queues.MAX_CADENCE_DAYS
            ),
            window_start=_clock(form.get("window_start", "")),
            window_end=_clock(form.get("window_end", "")),
            recording=form.get("recording") == "on",
            dsl_only=form.get("dsl_only") == "on",
            named_staff=None
            if form.get("who") != "named"
            else [u for u in staff if u.id in {int(i) for i in form.getlist("staff")}],
            deadline=_date(form.get("deadline", "")),
        )
        campaign = queues.create_campaign(db(), plan, actor=user, now=utcnow())
    except (ValueError, QueueError) as exc:
        # Our own sentences start with a capital; a bare int() failure means a forged form.
        flash(str(exc) if str(exc)[:1].isupper() else "Check the form and try again.", "error")
        return render_template("campaign_new.html", purposes=PURPOSES, staff=staff,
                               form=form), 400  # fmt: skip
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>")
@roles(Role.ADMIN, Role.DSL)
def show(campaign_id: int) -> str:
    """One campaign: progress, who has each family, and forms to add and share them out."""
    return _show(_campaign(campaign_id))


def _show(campaign: Campaign, typed: dict[int, str] | None = None) -> str:
    """The campaign page; ``typed`` keeps notes refused a moment ago in their boxes."""
    staff = [u for u in users.all_users(db()) if u.active and queues.may_work(u, campaign)]
    zone = current_app.config["PHONEHUB"].dialplan.zone
    entries = (
        db()
        .scalars(
            select(CampaignEntry)
            .where(CampaignEntry.campaign_id == campaign.id)
            .options(
                selectinload(CampaignEntry.household).selectinload(Household.pupils),
                selectinload(CampaignEntry.pupil_notes),
                selectinload(CampaignEntry.assignee),
                selectinload(CampaignEntry.claimed_by),
            )
            .order_by(CampaignEntry.id)
        )
        .all()
    )
    return render_template("campaign.html", campaign=campaign, purposes=PURPOSES,
                           progress=queues.progress(db(), campaign), staff=staff,
                           sharers=queues.sharing_staff(db(), campaign),
                           entries=entries, typed=typed or {},
                           languages=languages.families_by_language(
                               (p.home_language for p in e.household.pupils) for e in entries
                           ),
                           held=queues.held_by_cadence(db(), campaign, now=utcnow()),
                           later_period=queues.later_period(campaign),
                           later=queues.outside_their_times(db(), campaign, utcnow(), zone),
                           cadence=timedelta(days=campaign.cadence_days),
                           nominations=_nominations(campaign, entries),
                           EntryState=EntryState)  # fmt: skip


def _nominations(
    campaign: Campaign, entries: Sequence[CampaignEntry]
) -> dict[int, list[Nomination]]:
    """The nominations campaign's notes still to be read out, by entry; others have none."""
    if not campaign.for_nominations:
        return {}
    return {entry.id: positive.waiting_notes(db(), entry) for entry in entries}


@bp.route("/<int:campaign_id>/entries/<int:entry_id>/note", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def note(campaign_id: int, entry_id: int) -> BaseResponse | tuple[str, int]:
    """What each of the family's pupils did, for whoever makes a positive call to read out."""
    campaign = _campaign(campaign_id)
    entry = db().get(CampaignEntry, entry_id)
    if entry is None or entry.campaign_id != campaign.id:
        abort(404)
    typed = {
        pupil.id: request.form.get(f"note-{pupil.id}", "").strip()[:1000]
        for pupil in entry.household.pupils
    }
    problems = [p for text in typed.values() if (p := audit.contact_details_in(text))]
    if problems:
        flash(problems[0], "error")
        return _show(campaign, typed), 400
    saved = {note.pupil_id: note for note in entry.pupil_notes}
    changed = 0
    for pupil_id, text in typed.items():
        if pupil_id in saved and saved[pupil_id].note != text:
            saved[pupil_id].note = text
            changed += 1
        elif pupil_id not in saved and text:
            entry.pupil_notes.append(PupilNote(pupil_id=pupil_id, note=text))
            changed += 1
    if changed:
        audit.record(db(), "entry.note_saved", actor=_user(), target_type="household",
                     target_id=entry.household_id,
                     detail={"campaign": campaign.id, "pupils": changed})  # fmt: skip
    flash("Notes saved." if changed else "Nothing changed.", "info")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id) + f"#entry-{entry.id}")


@bp.route("/<int:campaign_id>/close", methods=["GET", "POST"])
@roles(Role.ADMIN, Role.DSL)
def close(campaign_id: int) -> str | BaseResponse:
    """Finish a campaign, once asked and confirmed: nobody is offered its households."""
    campaign = _campaign(campaign_id)
    if campaign.closed_at is not None:
        flash(f"{campaign.name} is already closed.", "info")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    # Only the confirmation page's own button closes it, so no stray click or
    # old form does; the page works without JavaScript.
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("campaign_close.html", campaign=campaign,
                               progress=queues.progress(db(), campaign),
                               EntryState=EntryState)  # fmt: skip
    queues.close_campaign(db(), campaign, actor=_user(), now=utcnow())
    flash(f"{campaign.name} is closed.", "info")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/reopen", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def reopen(campaign_id: int) -> BaseResponse:
    """Open a closed campaign again, so its families waiting are offered once more."""
    campaign = _campaign(campaign_id)
    if queues.reopen_campaign(db(), campaign, actor=_user(), now=utcnow()):
        flash(f"{campaign.name} is open again.", "info")
    else:
        flash(f"{campaign.name} is already open.", "info")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/later", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def later(campaign_id: int) -> str | BaseResponse | tuple[str, int]:
    """Call later in the day for a period (Ramadan, say), or stop doing so."""
    campaign = _campaign(campaign_id)
    form = request.form
    try:
        if form.get("stop"):
            period = None
        else:
            starts, ends = _day(form.get("later_from", "")), _day(form.get("later_until", ""))
            start, end = _clock(form.get("later_start", "")), _clock(form.get("later_end", ""))
            if not (starts and ends and start and end):
                raise QueueError("Give the first and last days and the hours to call.")
            period = queues.LaterPeriod(starts, ends, start, end)
        queues.set_later_period(db(), campaign, period, actor=_user(), now=utcnow())
    except (ValueError, QueueError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id, _anchor="later"))
    flash(f"{campaign.name}: {period.words()}." if period else
          f"{campaign.name} calls at its usual hours again.", "info")  # fmt: skip
    return redirect(url_for("campaigns.show", campaign_id=campaign.id, _anchor="later"))


@bp.route("/<int:campaign_id>/entries/<int:entry_id>/override", methods=["POST"])
@roles(Role.DSL)
def override(campaign_id: int, entry_id: int) -> BaseResponse:
    """Let a family reached recently in another campaign be called now, with the DSL's reason."""
    campaign = _campaign(campaign_id)
    entry = db().get(CampaignEntry, entry_id)
    if entry is None or entry.campaign_id != campaign.id:
        abort(404)
    try:
        queues.override_cadence(db(), entry, _user(), request.form.get("reason", ""), utcnow())
    except QueueError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{_pupils(entry)} can be called now; your reason is in the audit log.", "info")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id, _anchor=f"entry-{entry.id}"))


def _pupils(entry: CampaignEntry) -> str:
    names = [pupil.name for pupil in entry.household.pupils]
    return " and ".join(names) if names else "This family"


@bp.route("/<int:campaign_id>/households", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def add(campaign_id: int) -> BaseResponse:
    """Add households by year, form, flag, or everyone (one entry per household)."""
    campaign = _campaign(campaign_id)
    form = request.form

    def listed(name: str) -> list[str]:
        return [part.strip() for part in form.get(name, "").split(",") if part.strip()]

    try:
        summary = queues.add_households(
            db(), campaign, actor=_user(), now=utcnow(), years=listed("years"),
            forms=listed("forms"), flags=listed("flags"), everyone=form.get("everyone") == "on",
        )  # fmt: skip
        flash(summary.message, "info")
    except QueueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/assign", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def assign(campaign_id: int) -> BaseResponse:
    """Share the waiting households out: round robin, to one person, or to key adults."""
    campaign = _campaign(campaign_id)
    method = request.form.get("method", "round_robin")
    # The person is for "all to one person" only; the form always sends one, and
    # passed to a round robin it made a team of one.
    chosen = (
        [u for u in users.all_users(db()) if str(u.id) == request.form.get("staff")]
        if method == "manual"
        else []
    )
    try:
        summary = queues.assign(db(), campaign, actor=_user(), method=method,  # type: ignore[arg-type]
                                now=utcnow(), staff=chosen)  # fmt: skip
        flash(summary.message, "info")
    except QueueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


def _user() -> StaffUser:
    user = current_user()
    assert user is not None
    return user


def _purpose(text: str) -> Purpose:
    try:
        return Purpose(text)
    except ValueError:
        raise ValueError("Choose a purpose.") from None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ValueError("Give the deadline as a date.") from None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ValueError("Give the days as dates.") from None


def _whole(text: str, what: str, low: int, high: int) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{what} must be a whole number of days from {low} to {high}.")
    return int(text)


def _clock(text: str) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError("Write times as HH:MM, like 16:30.") from None
