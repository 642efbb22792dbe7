"""The school's own calendar: its terms, holidays and INSET days, as imported."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime, utcnow, value_enum


class PeriodKind(enum.StrEnum):
    """What a run of dates in the school's calendar is."""

    TERM = "term"  # pupils in school (weekdays that are not bank holidays)
    HOLIDAY = "holiday"  # half term, the holidays, a closure
    INSET = "inset"  # a training day: staff in, pupils not


class CalendarPeriod(Base):
    """From one date to another (both included), what the school's calendar says."""

    __tablename__ = "calendar_periods"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="in_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[PeriodKind] = mapped_column(value_enum(PeriodKind, "period_kind"))
    name: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
