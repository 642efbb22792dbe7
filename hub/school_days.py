"""School days that are school days: weekends, the nation's bank holidays, the school's own dates.

A day is a school day when it is a weekday, not a bank holiday of the school's nation
(``[dialplan] nation``, from the maintained ``holidays`` library), not in one of the
school's holidays or INSET days, and — once any term dates are imported — inside a
term. Days are the school's own, in ``[dialplan] timezone``.

The school's dates come from a file the office already has: a CSV (start, end and
what each row is) or an iCalendar (.ics) export of the school calendar. Importing a
file replaces the calendar; a file with any line the hub cannot read changes nothing
and says which lines, one sentence each.

    with database.session() as session:
        calendar = SchoolCalendar.load(session, "england-and-wales")
        calendar.is_school_day(date(2026, 12, 25))  # False: Christmas Day
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub import audit
from hub.exceptions import PhoneHubError
from hub.models import CalendarPeriod, PeriodKind, StaffUser

SUBDIVISIONS = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}
DEFAULT_NATION = "england-and-wales"
MAX_FILE_BYTES = 1_000_000

# What a row or an event is, from the words in its name, first match wins.
KIND_WORDS: tuple[tuple[PeriodKind, tuple[str, ...]], ...] = (
    (PeriodKind.INSET, ("inset", "training day", "staff day", "non-pupil", "teacher day",
                        "staff development", "pd day")),
    (PeriodKind.HOLIDAY, ("half term", "half-term", "holiday", "break", "closed", "closure",
                          "bank holiday", "vacation")),
    (PeriodKind.TERM, ("term",)),
)  # fmt: skip


class CalendarFileError(PhoneHubError):
    """A calendar file the hub could not read; ``problems`` has one sentence per line."""

    def __init__(self, problems: list[str]) -> None:
        many = f"{len(problems)} lines could not be read; nothing was imported."
        super().__init__(problems[0] if len(problems) == 1 else many)
        self.problems = problems


@dataclass(frozen=True)
class Period:
    """From ``starts_on`` to ``ends_on`` (both included), what the school's calendar says."""

    starts_on: date
    ends_on: date
    kind: PeriodKind
    name: str = ""

    def holds(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class SchoolCalendar:
    """Which days are school days, and why any other day is not."""

    nation: str = DEFAULT_NATION
    periods: tuple[Period, ...] = field(default=())

    @classmethod
    def load(cls, session: Session, nation: str = DEFAULT_NATION) -> SchoolCalendar:
        """The school's calendar as imported, with ``nation``'s bank holidays."""
        rows = session.scalars(select(CalendarPeriod).order_by(CalendarPeriod.starts_on)).all()
        return cls(nation, tuple(Period(r.starts_on, r.ends_on, r.kind, r.name) for r in rows))

    def why_not(self, day: date) -> str | None:
        """Why ``day`` is not a school day ("Boxing Day, a bank holiday"), or None if it is."""
        if day.weekday() >= 5:
            return f"a {day:%A}"
        bank_holiday = _bank_holidays(self.nation, day.year).get(day)
        if bank_holiday:
            return f"{bank_holiday}, a bank holiday"
        for period in self.periods:
            if period.kind is not PeriodKind.TERM and period.holds(day):
                what = "an INSET day" if period.kind is PeriodKind.INSET else "a school holiday"
                return f"{period.name}, {what}" if period.name else what
        terms = [p for p in self.periods if p.kind is PeriodKind.TERM]
        if terms and not any(p.holds(day) for p in terms):
            return "outside the school's terms"
        return None

    def is_school_day(self, day: date) -> bool:
        """Whether pupils are in school on ``day``."""
        return self.why_not(day) is None

    def school_days(self, days: Iterable[date]) -> list[date]:
        """The school days among ``days``, in order, each once."""
        return sorted({day for day in days if self.is_school_day(day)})

    def days_off(self, start: date, count: int) -> Iterator[tuple[date, str]]:
        """The days that are not school days in the ``count`` days from ``start``, and why."""
        for offset in range(count):
            day = start + timedelta(days=offset)
            reason = self.why_not(day)
            if reason is not None and day.weekday() < 5:
                yield day, reason


@cache
def _bank_holidays(nation: str, year: int) -> dict[date, str]:
    country = holidays.country_holidays("GB", subdiv=SUBDIVISIONS[nation], years=year)
    return {
        day: re.sub(r" \(observed\)$", " (substitute day)", name) for day, name in country.items()
    }


def read_calendar_file(content: bytes, filename: str, zone: ZoneInfo) -> list[Period]:
    """The periods in a CSV or iCalendar file; raises CalendarFileError naming each bad line."""
    if len(content) > MAX_FILE_BYTES:
        raise CalendarFileError(["The file is larger than 1 MB; is it the school calendar?"])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", "replace")
    if filename.lower().endswith(".ics") or text.lstrip().startswith("BEGIN:VCALENDAR"):
        periods = _read_ical(content, zone)
    else:
        periods = _read_csv(text)
    if not periods:
        raise CalendarFileError(["The file holds no terms, holidays or INSET days."])
    return periods


def replace_calendar(session: Session, periods: list[Period], *, actor: StaffUser | str) -> None:
    """Make ``periods`` the school's calendar (the file is the whole calendar); audited."""
    session.execute(delete(CalendarPeriod))
    session.add_all(CalendarPeriod(starts_on=p.starts_on, ends_on=p.ends_on, kind=p.kind,
                                   name=p.name[:200]) for p in periods)  # fmt: skip
    counts = {kind.value: sum(1 for p in periods if p.kind is kind) for kind in PeriodKind}
    audit.record(session, "calendar.imported", actor=actor, target_type="calendar",
                 detail=counts)  # fmt: skip


def _kind(words: str) -> PeriodKind | None:
    lowered = words.lower()
    for kind, names in KIND_WORDS:
        if any(name in lowered for name in names):
            return kind
    return None


_COLUMNS = {
    "start": ("start", "starts", "start date", "from", "first day", "begins", "date"),
    "end": ("end", "ends", "end date", "to", "until", "last day", "finishes"),
    "kind": ("kind", "type", "what", "category"),
    "name": ("name", "description", "summary", "event", "title", "details"),
}


def _read_csv(text: str) -> list[Period]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    where = {key: next((i for i, h in enumerate(header) if h in names), None)
             for key, names in _COLUMNS.items()}  # fmt: skip
    if where["start"] is None or (where["kind"] is None and where["name"] is None):
        raise CalendarFileError([
            "The first line must name the columns: a start date, an end date, and what each "
            "row is (term, holiday or INSET day), for example: start,end,what"])  # fmt: skip
    periods, problems = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = _cells(row, where)
        name, kind_text = cell("name"), cell("kind")
        try:
            starts = _date(cell("start"))
            ends = _date(cell("end")) if cell("end") else starts
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        kind = _kind(kind_text) or _kind(name)
        if kind is None:
            problems.append(f"line {line}: say whether it is a term, a holiday or an INSET day, "
                            f"not {kind_text or name or 'nothing'!r}")  # fmt: skip
        elif ends < starts:
            problems.append(f"line {line}: it ends ({ends:%d/%m/%Y}) before it starts "
                            f"({starts:%d/%m/%Y})")  # fmt: skip
        else:
            periods.append(Period(starts, ends, kind, name or kind_text))
    if problems:
        raise CalendarFileError(problems)
    return periods


def _cells(row: list[str], where: dict[str, int | None]) -> Callable[[str], str]:
    def cell(key: str) -> str:
        index = where[key]
        return row[index].strip() if index is not None and index < len(row) else ""

    return cell


def _date(text: str) -> date:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y",
                    "%d %b %Y"):  # fmt: skip
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (write it as 25/12/2026)" if text else
                     "the date is missing")  # fmt: skip


def _read_ical(content: bytes, zone: ZoneInfo) -> list[Period]:
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(content)
    except ValueError as exc:
        raise CalendarFileError([f"The iCalendar file could not be read: {exc}"]) from None
    periods = []
    for event in calendar.walk("VEVENT"):
        name = str(event.get("SUMMARY", "")).strip()
        kind = _kind(name)
        start = event.decoded("DTSTART", None)
        if kind is None or start is None:
            continue  # a parents' evening or a sports day: not the calendar's business
        end = event.decoded("DTEND", None)
        starts = _local_day(start, zone)
        if end is None:
            ends = starts
        elif isinstance(end, datetime):
            ends = _local_day(end - timedelta(seconds=1), zone)
        else:
            ends = end - timedelta(days=1)  # an all-day event's DTEND is the day after
        periods.append(Period(starts, max(starts, ends), kind, name))
    return periods


def _local_day(moment: date | datetime, zone: ZoneInfo) -> date:
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo is None else moment.astimezone(zone)).date()
    return moment
