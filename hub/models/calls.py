"""Calls: the hubs that place them, each attempt and how it ended, concerns raised on one,
and a parent ringing the school back about one."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UTCDateTime, utcnow, value_enum
from hub.models.campaigns import CampaignEntry


class Outcome(enum.StrEnum):
    """What the member of staff recorded after a call attempt."""

    SPOKE_TO_PARENT = "spoke_to_parent"
    SPOKE_TO_PUPIL = "spoke_to_pupil"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    DECLINED = "declined"
    CONCERN = "concern"


class EndReason(enum.StrEnum):
    """How the line saw a call attempt end, whatever staff later record."""

    COMPLETED = "completed"  # answered, then hung up by either side
    CANCELLED = "cancelled"  # staff hung up before it was answered
    NO_ANSWER = "no_answer"  # rang for [line] ring_timeout_s
    BUSY = "busy"
    REJECTED = "rejected"  # the callee or the network declined it
    FAILED = "failed"  # the trunk could not place it
    DROPPED = "dropped"  # no audio for [line] rtp_timeout_s
    REFUSED = "refused"  # the dial guard stopped it before any INVITE
    INTERRUPTED = "interrupted"  # the line daemon stopped mid-call


class Hub(Base):
    """One appliance; several may share a PostgreSQL database."""

    __tablename__ = "hubs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[str] = mapped_column(String(32), default="")
    registration: Mapped[str] = mapped_column(String(32), default="unknown")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which machine holds the name (data_dir/hub-id), so two hubs given one name
    # are told apart instead of closing each other's calls.
    machine: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The last call event replayed from the hub's local journal ("<batch>:<n>"), moved
    # in the same transaction as the event, so none is written twice (hub/line/journal.py).
    journal_applied: Mapped[str] = mapped_column(String(64), default="", server_default="")


class CallAttempt(Base):
    """One dial: who made it, from which hub, to which number, and how it ended."""

    __tablename__ = "call_attempts"
    # The dial guard's rate limits count by staff, hub and number over time;
    # every desk page looks for the member of staff's last call still without an
    # outcome (a partial index: it holds those few calls only).
    __table_args__ = (
        Index("ix_call_attempts_household_time", "household_id", "requested_at"),
        Index("ix_call_attempts_staff_time", "staff_id", "requested_at"),
        Index("ix_call_attempts_hub_time", "hub_id", "requested_at"),
        Index("ix_call_attempts_staff_no_outcome", "staff_id", "id",
              sqlite_where=text("outcome IS NULL"), postgresql_where=text("outcome IS NULL")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_entries.id", ondelete="SET NULL"), index=True
    )
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL")
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("hubs.id", ondelete="SET NULL"))
    # SET NULL: purging a number must not erase the history of the call.
    phone_number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL"), index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sip_status: Mapped[int | None] = mapped_column(Integer)
    # Who ended the call: staff, remote, timeout, system.
    ended_by: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[EndReason | None] = mapped_column(value_enum(EndReason, "end_reason"))
    outcome: Mapped[Outcome | None] = mapped_column(value_enum(Outcome, "outcome"))
    # An admin's test call to a number typed in, not a family's.
    test_call: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    # A positive call home the parent wants to take further: a follow-up was booked for the
    # caller (the outcome is still that they spoke to the parent).
    meeting_wanted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recording_path: Mapped[str | None] = mapped_column(String(500))

    entry: Mapped[CampaignEntry | None] = relationship(back_populates="attempts")


class Concern(Base):
    """A safeguarding concern raised on a call; only the DSL reads its note."""

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    raised_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    handled_note: Mapped[str] = mapped_column(Text, default="")


class ParentCallBack(Base):
    """A parent rang the school back about a call; the office noted it for the caller.

    Not the queue's "call back" (the school ringing a family again later): this is
    the family ringing the school, shown to whoever made the call until they mark it seen.
    """

    __tablename__ = "parent_call_backs"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True
    )
    noted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The form's one-time token: a double click (or a second tab) posts it twice and
    # the unique index keeps the second from being a second note.
    form_token: Mapped[str] = mapped_column(String(32), unique=True)

    attempt: Mapped[CallAttempt] = relationship()
