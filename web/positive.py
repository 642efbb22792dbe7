"""Positive calls home: nominating a pupil, my week and its reminder, and reflections.

Every member of staff who makes calls may nominate a pupil and sees their own week;
nobody sees another's habit (the office sees whole-school totals on its home page).
A reflection is its author's alone: no other role opens it, and its export (print-ready
HTML, for a CPD portfolio) names pupils by initials and holds no phone number.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, calls, positive
from hub.exceptions import QueueError
from hub.models import CampaignEntry, Pupil, Reflection, StaffUser
from hub.positive import Due, Week
from hub.school_days import SchoolCalendar
from web import clock
from web.db import db
from web.desk.common import ANYONE
from web.security import current_user, roles

bp = Blueprint("positive", __name__, url_prefix="/positive")
bp.add_app_template_global(calls.family_name, "family_name")


@dataclass(frozen=True)
class Habit:
    """What a member of staff sees of their own positive calls, wherever it is shown."""

    week: Week
    reminder: str | None  # "Friday afternoon": the school's chosen time, and no call made yet
    due: list[Due]  # calls to reflect on
    follow_ups: list[CampaignEntry]  # families who wanted a meeting


def habit(user: StaffUser) -> Habit | None:
    """``user``'s week of positive calls; None for someone who makes no calls."""
    if not positive.may_nominate(user):
        return None
    config = current_app.config["PHONEHUB"]
    now, zone = clock.now(), config.dialplan.zone
    calendar = SchoolCalendar.load(db(), config.dialplan.nation)
    week = positive.my_week(db(), user, now=now, zone=zone, calendar=calendar)
    return Habit(
        week=week,
        reminder=f"{now.astimezone(zone):%A} afternoon" if positive.reminder_due(
            week, now=now, settings=config.positive, dialplan=config.dialplan,
            calendar=calendar) else None,
        due=positive.reflections_due(db(), user, now=now,
                                     after_days=config.positive.reflect_after_days),
        follow_ups=positive.follow_ups(db(), user),
    )  # fmt: skip


def _me() -> StaffUser:
    """The signed-in member of staff, who makes calls (403 for anyone else)."""
    user = _author()
    if not positive.may_nominate(user):
        abort(403)
    return user


def _author() -> StaffUser:
    """The signed-in member of staff: a reflection stays its author's when they stop calling."""
    user = current_user()
    assert user is not None
    return user


@bp.route("/")
@roles(*ANYONE)
def index() -> str:
    """My positive calls: this week, my run of weeks, follow-ups and reflections."""
    user = _author()  # someone who no longer calls still has their reflections here
    return render_template("positive.html", habit=habit(user),
                           reflections=positive.mine(db(), user), words=positive.words)  # fmt: skip


@bp.route("/nominate")
@roles(*ANYONE)
def search() -> str:
    """Find a pupil to nominate, by name or form."""
    user = _me()
    typed = request.args.get("q", "").strip()
    found = positive.search_pupils(db(), typed) if typed else []
    if typed:
        audit.record(db(), "pupils.searched", actor=user,
                     detail={"page": "nominate", "found": len(found)})  # fmt: skip
    return render_template("nominate_search.html", typed=typed, found=found,
                           limit=positive.nominations.SEARCH_LIMIT)  # fmt: skip


@bp.route("/nominate/<int:pupil_id>")
@roles(*ANYONE)
def nominate_form(pupil_id: int) -> str:
    """Say what the pupil did, and who will call their family."""
    user = _me()
    return _nominate_page(user, _pupil(pupil_id), {"caller": str(user.id)})


@bp.route("/nominate/<int:pupil_id>", methods=["POST"])
@roles(*ANYONE)
def nominate(pupil_id: int) -> str | BaseResponse | tuple[str, int]:
    """Nominate the pupil: their family's call goes to the chosen queue."""
    user = _me()
    pupil = _pupil(pupil_id)
    typed = {name: request.form.get(name, "") for name in ("note", "plan", "caller")}
    caller = db().get(StaffUser, int(typed["caller"])) if typed["caller"].isdigit() else user
    try:
        if caller is None:
            raise QueueError("Choose who will make the call.")
        nominated = positive.nominate(db(), pupil, typed["note"], by=user, caller=caller,
                                      plan=typed["plan"], now=clock.now())  # fmt: skip
    except QueueError as exc:
        db().rollback()
        return _nominate_page(user, pupil, typed, error=str(exc)), 422
    return render_template("nominated.html", pupil=pupil, nominated=nominated, user=user)


