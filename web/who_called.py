"""Who called us? The office finds the school's recent calls to a parent ringing back.

The office (and the DSL) types the number that called, or the parent's name, and sees
the school's calls to that family in the last 90 days (hub/who_called.py says what is
shown to whom). The search is a POST, so a parent's number is never in an address, a
server's access log or the browser's history; the box is not remembered by the browser
either. From the results the office notes "the parent called back" against a call, and
the member of staff who made it sees the note on their home page and desk until they
mark it seen.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from hub import who_called
from hub.models import CallAttempt, Role, StaffUser, utcnow
from web.db import db
from web.errors import not_found
from web.security import current_user, roles

bp = Blueprint("who_called", __name__, url_prefix="/who-called")

ANYONE = (Role.STAFF, Role.ADMIN, Role.DSL)
# Where a call-back's "seen" button may send its reader back to: never an address from the form.
BACK = {"home": "account.home", "desk": "desk.index"}


@bp.route("/")
@roles(Role.ADMIN, Role.DSL)
def index() -> str:
    """The search box: the number that called, or the parent's name."""
    return _page(typed="")


@bp.route("/", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def search() -> str | tuple[str, int]:
    """The school's recent calls to the number or parent typed; the search is audited."""
    typed = request.form.get("q", "")[: who_called.LONGEST_SEARCH + 1]
    try:
        found = who_called.search(db(), typed, viewer=_signed_in(), now=utcnow())
    except who_called.SearchError as exc:
        flash(str(exc), "error")
        return _page(typed=typed), 400
    # A number that found a family is not shown back in full, as no page shows one.
    kept = "" if found.kind == "number" and found.families else typed
    return _page(typed=kept, found=found)


@bp.route("/calls/<int:attempt_id>/called-back", methods=["POST"])
@roles(Role.ADMIN, Role.DSL)
def called_back(attempt_id: int) -> str | tuple[str, int]:
    """Note that the family rang back about this call, for whoever made it."""
    user = _signed_in()
    attempt = db().get(CallAttempt, attempt_id)
    now = utcnow()
    family = (
        who_called.family_calls(db(), attempt.household_id, viewer=user, now=now)
        if attempt is not None and attempt.household_id is not None
        else None
    )
    if attempt is None or family is None or attempt_id not in {c.attempt_id for c in family.calls}:
        return not_found("call")
    note = " ".join(request.form.get("note", "").split())
    token = request.form.get("once", "")
    problem = who_called.note_problem(note)
    if problem is None and not (token and len(token) <= 32):
        problem = "That form has expired; search again and note the call-back from there."
    if problem is not None:
        flash(problem, "error")
        return _page(typed="", family=family, typed_notes={attempt_id: note}), 400
    noted = who_called.note_call_back(db(), attempt, noted_by=user, note=note, form_token=token,
                                      now=now)  # fmt: skip
    if noted:
        flash("Noted: whoever made the call will see it on their home page and call desk.", "info")
    else:
        flash("That call-back was already noted.", "info")
    refreshed = who_called.family_calls(db(), attempt.household_id or 0, viewer=user, now=now)
    return _page(typed="", family=refreshed)


@bp.route("/noted/<int:call_back_id>/seen", methods=["POST"])
@roles(*ANYONE)
def seen(call_back_id: int) -> BaseResponse:
    """The caller has read a family's call-back: it leaves their home page and desk."""
    if not who_called.mark_seen(db(), call_back_id, caller=_signed_in(), now=utcnow()):
        flash("That call-back was already marked seen.", "info")
    return redirect(url_for(BACK.get(request.form.get("back", ""), "account.home")))


def _page(*, typed: str, found: who_called.Found | None = None,
          family: who_called.Family | None = None,
          typed_notes: dict[int, str] | None = None) -> str:  # fmt: skip
    """The search page, with what was typed and whatever was found."""
    families = list(found.families) if found is not None else [family] if family else []
    # One fresh token per form on the page: sent twice, it notes the call-back once.
    tokens = {call.attempt_id: secrets.token_urlsafe(16) for f in families for call in f.calls}
    return render_template("who_called.html", typed=typed, found=found, families=families,
                           tokens=tokens, typed_notes=typed_notes or {},
                           window_days=who_called.WINDOW_DAYS,
                           note_limit=who_called.NOTE_LIMIT)  # fmt: skip


def _signed_in() -> StaffUser:
    user = current_user()
    assert user is not None
    return user
