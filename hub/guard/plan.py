"""The dial plan: what may be dialled, how often and when, as the config says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from hub.config import DAYS, Config
from hub.numbers import Kind
from hub.school_days import DEFAULT_NATION

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DialPlan:
    """What may be dialled, how often and when: the [dialplan] config section."""

    allowed: frozenset[Kind]
    international: bool
    per_staff_per_hour: int
    per_number_per_day: int
    per_hub_per_day: int
    calling_window: tuple[time, time]
    calling_days: frozenset[int]  # 0 is Monday, as datetime.weekday() counts
    zone: ZoneInfo
    nation: str = DEFAULT_NATION  # whose bank holidays are not school days
    school_days_only: bool = True  # and no calls in the school's holidays or INSET days

    @classmethod
    def from_config(cls, config: Config) -> DialPlan:
        """The dial plan a loaded config describes."""
        section = config.dialplan
        return cls(
            allowed=frozenset(section.allowed),
            international=section.international,
            per_staff_per_hour=section.per_staff_per_hour,
            per_number_per_day=section.per_number_per_day,
            per_hub_per_day=section.per_hub_per_day,
            calling_window=section.calling_window,
            calling_days=frozenset(DAYS.index(day) for day in section.calling_days),
            zone=section.zone,
            nation=section.nation,
            school_days_only=section.school_days_only,
        )

    @property
    def calling_hours(self) -> str:
        """When calls may be made, as a person says it: "Monday to Friday, 08:00 to 19:00"."""
        start, end = self.calling_window
        until = "24:00" if end == time.max else f"{end:%H:%M}"
        return f"{_days(self.calling_days)}, {start:%H:%M} to {until}"


def _days(days: frozenset[int]) -> str:
    if len(days) == len(DAY_NAMES):
        return "every day"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) > 2:
            parts.append(f"{DAY_NAMES[run[0]]} to {DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
