"""What the school learns, in the panel: the pages, their charts, tables and CSV files.

The school is tests/insights_school.py; the figures are the ones tests/hub/test_insights.py
works out by hand, here read back from the page's tables and from each CSV download.
Every phone number is from Ofcom's drama ranges and every name is made up.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import AuditEvent, CalendarPeriod, PeriodKind, Role
from tests.insights_school import NUMBERS, School, build_school

RANGE = {"from": "2025-09-01", "to": "2025-11-28"}
PAGES = ("coverage", "calls", "fairness", "staff-load")
Rows = list[list[str]]


class Tables(HTMLParser):
    """Every table on a page: its caption, then its rows of cell text (headings included);
    an empty table's single "none" row is left out, as its CSV has no such row."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, Rows] = {}
        self._rows: Rows | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._spans = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows, self._name = [], ""
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
            self._spans = self._spans or any(name == "colspan" for name, _ in attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name = "".join(self._caption).strip()
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._rows is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._name] = self._rows[:1] if self._spans else self._rows
            self._rows, self._spans = None, False

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)
        elif self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def school(app) -> School:
    """The school with known answers."""
    with app.extensions["phonehub.db"].session() as session:
        return build_school(session)


def signed_in(app, accounts, role: Role) -> FlaskClient:
    """A browser signed in with a new account in ``role`` (one who does not make calls)."""
    client = app.test_client()
    email = accounts.add(role, email=f"{role.value}-viewer@school.example",
                         name=f"Viewer {role.value}", opted_in=False)  # fmt: skip
    assert accounts.login(client, email) == 302
    return client


@pytest.fixture
def admin(app, accounts, school) -> FlaskClient:
    """An admin, signed in."""
    return signed_in(app, accounts, Role.ADMIN)


@pytest.fixture
def dsl(app, accounts, school) -> FlaskClient:
    """The DSL, signed in."""
    return signed_in(app, accounts, Role.DSL)


def page(client: FlaskClient, name: str, **args: str) -> str:
    response = client.get(f"/insights/{name}", query_string={**RANGE, **args})
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def tables(html: str) -> dict[str, Rows]:
    return Tables(html).tables


def body(rows: Rows) -> Rows:
    return rows[1:]


def test_coverage_shows_the_families_not_reached_and_pupils_with_no_positive_call(admin):
    html = page(admin, "coverage")
    found = tables(html)
    assert "2 of 5 families not reached this term." in html
    assert ("This term runs from Mon 1 Sep 2025 (taken as the autumn term: no school calendar "
            "has been imported") in html  # fmt: skip
    assert body(found["Families not reached this term"]) == [
        ["Dan Chen", "7B", "3", "Mon 10 Nov 2025"],
        ["Finn Fox", "7B", "0", "Not called"],
    ]
    assert body(found["Families not reached this term, by year"]) == [
        ["Year 7", "4", "2", "50.0%"],
        ["Year 8", "2", "0", "0.0%"],
    ]
    assert body(found["Families not reached this term, by form"]) == [
        ["7A", "2", "0", "0.0%"],
        ["7B", "2", "2", "100.0%"],
        ["8A", "2", "0", "0.0%"],
    ]
    assert "4 of 6 pupils have had none." in html
    assert body(found["Pupils with no positive call"]) == [
        ["Dan Chen", "7", "7B", "EAL"],
        ["Eve Evans", "8", "8A", "Pupil premium, EAL"],
        ["Ben Adams", "8", "8A", "–"],
        ["Finn Fox", "7", "7B", "–"],
    ]
    assert body(found["Pupils with no positive call, by group"]) == [
        ["All pupils", "6", "4", "66.7%"], ["SEN", "1", "0", "0.0%"],
        ["Pupil premium", "2", "1", "50.0%"], ["EAL", "2", "2", "100.0%"]]  # fmt: skip
    # The pupils in a tracked group are highlighted, and the column says why in words.
    assert len(re.findall(r'<tr class="tracked"><th scope="row">(Dan Chen|Eve Evans)<', html)) == 2
    # The vulnerable pupil's family is the DSL's alone.
    assert "Vic Grey" not in html


def test_this_term_is_the_school_calendars_when_one_was_imported(app, admin):
    with app.extensions["phonehub.db"].session() as session:
        session.add(CalendarPeriod(starts_on=date(2025, 11, 3), ends_on=date(2025, 12, 19),
                                   kind=PeriodKind.TERM, name="Autumn 2"))  # fmt: skip
    html = page(admin, "coverage")
    assert (
        "This term runs from Mon 3 Nov 2025 (the start of Autumn 2 in the school calendar)" in html
    )
    assert "3 of 5 families not reached this term." in html


def test_the_dsl_also_sees_the_families_only_their_queue_holds(dsl):
    html = page(dsl, "coverage")
    assert "2 of 6 families not reached this term." in html
    assert "Vic Grey" in html  # reached in September: listed among pupils with no positive call


