"""The school's own wording of its spoken messages in the languages families speak."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime, utcnow


class SpokenMessage(Base):
    """The voicemail message and recording notice in one language, as an admin wrote them.

    English is the config's (``[speech]``); a family whose home language has a row here
    hears that row's wording, spoken by espeak-ng's voice for the language.
    """

    __tablename__ = "spoken_messages"

    language: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO 639 code
    voicemail_message: Mapped[str] = mapped_column(Text)
    recording_notice: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
