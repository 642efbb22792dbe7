"""People (admin): import the MIS export, find a household, see and edit its details.

Full phone numbers appear on the household page only, and every view of it is
written to the audit log. An upload is checked first (a dry run that lists the
rejected rows) and imported only when the admin confirms. From the household page
an admin can export everything held about the family (a subject access request)
or erase it; both are confirmed first, and audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, maintenance
from hub.db import scrub_wal
from hub.exceptions import ImportFileError
from hub.models import Concern, Guardian, Household, Pupil, Role, StaffUser, utcnow
from hub.numbers import format_for_people
from hub.people import import_file, subject_access
from hub.people.erasure import ErasureError, erase_household
from hub.preferred_times import understood
from web.audit_words import action_words
from web.db import db
from web.errors import not_found
from web.security import current_user, roles

bp = Blueprint("people", __name__, url_prefix="/people")

PAGE = 50


def _uploads() -> Path:
    folder = Path(current_app.config["PHONEHUB"].hub.data_dir) / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # An upload holds parents' numbers: none outlives its hour (the nightly job, too).
    maintenance.purge_files(folder, "*.csv", older_than=maintenance.UPLOAD_KEPT, now=utcnow())
    return folder


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """Households, searched by pupil, guardian, MIS id or form."""
    query_text = request.args.get("q", "").strip()
    query = (
        select(Household)
        .options(selectinload(Household.pupils), selectinload(Household.guardians))
        .order_by(Household.id)
    )
    if query_text:
        like = f"%{query_text}%"
        ilike = _ilike_for(db().get_bind().dialect.name)
        pupils = select(Pupil.household_id).where(
            or_(
                ilike(Pupil.forename, like),
                ilike(Pupil.surname, like),
                Pupil.mis_id == query_text,
                ilike(Pupil.form, query_text),
            )
        )
        guardians = select(Guardian.household_id).where(ilike(Guardian.name, like))
        query = query.where(or_(Household.id.in_(pupils), Household.id.in_(guardians)))
    page = max(request.args.get("page", 1, type=int), 1)
    households = db().scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template("people.html", households=households, q=query_text, page=page,
                           more=len(households) == PAGE)  # fmt: skip


def _ilike_for(dialect: str) -> Callable[[ColumnElement[str], str], ColumnElement[bool]]:
    """``column ILIKE pattern``, written as each database runs it fastest.

    PostgreSQL's ILIKE means lower() LIKE lower(), but lowers the pattern again
    for every row: twice the time. SQLite's LIKE already ignores case, for ASCII
    only, exactly as its lower() does, so the lower() calls SQLAlchemy adds are
    pure cost there.
    """
    if dialect == "sqlite":
        return lambda column, pattern: column.like(pattern)
    return lambda column, pattern: func.lower(column).like(func.lower(pattern))


@bp.route("/import", methods=["GET", "POST"])
@roles(Role.ADMIN)
def upload() -> str | tuple[str, int]:
    """Upload the MIS export and see what it would do, without writing anything."""
    if request.method == "GET":
        return render_template("import.html", summary=None)
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    try:
        summary = import_file(db(), data, actor=_admin(), dry_run=True)
    except ImportFileError as exc:
        flash(str(exc), "error")
        return render_template("import.html", summary=None), 400
    token = secrets.token_urlsafe(16)
    path = _uploads() / f"{token}.csv"
    path.write_bytes(data)
    path.chmod(0o600)
    return render_template("import.html", summary=summary, token=token)


@bp.route("/import/confirm", methods=["POST"])
@roles(Role.ADMIN)
def confirm() -> str | BaseResponse | tuple[str, int]:
    """Import the checked upload for real."""
    token = request.form.get("token", "")
    path = _uploads() / f"{token}.csv"
    if not token.replace("-", "").replace("_", "").isalnum() or not path.exists():
        flash("That upload has expired; upload the file again.", "error")
        return redirect(url_for("people.upload"))
    try:
        summary = import_file(db(), path.read_bytes(), actor=_admin())
    finally:
        path.unlink(missing_ok=True)
    return render_template("import.html", summary=summary, done=True)


@bp.route("/<int:household_id>")
@roles(Role.ADMIN)
def household(household_id: int) -> str | tuple[str, int]:
    """One household with full numbers; the view itself is audited."""
    found = db().scalar(
        select(Household)
        .where(Household.id == household_id)
        .options(
            selectinload(Household.pupils),
            selectinload(Household.guardians).selectinload(Guardian.numbers),
            selectinload(Household.guardians).selectinload(Guardian.contacts),
        )
    )
    if found is None:
        return not_found("household")
    audit.record(db(), "household.viewed", actor=_admin(), target_type="household",
                 target_id=found.id)  # fmt: skip
    return render_template("household.html", household=found, readable=format_for_people,
                           times_words=_times_words)  # fmt: skip


@bp.route("/<int:household_id>", methods=["POST"])
@roles(Role.ADMIN)
def edit(household_id: int) -> BaseResponse | tuple[str, int]:
    """Save do-not-contact marks and preferred call times."""
    found = db().get(Household, household_id)
    if found is None:
        return not_found("household")
    form = request.form
    changed: list[str] = []
    for guardian in found.guardians:
        times = form.get(f"times-{guardian.id}", guardian.preferred_times).strip()[:200]
        never = form.get(f"dnc-guardian-{guardian.id}") == "on"
        if (times, never) != (guardian.preferred_times, guardian.do_not_contact):
            guardian.preferred_times, guardian.do_not_contact = times, never
            changed.append(f"guardian {guardian.id}")
        for number in guardian.numbers:
            blocked = form.get(f"dnc-number-{number.id}") == "on"
            if blocked != number.do_not_contact:
                number.do_not_contact = blocked
                changed.append(f"number record {number.id}")
    if changed:
        audit.record(db(), "household.edited", actor=_admin(), target_type="household",
                     target_id=found.id, detail={"changed": ", ".join(changed)})  # fmt: skip
    flash("Saved." if changed else "Nothing changed.", "info")
    return redirect(url_for("people.household", household_id=found.id))


@bp.route("/<int:household_id>/export", methods=["GET", "POST"])
@roles(Role.ADMIN)
def export(household_id: int) -> str | Response | tuple[str, int]:
    """A subject access request: what the export holds (GET), then the zip (POST)."""
    found = db().get(Household, household_id)
    if found is None:
        return not_found("household")
    if request.method == "GET":
        return render_template("household_export.html", household=found)
    config = current_app.config["PHONEHUB"]
    made = subject_access.export(db(), household_id, actor=_admin(), data_dir=Path(
        config.hub.data_dir), zone=config.dialplan.zone, action_words=action_words)  # fmt: skip
    assert made is not None
    return Response(made.content, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename={made.filename}",
        "Cache-Control": "no-store"})  # fmt: skip


@bp.route("/<int:household_id>/erase", methods=["GET", "POST"])
@roles(Role.ADMIN)
def erase(household_id: int) -> str | BaseResponse | tuple[str, int]:
    """Erase a family: what goes and what stays (GET), then, typed "erase", done (POST)."""
    found = db().get(Household, household_id)
    if found is None:
        return not_found("household")
    concerns = db().scalar(
        select(func.count()).select_from(Concern).where(Concern.household_id == household_id)
    )
    if request.method == "GET":
        return render_template("household_erase.html", household=found, concerns=concerns)
    if request.form.get("confirm", "").strip().lower() != "erase":
        flash("Type the word “erase” to confirm.", "error")
        return render_template("household_erase.html", household=found, concerns=concerns), 400
    data_dir = Path(current_app.config["PHONEHUB"].hub.data_dir)
    try:
        erased = erase_household(db(), household_id, actor=_admin(), data_dir=data_dir)
    except ErasureError as exc:
        flash(str(exc), "error")
        return redirect(url_for("people.household", household_id=household_id))
    db().commit()
    scrub_wal(db().get_bind())
    kept = (f" {erased.concerns_kept} safeguarding concern(s) were kept for the DSL."
            if erased.concerns_kept else "")  # fmt: skip
    flash(f"The family was erased: {erased.calls_kept_anonymous} call(s) kept as anonymous "
          f"counts, {erased.recordings_removed} recording(s) removed.{kept} Remove the family "
          "from the MIS export too, or the next import brings them back.", "info")  # fmt: skip
    return redirect(url_for("people.index"))


def _times_words(text: str) -> str:
    """What the queue makes of a guardian's preferred times, for the admin to check."""
    if not text.strip():
        return ""
    times = understood(text)
    if times is None:
        return "Shown to callers; the hub does not understand it well enough to wait for it."
    return f"The queue waits for: {times.words()}."


def _admin() -> StaffUser:
    user = current_user()
    assert user is not None
    return user
