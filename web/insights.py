"""What the school learns: dashboards for admins and the DSL, each figure a chart drawn
on the server, a table with the same figures and a CSV download of that table.

Ordinary staff cannot open them; the calls made by each member of staff are for
admins only. The pages list pupils by name, so each view and each download is
written to the audit log (with the filters, never a name). Nothing here reads a
phone number. docs/what-the-school-learns.md defines every figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, flash, render_template, request
from sqlalchemy import select

from hub import audit
from hub.insights import Filters, school_year_start
from hub.insights.scope import natural
from hub.models import Campaign, Pupil, Role, StaffUser, utcnow
from web.db import db
from web.insight_pages import (
    PageBuilder,
    Section,
    calls_page,
    coverage_page,
    fairness_page,
    load_page,
)
from web.insight_tables import csv_text, day
from web.security import current_user, roles

bp = Blueprint("insights", __name__, url_prefix="/insights")

FILTERS = ("from", "to", "campaign", "year", "form")
MAX_RANGE = timedelta(days=3 * 366)  # a chart of every week since 1900 helps nobody
# Dates a school could mean; beyond them the calendar arithmetic of a week would overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class Page:
    """One dashboard: its address, title, what it shows, and who may open it."""

    slug: str
    title: str
    about: str
    build: PageBuilder
    admins_only: bool = False

    @property
    def endpoint(self) -> str:
        """The page's view, for ``url_for``."""
        return "insights." + self.slug.replace("-", "_")


PAGES = {
    page.slug: page
    for page in (
        Page("coverage", "Who we have not reached",
             "Families not reached this term, and pupils who have had no positive call.",
             coverage_page),
        Page("calls", "Calls and reach",
             "Calls by week and outcome, the reach rate, and the time to first contact.",
             calls_page),
        Page("fairness", "Fairness of positive calls",
             "How positive calls are spread across pupils, forms, years and siblings.",
             fairness_page),
        Page("staff-load", "Staff load",
             "Calls made by each member of staff, to plan time (admins only).",
             load_page, admins_only=True),
    )
}  # fmt: skip


@bp.route("/")
@roles(Role.ADMIN, Role.DSL)
def index() -> str:
    """The dashboards this person may open, with what each shows."""
    return render_template("insights_index.html", pages=_pages_for(_user()))


@bp.route("/coverage")
@roles(Role.ADMIN, Role.DSL)
def coverage() -> str:
    """Families not reached this term and pupils with no positive call; audited."""
    return _show(PAGES["coverage"])


@bp.route("/calls")
@roles(Role.ADMIN, Role.DSL)
def calls() -> str:
    """Calls by week and outcome, reach rate and time to first contact; audited."""
    return _show(PAGES["calls"])


@bp.route("/fairness")
@roles(Role.ADMIN, Role.DSL)
def fairness() -> str:
    """The spread of positive calls across pupils, forms, years and siblings; audited."""
    return _show(PAGES["fairness"])


@bp.route("/staff-load")
@roles(Role.ADMIN)
def staff_load() -> str:
    """Calls made by each member of staff, by name, for planning time (admins only)."""
    return _show(PAGES["staff-load"])


@bp.route("/<slug>/<table>.csv")
@roles(Role.ADMIN, Role.DSL)
def download(slug: str, table: str) -> Response:
    """One of a dashboard's tables as CSV, the same rows as the page; audited."""
    page = PAGES.get(slug)
    if page is None:
        abort(404)
    user = _user()
    if page.admins_only and user.role != Role.ADMIN:
        abort(403)
    filters = _filters(quiet=True)
    found = [t for section in page.build(db(), filters) for t in section.tables if t.name == table]
    if not found:
        abort(404)
    audit.record(db(), "insights.exported", actor=user,
                 detail={"page": slug, "table": table, **_detail(filters)})  # fmt: skip
    # The byte-order mark tells Excel the file is UTF-8, so "Zoë" survives the import.
    return Response(
        "\ufeff" + csv_text(found[0]),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={table}.csv"},
    )


