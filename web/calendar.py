"""School calendar (admin): the terms, holidays and INSET days the hub counts school days by.

An admin uploads the school's calendar as a CSV or an iCalendar (.ics) file; it
replaces the calendar the hub had. A file with a line the hub cannot read changes
nothing and the page says which lines. The page shows what the hub will count as
days off in the weeks ahead, bank holidays included, so the office can check it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from hub.models import Role, utcnow
from hub.school_days import (
    MAX_FILE_BYTES,
    CalendarFileError,
    SchoolCalendar,
    read_calendar_file,
    replace_calendar,
)
from web.db import db
from web.security import current_user, roles

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

AHEAD_DAYS = 120  # how far ahead the page lists days off
NATION_NAMES = {"england-and-wales": "England and Wales", "scotland": "Scotland",
                "northern-ireland": "Northern Ireland"}  # fmt: skip


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """The calendar as the hub counts it, and the form to import the school's own."""
    return _page()


@bp.route("/", methods=["POST"])
@roles(Role.ADMIN)
def upload() -> str | BaseResponse | tuple[str, int]:
    """Replace the school's calendar with the uploaded file's, or say what is wrong with it."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose the school's calendar file (CSV or .ics) first.", "error")
        return redirect(url_for("calendar.index"))
    content = upload.read(MAX_FILE_BYTES + 1)
    zone = current_app.config["PHONEHUB"].dialplan.zone
    try:
        periods = read_calendar_file(content, upload.filename, zone)
    except CalendarFileError as exc:
        return _page(problems=exc.problems), 400
    user = current_user()
    assert user is not None
    replace_calendar(db(), periods, actor=user)
    flash(f"Imported {len(periods)} terms, holidays and INSET days from {upload.filename}; "
          "they replace the calendar the hub had.", "info")  # fmt: skip
    return redirect(url_for("calendar.index"))


def _page(problems: list[str] | None = None) -> str:
    dialplan = current_app.config["PHONEHUB"].dialplan
    calendar = SchoolCalendar.load(db(), dialplan.nation)
    today = utcnow().astimezone(dialplan.zone).date()
    recent = [p for p in calendar.periods if p.ends_on >= today - timedelta(days=365)]
    return render_template(
        "calendar.html",
        periods=recent,
        days_off=list(calendar.days_off(today, AHEAD_DAYS)),
        today=today,
        nation=NATION_NAMES[dialplan.nation],
        school_days_only=dialplan.school_days_only,
        ahead_weeks=AHEAD_DAYS // 7,
        problems=problems or [],
    )
