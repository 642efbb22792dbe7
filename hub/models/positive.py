"""Positive calls home as staff's own habit: nominations of pupils, and reflections after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UTCDateTime, utcnow
from hub.models.campaigns import CampaignEntry
from hub.models.people import Pupil
from hub.models.staff import StaffUser


class Nomination(Base):
    """A member of staff's note of something specific a pupil did, for a call home about it."""

    __tablename__ = "nominations"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    # The nominations campaign's entry for the pupil's household: siblings share one call.
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_entries.id", ondelete="CASCADE"), index=True
    )
    nominated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The call that read it out to the family; until then it is on the family's card.
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL"), index=True
    )
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pupil: Mapped[Pupil] = relationship()
    entry: Mapped[CampaignEntry] = relationship()
    nominated_by: Mapped[StaffUser | None] = relationship()


class Reflection(Base):
    """A caller's short reflection on one positive call: private to its author.

    Asked for a few days after the call ([positive] reflect_after_days), once any change
    in the pupil can be seen; the row is made when it is first saved or passed over.
    """

    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    # Erasing a family's data erases what was written about its call too.
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL"), unique=True
    )
    # Who the call was about ("Ali Nowak, year 8"), as it was when the call was made.
    about: Mapped[str] = mapped_column(String(300), default="")
    called_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Written (its answers saved), or passed over: either way its caller is not asked again.
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The six prompts (hub.positive.PROMPTS), one answer each.
    age: Mapped[str] = mapped_column(Text, default="")
    impressed: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[str] = mapped_column(Text, default="")
    reaction: Mapped[str] = mapped_column(Text, default="")
    change: Mapped[str] = mapped_column(Text, default="")
    wider: Mapped[str] = mapped_column(Text, default="")