def _show(page: Page) -> str:
    user = _user()
    filters = _filters()
    sections: list[Section] = page.build(db(), filters)
    audit.record(db(), "insights.viewed", actor=user, detail={"page": page.slug,
                                                              **_detail(filters)})  # fmt: skip
    return render_template(
        "insights.html", page=page, pages=_pages_for(user), sections=sections, filters=filters,
        choices=_choices(filters), query=_query(), day=day,
    )  # fmt: skip


def _query() -> dict[str, str]:
    """The filters as given, for the links to the other pages and to each download."""
    return {key: request.args[key] for key in FILTERS if request.args.get(key)}


def _pages_for(user: StaffUser) -> list[Page]:
    return [page for page in PAGES.values() if user.role == Role.ADMIN or not page.admins_only]


def _today() -> date:
    return utcnow().astimezone(current_app.config["PHONEHUB"].dialplan.zone).date()


def _filters(*, quiet: bool = False) -> Filters:
    """The filters in the query string; a value that cannot be read is left at its default
    and said in one sentence (not on a download, whose page already said it)."""
    args = request.args
    user = _user()
    today = _today()
    problems = []
    start, end = school_year_start(today), today
    try:
        start = date.fromisoformat(args["from"]) if args.get("from") else start
        end = date.fromisoformat(args["to"]) if args.get("to") else end
    except ValueError:
        problems.append("Write the dates as day, month and year; showing this school year.")
        start, end = school_year_start(today), today
    if start > end:
        problems.append("The start date is after the end date; showing this school year.")
        start, end = school_year_start(today), today
    elif end - start > MAX_RANGE:
        problems.append("Choose at most three years at a time; showing this school year.")
        start, end = school_year_start(today), today
    elif not (start >= EARLIEST and end <= LATEST):
        problems.append(f"Choose dates from {EARLIEST.year} to {LATEST.year}; showing this "
                        "school year.")  # fmt: skip
        start, end = school_year_start(today), today
    campaign_id = args.get("campaign", type=int)
    if campaign_id is not None and _campaign(campaign_id, user) is None:
        problems.append("That campaign is not one you can see; showing every campaign.")
        campaign_id = None
    if not quiet:
        for problem in problems:
            flash(problem, "error")
    return Filters(start=start, end=end, campaign_id=campaign_id,
                   year=args.get("year", "").strip(), form=args.get("form", "").strip(),
                   dsl=user.role == Role.DSL,
                   zone=current_app.config["PHONEHUB"].dialplan.zone)  # fmt: skip


def _campaign(campaign_id: int, user: StaffUser) -> Campaign | None:
    campaign = db().get(Campaign, campaign_id)
    if campaign is None or (campaign.dsl_only and user.role != Role.DSL):
        return None
    return campaign


def _choices(filters: Filters) -> dict[str, list[tuple[str, str]]]:
    """The campaigns, years and forms the filter form offers."""
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if not filters.dsl:
        query = query.where(Campaign.dsl_only.is_(False))
    years = natural(db().scalars(select(Pupil.year).where(Pupil.year != "")))
    forms = natural(db().scalars(select(Pupil.form).where(Pupil.form != "")))
    return {
        "campaign": [(str(c.id), c.name) for c in db().scalars(query)],
        "year": [(year, f"Year {year}") for year in years],
        "form": [(form, form) for form in forms],
    }


def _detail(filters: Filters) -> audit.Detail:
    # Dates as 01/09/2025: an ISO date's eight digits would read as a phone number.
    return {"from": f"{filters.start:%d/%m/%Y}", "to": f"{filters.end:%d/%m/%Y}",
            "campaign_id": filters.campaign_id, "year": filters.year or None,
            "form": filters.form or None}  # fmt: skip


def _user() -> StaffUser:
    user = current_user()
    assert user is not None
    return user