def test_calls_page_figures(admin):
    found = tables(page(admin, "calls"))
    weekly = found["Calls by week and outcome"]
    header = weekly[0]
    assert header[0] == "Week beginning" and header[-2:] == ["No outcome recorded", "All calls"]
    rows = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body(weekly)}
    assert len(rows) == 13
    assert rows["Mon 8 Sep 2025"]["All calls"] == "5"
    assert rows["Mon 8 Sep 2025"]["Spoke to a parent or carer"] == "2"
    assert rows["Mon 10 Nov 2025"]["No outcome recorded"] == "1"
    assert sum(int(row["All calls"]) for row in rows.values()) == 14
    assert body(found["Reach rate by campaign"]) == [
        ["Autumn welfare", "5", "4", "3", "60.0%"], ["Positive calls", "3", "3", "2", "66.7%"],
        ["All campaigns", "8", "7", "5", "62.5%"]]  # fmt: skip
    assert body(found["Reach rate by year"]) == [
        ["Year 7", "6", "5", "4", "66.7%"],
        ["Year 8", "4", "4", "3", "75.0%"],
    ]
    assert body(found["Reach rate by form"]) == [["7A", "4", "4", "4", "100.0%"],
                                                 ["7B", "2", "1", "0", "0.0%"],
                                                 ["8A", "4", "4", "3", "75.0%"]]  # fmt: skip
    assert body(found["Time to first contact"]) == [
        ["Families reached", "5"], ["Median wait", "0.2 days"], ["Lower quartile", "0.0 days"],
        ["Upper quartile", "1.0 days"], ["Longest wait", "1.0 days"]]  # fmt: skip
    assert body(found["When families were first reached"]) == [
        ["On the first call", "2"], ["Later the same day", "1"], ["1 or 2 days later", "2"],
        ["3 to 7 days later", "0"], ["More than 7 days later", "0"]]  # fmt: skip


def test_fairness_page_figures(admin):
    found = tables(page(admin, "fairness"))
    assert body(found["Pupils by number of positive calls"]) == [
        ["No positive calls", "4"], ["1 positive call", "1"], ["2 positive calls", "0"],
        ["3 or more", "1"]]  # fmt: skip
    assert body(found["Positive calls by form"]) == [
        ["7A", "2", "4", "2.00", "0"],
        ["7B", "2", "0", "0.00", "2"],
        ["8A", "2", "0", "0.00", "2"],
    ]
    assert body(found["Positive calls by year"]) == [
        ["Year 7", "4", "4", "1.00", "2"],
        ["Year 8", "2", "0", "0.00", "2"],
    ]
    assert body(found["Siblings whose positive calls differ by 2 or more"]) == [
        ["Ava Adams; Ben Adams", "Ava Adams (7A): 3; Ben Adams (8A): 0", "3"]
    ]


def test_staff_load_is_by_name_and_not_a_league_table(admin):
    html = page(admin, "staff-load")
    assert "not a league table" in html and "listed by name, not by count" in html
    assert body(tables(html)["Calls made by each member of staff, by name"]) == [
        ["Alex Head", "3", "2"],
        ["Dana Safeguarding", "0", "0"],
        ["Sam Teacher", "5", "1"],
    ]
    # Positive calls home are each teacher's own habit: not counted here.
    assert "Positive calls home are not counted" in html


def test_the_filters_change_the_figures(admin, school):
    assert "0 of 2 families not reached this term." in page(admin, "coverage", year="8")
    assert "1 of 3 families not reached this term." in page(
        admin, "coverage", campaign=str(school.positive)
    )
    weekly = tables(page(admin, "calls", campaign=str(school.positive)))
    assert sum(int(row[-1]) for row in body(weekly["Calls by week and outcome"])) == 6
    september = tables(page(admin, "calls", to="2025-09-30"))
    assert len(body(september["Calls by week and outcome"])) == 5
    assert body(
        tables(page(admin, "staff-load", form="7B"))["Calls made by each member of staff, by name"]
    ) == [["Alex Head", "0", "0"], ["Dana Safeguarding", "0", "0"], ["Sam Teacher", "3", "0"]]
    # The filter form shows what was chosen.
    html = page(admin, "coverage", year="8")
    assert '<option value="8" selected>Year 8</option>' in html


def test_a_filter_that_cannot_be_read_says_so_and_shows_the_school_year(admin, school):
    html = page(admin, "calls", **{"from": "31/02/2025"})
    assert "Write the dates as day, month and year; showing this school year." in html
    html = page(admin, "calls", **{"from": "2025-11-28", "to": "2025-09-01"})
    assert "The start date is after the end date; showing this school year." in html
    html = page(admin, "calls", **{"from": "1900-01-01"})
    assert "Choose at most three years at a time; showing this school year." in html
    html = page(admin, "calls", **{"from": "9999-12-27", "to": "9999-12-31"})
    assert "Choose dates from 2000 to 2099; showing this school year." in html
    html = page(admin, "calls", campaign=str(school.dsl_queue))
    assert "That campaign is not one you can see; showing every campaign." in html


