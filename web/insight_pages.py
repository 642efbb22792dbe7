"""The "what the school learns" pages as sections: a heading, what the figure means, a
chart and the tables with the same figures. hub.insights computes; this only lays out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy.orm import Session

from hub import insights
from hub.insights import Filters
from web.charts import Bar, bar_chart, stacked_chart
from web.insight_tables import Table, day, days, percent


@dataclass(frozen=True)
class Section:
    """One figure on a page."""

    id: str
    heading: str
    definition: str
    tables: tuple[Table, ...]
    chart: Markup | None = None
    summary: str = ""
    notes: tuple[str, ...] = field(default=())


def calls_page(session: Session, filters: Filters) -> list[Section]:
    """Calls by week and outcome, reach rate, and time to first contact."""
    scope = insights.range_scope(session, filters)  # read once for the three figures
    weekly = insights.calls_by_week(session, filters, scope=scope)
    found = insights.reach(session, filters, scope=scope)
    first = insights.first_contact(session, filters, scope=scope)
    reach_columns = ("Families in the campaign", "Families called", "Families reached",
                     "Reach rate")  # fmt: skip
    reach_tables = [
        ("campaign", "Campaign", (*found.by_campaign, found.overall)),
        ("year", "Year", found.by_year),
        ("form", "Form", found.by_form),
    ]
    return [
        Section(
            id="calls-by-week",
            heading="Calls by week and outcome",
            definition=("Every call the hub dialled to a family in a campaign, by the week it "
                        "was made (weeks begin on Monday) and the outcome the member of staff "
                        "recorded. Calls the dial guard stopped rang nobody and are not "
                        "counted."),
            summary=f"{weekly.total} calls from {day(filters.start)} to {day(filters.end)}.",
            chart=stacked_chart(
                "chart-calls-by-week", "Calls by week and outcome",
                f"{weekly.total} calls in {len(weekly.weeks)} weeks, each week's bar split "
                "by outcome; the table below gives every figure.", weekly.outcomes,
                [Bar(f"w/c {w.monday.day} {w.monday:%b}", w.counts, str(w.total))
                 for w in weekly.weeks]),
            tables=(Table("calls-by-week", "Calls by week and outcome",
                          ("Week beginning", *weekly.outcomes, "All calls"),
                          tuple((day(w.monday), *map(str, w.counts), str(w.total))
                                for w in weekly.weeks)),),
        ),
        Section(
            id="reach",
            heading="Reach rate",
            definition=("Reach rate = families reached ÷ families in the campaign. A family "
                        "counts once in each campaign running in the date range that it is in; "
                        "it was called if the campaign called it in the date range, and "
                        "reached if one of those calls reached someone (spoke to a parent or "
                        "carer or the pupil, or a parent declined to talk). A call that raised "
                        "a safeguarding concern is counted as a call, not as reaching the "
                        "family. A family counts in each year and form one of its pupils is "
                        "in. The standing nominations campaign never closes, so it counts only "
                        "the families it called in the date range."),
            chart=bar_chart(
                "chart-reach", "Reach rate by campaign",
                "The share of each campaign's families reached; the tables below give every "
                "figure.",
                [Bar(r.label, ((r.rate or 0) * 100,),
                     f"{percent(r.rate)} ({r.reached} of {r.families})")
                 for r in found.by_campaign]),
            tables=tuple(
                Table(f"reach-by-{name}", f"Reach rate by {name}", (heading, *reach_columns),
                      tuple((r.label, str(r.families), str(r.tried), str(r.reached),
                             percent(r.rate)) for r in rows))
                for name, heading, rows in reach_tables
            ),
        ),
        Section(
            id="first-contact",
            heading="Time to first contact",
            definition=("For each family first reached in a campaign in the date range: the "
                        "time from the campaign's first call to that family to the first call "
                        "that reached someone, in days. The median is the middle family's "
                        "wait; half the families waited between the lower and upper "
                        "quartiles."),
            chart=bar_chart(
                "chart-first-contact", "When families were first reached",
                f"{first.families} families reached; the table below gives every figure.",
                [Bar(what, (count,), str(count)) for what, count in first.spread]),
            tables=(
                Table("first-contact", "Time to first contact", ("Measure", "Value"), (
                    ("Families reached", str(first.families)),
                    ("Median wait", days(first.median_days)),
                    ("Lower quartile", days(first.lower_quartile_days)),
                    ("Upper quartile", days(first.upper_quartile_days)),
                    ("Longest wait", days(first.longest_days)))),
                Table("first-contact-spread", "When families were first reached",
                      ("When", "Families"),
                      tuple((what, str(count)) for what, count in first.spread)),
            ),
        ),
    ]  # fmt: skip


def coverage_page(session: Session, filters: Filters) -> list[Section]:
    """Families not reached this term, and pupils with no positive call."""
    found = insights.coverage(session, filters)
    positive = insights.no_positive_call(session, filters)
    term = found.term
    if term.from_calendar:
        since = f"from {day(term.start)} (the start of {term.name} in the school calendar)"
    else:
        since = (
            f"from {day(term.start)} (taken as {term.name}: no school calendar has been "
            "imported, so a term is taken to start on 1 September, 1 January or Easter "
            "Sunday)"
        )
    share_columns = ("Families", "Not reached", "Share not reached")
    families = tuple(
        ("; ".join(p.name for p in f.pupils),
         ", ".join(dict.fromkeys(p.form or (f"Year {p.year}" if p.year else "—")
                                for p in f.pupils)),
         str(f.calls), day(filters.day_of(f.last_tried)) if f.last_tried else "Not called")
        for f in found.not_reached
    )  # fmt: skip
    pupils = tuple(
        (p.name, p.year, p.form, ", ".join(g for g in insights.TRACKED if g in p.groups) or "–")
        for p in positive.without
    )
    return [
        Section(
            id="not-reached",
            heading="Families not reached this term",
            definition=(f"This term runs {since} to {day(filters.end)}. A family is not "
                        "reached when no call to it in that time reached someone (see the "
                        "reach rate's definition on the calls page); it may have been called "
                        "and not answered, or not called at all. A family counts in each year "
                        "and form one of its pupils is in. With a campaign chosen, only that "
                        "campaign's families and calls count."),
            summary=(f"{len(found.not_reached)} of {found.families} families not reached "
                     "this term."),
            chart=bar_chart(
                "chart-not-reached", "Families not reached this term, by year",
                "How many of each year's families no call has reached this term; the tables "
                "below give every figure.",
                [Bar(s.label, (s.missed,), f"{s.missed} of {s.total}") for s in found.by_year]),
            tables=(
                Table("not-reached-by-year", "Families not reached this term, by year",
                      ("Year", *share_columns),
                      tuple((s.label, str(s.total), str(s.missed), percent(s.rate))
                            for s in found.by_year)),
                Table("not-reached-by-form", "Families not reached this term, by form",
                      ("Form", *share_columns),
                      tuple((s.label, str(s.total), str(s.missed), percent(s.rate))
                            for s in found.by_form)),
                Table("not-reached", "Families not reached this term",
                      ("Pupils", "Forms", "Calls this term", "Last called"), families,
                      empty="No family is left unreached this term."),
            ),
        ),
        Section(
            id="no-positive-call",
            heading="Pupils with no positive call",
            definition=("A positive call is a call in a campaign whose purpose is a positive "
                        "call home that reached someone. It counts for the pupils its "
                        "campaign note was about, or for every pupil of the family when the "
                        "note names nobody. Counted from "
                        f"{day(filters.start)} to {day(filters.end)}. Pupils in a group the "
                        "school tracks are listed first and highlighted: SEN (MIS flag SEN, "
                        "SEND, SEN support or EHCP), pupil premium (PP or pupil premium) and "
                        "EAL (the MIS's EAL flag, or a home language recorded that is not "
                        "English)."),
            summary=f"{len(positive.without)} of {positive.pupils} pupils have had none.",
            chart=bar_chart(
                "chart-no-positive-call", "Pupils with no positive call, by group",
                "The share of each group's pupils with no positive call; the tables below "
                "give every figure.",
                [Bar(s.label, ((s.rate or 0) * 100,), f"{percent(s.rate)} ({s.missed} of "
                     f"{s.total})") for s in positive.groups]),
            tables=(
                Table("no-positive-call-by-group", "Pupils with no positive call, by group",
                      ("Group", "Pupils", "With no positive call", "Share"),
                      tuple((s.label, str(s.total), str(s.missed), percent(s.rate))
                            for s in positive.groups)),
                Table("no-positive-call", "Pupils with no positive call",
                      ("Pupil", "Year", "Form", "Tracked groups"), pupils,
                      marked=frozenset(i for i, p in enumerate(positive.without) if p.groups),
                      empty="No pupil is without a positive call."),
            ),
        ),
    ]  # fmt: skip


def fairness_page(session: Session, filters: Filters) -> list[Section]:
    """The spread of positive calls across pupils, forms, years and siblings."""
    found = insights.fairness(session, filters)
    rate_columns = ("Pupils", "Positive calls", "Per pupil", "Pupils with none")

    def rate_rows(rates: tuple[insights.Rate, ...]) -> tuple[tuple[str, ...], ...]:
        return tuple((r.label, str(r.pupils), str(r.calls),
                      "–" if r.per_pupil is None else f"{r.per_pupil:.2f}", str(r.without))
                     for r in rates)  # fmt: skip

    def rate_chart(chart_id: str, what: str, rates: tuple[insights.Rate, ...]) -> Markup:
        return bar_chart(chart_id, f"Positive calls per pupil, by {what}",
                         f"Each {what}'s positive calls divided by its pupils; the table "
                         "below gives every figure.",
                         [Bar(r.label, (r.per_pupil or 0,),
                              "–" if r.per_pupil is None else f"{r.per_pupil:.2f}")
                          for r in rates])  # fmt: skip

    siblings = tuple(
        ("; ".join(p.name for p, _ in s.pupils),
         "; ".join(f"{p.name} ({p.form or p.year}): {count}" for p, count in s.pupils),
         str(s.gap))
        for s in found.siblings
    )  # fmt: skip
    period = f"from {day(filters.start)} to {day(filters.end)}"
    return [
        Section(
            id="spread",
            heading="How positive calls are spread across pupils",
            definition=(f"How many pupils had no positive call {period}, how many had one, "
                        "two, or three or more (a positive call is defined on the coverage "
                        "page)."),
            chart=bar_chart("chart-spread", "Pupils by number of positive calls",
                            "How many pupils had 0, 1, 2, or 3 or more positive calls; the "
                            "table below gives every figure.",
                            [Bar(what, (n,), str(n)) for what, n in found.spread]),
            tables=(Table("spread", "Pupils by number of positive calls",
                          ("Positive calls", "Pupils"),
                          tuple((what, str(n)) for what, n in found.spread)),),
        ),
        Section(
            id="by-form",
            heading="Positive calls by form",
            definition=f"Each form's positive calls {period}, per pupil on roll in it.",
            chart=rate_chart("chart-by-form", "form", found.by_form),
            tables=(Table("positive-by-form", "Positive calls by form",
                          ("Form", *rate_columns), rate_rows(found.by_form)),),
        ),
        Section(
            id="by-year",
            heading="Positive calls by year",
            definition=f"Each year's positive calls {period}, per pupil on roll in it.",
            chart=rate_chart("chart-by-year", "year", found.by_year),
            tables=(Table("positive-by-year", "Positive calls by year",
                          ("Year", *rate_columns), rate_rows(found.by_year)),),
        ),
        Section(
            id="siblings",
            heading="Siblings far apart",
            definition=(f"Brothers and sisters (pupils of one family) where one had "
                        f"{insights.SIBLING_GAP} or more positive calls more than another, "
                        f"{period}."),
            tables=(Table("siblings", "Siblings whose positive calls differ by "
                          f"{insights.SIBLING_GAP} or more",
                          ("Family", "Positive calls each", "Difference"), siblings,
                          empty="No siblings are that far apart."),),
        ),
    ]  # fmt: skip


def load_page(session: Session, filters: Filters) -> list[Section]:
    """Calls made by each member of staff, listed by name."""
    rows = insights.staff_load(session, filters)
    return [
        Section(
            id="staff-load",
            heading="Calls made by each member of staff",
            definition=(f"Calls each member of staff dialled to families in campaigns from "
                        f"{day(filters.start)} to {day(filters.end)}, and how many of them "
                        "reached someone. It is here to plan staff time: it is not a league "
                        "table, and is listed by name, not by count. Calls in the DSL's own "
                        "queue are not counted. Positive calls home are not counted either: "
                        "they are each teacher's own habit, shown to nobody else. Staff who "
                        "opted in to calling are listed even with no calls."),
            chart=bar_chart("chart-staff-load", "Calls made by each member of staff",
                            "Calls per member of staff, in name order; the table below gives "
                            "every figure.",
                            [Bar(r.name, (r.calls,), str(r.calls)) for r in rows]),
            tables=(Table("staff-load", "Calls made by each member of staff, by name",
                          ("Member of staff", "Calls made", "Calls that reached a family"),
                          tuple((r.name, str(r.calls), str(r.reached)) for r in rows),
                          empty="No member of staff has made a call."),),
        ),
    ]  # fmt: skip


PageBuilder = Callable[[Session, Filters], list[Section]]