def _nominate_page(
    user: StaffUser, pupil: Pupil, typed: dict[str, str], *, error: str | None = None
) -> str:
    siblings = [p for p in pupil.household.pupils if p.id != pupil.id]
    return render_template("nominate.html", pupil=pupil, siblings=siblings, typed=typed,
                           error=error, callers=positive.callers(db()), me=user,
                           limit=positive.nominations.NOTE_LIMIT)  # fmt: skip


def _pupil(pupil_id: int) -> Pupil:
    pupil = db().get(Pupil, pupil_id)
    if pupil is None:
        abort(404)
    return pupil


@bp.route("/reflections/<int:attempt_id>")
@roles(*ANYONE)
def reflection(attempt_id: int) -> str:
    """The six prompts for one of my positive calls, as far as I have answered them."""
    user = _author()
    return render_template("reflection.html", reflection=_reflection(user, attempt_id),
                           prompts=positive.PROMPTS, aim=positive.WORDS_AIM,
                           words=positive.words, typed=None, error=None)  # fmt: skip


@bp.route("/reflections/<int:attempt_id>", methods=["POST"])
@roles(*ANYONE)
def save_reflection(attempt_id: int) -> str | BaseResponse | tuple[str, int]:
    """Keep my reflection; what I typed comes back with one sentence if it cannot be kept."""
    user = _author()
    found = _reflection(user, attempt_id)
    typed = {prompt.key: request.form.get(prompt.key, "") for prompt in positive.PROMPTS}
    try:
        count = positive.save(db(), found, typed, author=user, now=clock.now())
    except QueueError as exc:
        db().rollback()
        found = _reflection(user, attempt_id)
        return render_template("reflection.html", reflection=found, prompts=positive.PROMPTS,
                               aim=positive.WORDS_AIM, words=positive.words, typed=typed,
                               error=str(exc)), 422  # fmt: skip
    low, high = positive.WORDS_AIM
    aim = "" if low <= count <= high else f" (the aim is {low} to {high})"
    flash(f"Reflection saved: {count} words{aim}. Only you can read it.", "info")
    return redirect(url_for("positive.reflection", attempt_id=attempt_id))


@bp.route("/reflections/<int:attempt_id>/skip", methods=["POST"])
@roles(*ANYONE)
def skip_reflection(attempt_id: int) -> BaseResponse:
    """Stop asking me about this call."""
    user = _author()
    positive.skip(db(), _reflection(user, attempt_id), author=user, now=clock.now())
    flash("You won't be asked about that call again.", "info")
    return redirect(url_for("positive.index"))


@bp.route("/reflections/<int:attempt_id>/export")
@roles(*ANYONE)
def export(attempt_id: int) -> str:
    """My reflection as a tidy, print-ready page for a CPD portfolio (print it, or save as PDF)."""
    user = _author()
    found = _reflection(user, attempt_id)
    if found.written_at is None:
        abort(404)
    audit.record(db(), "reflection.exported", actor=user, target_type="reflection",
                 target_id=found.id)  # fmt: skip
    school = current_app.config["PHONEHUB"].school.name
    return render_template("reflection_export.html", reflection=found, prompts=positive.PROMPTS,
                           about=positive.initials(found.about), school=school,
                           words=positive.words(found), author=user)  # fmt: skip


def _reflection(user: StaffUser, attempt_id: int) -> Reflection:
    """``user``'s reflection on the call; 404 for anyone else's, or a call not theirs."""
    config = current_app.config["PHONEHUB"]
    try:
        return positive.reflection_for(db(), user, attempt_id, now=clock.now(),
                                       after_days=config.positive.reflect_after_days)  # fmt: skip
    except QueueError:
        abort(404)