def csv_rows(client: FlaskClient, href: str) -> Rows:
    response = client.get(href.replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def downloads(html: str) -> dict[str, str]:
    """Each table's caption and the address of its CSV download."""
    return {caption: href for href, caption in
            re.findall(r'<a href="([^"]+\.csv[^"]*)" download>Download “([^”]+)” \(CSV\)</a>',
                       html)}  # fmt: skip


@pytest.mark.parametrize("name", PAGES)
def test_each_csv_has_the_same_rows_as_its_table(admin, name):
    html = page(admin, name)
    found = tables(html)
    links = downloads(html)
    assert links and set(links) == set(found)
    for caption, href in links.items():
        assert csv_rows(admin, href) == found[caption], caption


def test_views_and_downloads_are_audited(app, admin, school):
    html = page(admin, "coverage", year="7")
    href = downloads(html)["Families not reached this term"]
    csv_rows(admin, href)
    with app.extensions["phonehub.db"].session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("insights."))
        ).all()
        assert [(e.action, e.actor, e.detail.get("page"), e.detail.get("table"),
                 e.detail.get("year"), e.detail.get("from")) for e in events] == [
            ("insights.viewed", "admin-viewer@school.example", "coverage", None, "7",
             "01/09/2025"),
            ("insights.exported", "admin-viewer@school.example", "coverage", "not-reached", "7",
             "01/09/2025")]  # fmt: skip
    audit_page = admin.get("/audit/").get_data(as_text=True)
    assert "looked at the figures on what the school learns" in audit_page
    assert "downloaded a table of what the school learns" in audit_page


def test_ordinary_staff_cannot_open_any_of_it(app, accounts, school):
    staff = signed_in(app, accounts, Role.STAFF)
    for path in (
        "/insights/",
        *(f"/insights/{name}" for name in PAGES),
        "/insights/coverage/not-reached.csv",
        "/insights/staff-load/staff-load.csv",
    ):
        assert staff.get(path).status_code == 403, path
    assert "What the school learns" not in staff.get("/").get_data(as_text=True)


def test_the_dsl_cannot_see_staff_load(dsl):
    assert dsl.get("/insights/staff-load").status_code == 403
    assert dsl.get("/insights/staff-load/staff-load.csv").status_code == 403
    index = dsl.get("/insights/").get_data(as_text=True)
    assert "Staff load" not in index and "Who we have not reached" in index
    assert "Staff load" not in page(dsl, "calls")


def test_admins_and_the_dsl_have_a_link_to_it(admin, dsl):
    for client in (admin, dsl):
        assert '<a href="/insights/">What the school learns</a>' in client.get("/").get_data(
            as_text=True
        )


def test_the_links_carry_the_filters_and_nothing_else(admin):
    html = page(admin, "coverage", year="8", slug="calls", table="x")
    assert '<a href="/insights/calls?from=2025-09-01&amp;to=2025-11-28&amp;year=8">' in html
    assert "/insights/coverage/not-reached.csv?from=2025-09-01&amp;to=2025-11-28&amp;year=8" in html


def test_a_new_hub_with_no_families_or_calls_shows_empty_figures(app, accounts):
    client = signed_in(app, accounts, Role.ADMIN)
    for name in PAGES:
        page(client, name)  # no error for want of anything to count
    coverage = page(client, "coverage")
    assert "0 of 0 families not reached this term." in coverage
    assert "No pupil is without a positive call." in coverage
    assert "No member of staff has made a call." in page(client, "staff-load")


def test_an_unknown_table_or_page_is_not_found(admin):
    assert admin.get("/insights/coverage/nothing.csv").status_code == 404
    assert admin.get("/insights/nothing/not-reached.csv").status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_no_phone_number_on_any_page_or_in_any_file(admin, name):
    html = page(admin, name)
    files = [csv_rows(admin, href) for href in downloads(html).values()]
    for text in (html, *(str(rows) for rows in files)):
        assert not [number for number in NUMBERS if number in text]


def test_the_charts_are_images_with_a_title_and_a_description_and_no_script(admin):
    html = page(admin, "calls")
    charts = re.findall(r"<svg [^>]*>.*?</svg>", html, re.DOTALL)
    assert len(charts) == 3
    for chart in charts:
        assert 'role="img"' in chart
        labelled = re.search(r'aria-labelledby="([^"]+)" aria-describedby="([^"]+)"', chart)
        assert labelled, chart[:200]
        assert f'<title id="{labelled[1]}">' in chart and f'<desc id="{labelled[2]}">' in chart
    # The bars' labels are text, and the outcomes are named in the legend.
    assert ">w/c 8 Sep</text>" in charts[0] and ">No answer</text>" in charts[0]
    assert "<script" not in "".join(charts)
