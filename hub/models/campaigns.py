"""Campaigns: the queues of households to call, who may work them, and notes per pupil."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UTCDateTime, utcnow, value_enum
from hub.models.people import Household
from hub.models.staff import StaffUser

if TYPE_CHECKING:
    # hub.models.calls imports this module; SQLAlchemy finds CallAttempt by name.
    from hub.models.calls import CallAttempt


class Purpose(enum.StrEnum):
    """Why a campaign's calls are made."""

    WELFARE = "welfare"
    POSITIVE = "positive"
    ATTENDANCE = "attendance"
    CUSTOM = "custom"


class EntryState(enum.StrEnum):
    """Where a household stands in one campaign."""

    WAITING = "waiting"
    CLAIMED = "claimed"
    CALL_BACK = "call_back"
    DONE = "done"
    ESCALATED = "escalated"


class CampaignStaff(Base):
    """A member of staff named as allowed to work a campaign."""

    __tablename__ = "campaign_staff"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )


class Campaign(Base):
    """A queue of households to call, for one purpose, under the school's rules."""

    __tablename__ = "campaigns"
    # One standing nominations campaign, even when two hubs make it at the same moment.
    __table_args__ = (
        Index("uq_campaigns_for_nominations", "for_nominations", unique=True,
              sqlite_where=text("for_nominations"), postgresql_where=text("for_nominations")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[Purpose] = mapped_column(value_enum(Purpose, "purpose"))
    talking_points: Mapped[str] = mapped_column(Text, default="")
    cadence_days: Mapped[int] = mapped_column(Integer, default=14)
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    # For a period (Ramadan, say), calls later in the day: these hours replace the
    # school's and the campaign's own from later_from to later_until (both included).
    later_from: Mapped[date | None] = mapped_column(Date)
    later_until: Mapped[date | None] = mapped_column(Date)
    later_start: Mapped[time | None] = mapped_column(Time)
    later_end: Mapped[time | None] = mapped_column(Time)
    recording: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only the DSL sees a campaign like this (the vulnerable-children queue).
    dsl_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # False: only the staff listed in campaign_staff may work it.
    any_opted_in_staff: Mapped[bool] = mapped_column(Boolean, default=True)
    deadline: Mapped[date | None] = mapped_column(Date)
    # The standing positive campaign that staff's nominations of pupils go to (hub.positive).
    for_nominations: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entries: Mapped[list[CampaignEntry]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan"
    )
    staff: Mapped[list[StaffUser]] = relationship(secondary="campaign_staff")


class CampaignEntry(Base):
    """One household in one campaign: who has it and how far it got."""

    __tablename__ = "campaign_entries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "household_id"),
        Index("ix_campaign_entries_queue", "campaign_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[EntryState] = mapped_column(
        value_enum(EntryState, "entry_state"), default=EntryState.WAITING
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    claimed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A positive call: what the caller plans to say, written on the card before calling.
    plan: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="entries")
    household: Mapped[Household] = relationship()
    assignee: Mapped[StaffUser | None] = relationship(foreign_keys=[assignee_id])
    claimed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[claimed_by_id])
    attempts: Mapped[list[CallAttempt]] = relationship(
        back_populates="entry", order_by="CallAttempt.requested_at"
    )
    pupil_notes: Mapped[list[PupilNote]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )

    @property
    def notes_by_pupil(self) -> dict[int, str]:
        """What each pupil did, by pupil id, for the pupils that have a note."""
        return {note.pupil_id: note.note for note in self.pupil_notes if note.note}


class PupilNote(Base):
    """For a positive call: what one pupil did, read out by whoever calls the family."""

    __tablename__ = "pupil_notes"
    __table_args__ = (UniqueConstraint("entry_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("campaign_entries.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    entry: Mapped[CampaignEntry] = relationship(back_populates="pupil_notes")
