"""A family's preferred call times, as the office writes them, understood well enough to wait for.

Guardians' preferred times are free text from the MIS or the household page ("after
5pm", "weekday mornings", "Tues/Thurs 4-6pm", "not before 10"). Where every part of
the text is understood, the queue holds the family until one of the times comes
round; where any part is not, the text is still shown on the card, and the queue
does not guess. Times are the school's, in ``[dialplan] timezone``.

    >>> understood("after 5pm").allows(datetime(2026, 11, 30, 17, 30))
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

DAY_WORDS = {
    "mon": 0, "monday": 0, "mondays": 0, "tue": 1, "tues": 1, "tuesday": 1, "tuesdays": 1,
    "wed": 2, "weds": 2, "wednesday": 2, "wednesdays": 2, "thu": 3, "thur": 3, "thurs": 3,
    "thursday": 3, "thursdays": 3, "fri": 4, "friday": 4, "fridays": 4, "sat": 5,
    "saturday": 5, "saturdays": 5, "sun": 6, "sunday": 6, "sundays": 6,
}  # fmt: skip
PARTS_OF_DAY = {
    "morning": (time(8), time(12)), "mornings": (time(8), time(12)),
    "lunchtime": (time(12), time(14)), "lunch": (time(12), time(14)),
    "afternoon": (time(12), time(17)), "afternoons": (time(12), time(17)),
    "evening": (time(17), time(21)), "evenings": (time(17), time(21)),
    "after school": (time(15, 30), time(21)),
}  # fmt: skip
SHORT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
DAY_START, DAY_END = time(0), time(23, 59, 59)
_TIME = r"(?:noon|midday|\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?)"
_RANGE = re.compile(rf"^(?:between\s+|from\s+)?({_TIME})\s*(?:-|–|to|and|until)\s*({_TIME})$")


@dataclass(frozen=True)
class Window:
    """Some days of the week, between two times."""

    days: frozenset[int]
    start: time
    end: time

    def allows(self, moment: datetime) -> bool:
        return moment.weekday() in self.days and self.start <= moment.time() < self.end

    def words(self) -> str:
        if self.days == EVERY_DAY:
            days = "every day"
        elif self.days == WEEKDAYS:
            days = "weekdays"
        else:
            days = ", ".join(SHORT_DAYS[day] for day in sorted(self.days))
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class PreferredTimes:
    """The times a guardian asked to be called at: any of ``windows``."""

    windows: tuple[Window, ...]

    def allows(self, moment: datetime) -> bool:
        """Whether a call at ``moment`` (the school's local time) is at a preferred time."""
        return any(window.allows(moment) for window in self.windows)

    def words(self) -> str:
        """How the hub understood them, e.g. "weekdays 17:00–23:59"."""
        return "; ".join(window.words() for window in self.windows)


def understood(text: str) -> PreferredTimes | None:
    """The times ``text`` asks for, or None if any part of it is not understood."""
    text = re.sub(r"(?<=[a-z])\s*/\s*(?=[a-z])", " and ", text.lower())  # "Tues/Thurs"
    clauses = [c.strip() for c in re.split(r",|;|\bor\b|/(?=\s*\d)", text) if c.strip()]
    windows: list[Window] = []
    for clause in clauses:
        window = _clause(clause)
        if window is None:
            return None
        windows.append(window)
    return PreferredTimes(tuple(windows)) if windows else None


def _clause(clause: str) -> Window | None:
    days, rest = _days(clause.replace("only", "").strip())
    rest = rest.strip()
    if not rest:
        return Window(days, DAY_START, DAY_END) if days != EVERY_DAY else None
    for words, (start, end) in PARTS_OF_DAY.items():
        if rest == words:
            return Window(days, start, end)
    if found := re.fullmatch(rf"(?:after|from)\s+({_TIME})", rest):
        start = _clock(found.group(1))
        return Window(days, start, DAY_END) if start else None
    if found := re.fullmatch(rf"(?:before|not after|until)\s+({_TIME})", rest):
        end = _clock(found.group(1))
        return Window(days, DAY_START, end) if end else None
    if found := re.fullmatch(rf"not before\s+({_TIME})", rest):
        start = _clock(found.group(1))
        return Window(days, start, DAY_END) if start else None
    if found := _RANGE.fullmatch(rest):
        start, end = _clock(found.group(1), pm_hint=found.group(2)), _clock(found.group(2))
        if start and end and start < end:
            return Window(days, start, end)
    return None


def _days(clause: str) -> tuple[frozenset[int], str]:
    """The days a clause starts with ("weekday", "tue and thu", "mon-wed") and the rest."""
    words = clause.split()
    if words and words[0] in ("weekday", "weekdays"):
        return WEEKDAYS, " ".join(words[1:])
    if words and words[0] in ("weekend", "weekends"):
        return frozenset({5, 6}), " ".join(words[1:])
    days: set[int] = set()
    index = 0
    while index < len(words):
        word = words[index].strip(".")
        span = re.fullmatch(r"([a-z]+)-([a-z]+)", word)
        if span and span.group(1) in DAY_WORDS and span.group(2) in DAY_WORDS:
            first, last = DAY_WORDS[span.group(1)], DAY_WORDS[span.group(2)]
            days.update(range(first, last + 1))
        elif word in DAY_WORDS:
            days.add(DAY_WORDS[word])
        elif word not in ("and", "&", "on") or not days:
            break
        index += 1
    return (frozenset(days) if days else EVERY_DAY), " ".join(words[index:])


def _clock(text: str, pm_hint: str | None = None) -> time | None:
    """ "5pm", "17:00", "5.30 pm", "noon"; in a range "4-6pm", the first takes the pm."""
    text = text.strip()
    if text in ("noon", "midday"):
        return time(12)
    found = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?", text)
    if found is None:
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    suffix = found.group(3) or (re.sub(r"[^apm]", "", pm_hint or "")[-2:] or None)
    if suffix == "pm" and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    elif suffix is None and 1 <= hour <= 7:
        hour += 12  # "after 5" on a school's phone list means the afternoon
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
