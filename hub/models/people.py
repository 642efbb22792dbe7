"""Families: households, their pupils, the guardians we may phone and those guardians' numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UTCDateTime, utcnow


class Household(Base):
    """A family: the pupils who share contacts, and those contacts."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    pupils: Mapped[list[Pupil]] = relationship(
        back_populates="household", order_by="Pupil.surname, Pupil.forename"
    )
    guardians: Mapped[list[Guardian]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Guardian.id"
    )


class Pupil(Base):
    """A pupil on roll, as the MIS knows them."""

    __tablename__ = "pupils"

    id: Mapped[int] = mapped_column(primary_key=True)
    mis_id: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    forename: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100))
    year: Mapped[str] = mapped_column(String(8), default="")
    form: Mapped[str] = mapped_column(String(32), default="")
    # The home or first language as the MIS wrote it ("Polish", "POL"); see hub.languages.
    home_language: Mapped[str] = mapped_column(String(64), default="", server_default="")
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Other flags from the MIS ("SEN", "PP", …), sorted and comma-separated.
    flags: Mapped[str] = mapped_column(String(255), default="")
    # The member of staff who knows the pupil best; campaigns can assign by it.
    key_adult_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )

    household: Mapped[Household] = relationship(back_populates="pupils")
    contacts: Mapped[list[PupilContact]] = relationship(
        back_populates="pupil", cascade="all, delete-orphan"
    )

    @property
    def name(self) -> str:
        """The pupil's full name."""
        return f"{self.forename} {self.surname}"


class Guardian(Base):
    """A parent or carer we may phone about one or more pupils."""

    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    # The MIS's own contact id when the export has one; it survives a change of name.
    mis_contact_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_times: Mapped[str] = mapped_column(String(200), default="")

    household: Mapped[Household] = relationship(back_populates="guardians")
    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="guardian", cascade="all, delete-orphan", order_by="PhoneNumber.position"
    )
    contacts: Mapped[list[PupilContact]] = relationship(
        back_populates="guardian", cascade="all, delete-orphan"
    )


class PupilContact(Base):
    """How a guardian relates to one pupil (Mum to one, stepdad to another)."""

    __tablename__ = "pupil_contacts"
    __table_args__ = (UniqueConstraint("pupil_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    guardian_id: Mapped[int] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), index=True
    )
    relationship_: Mapped[str] = mapped_column("relationship", String(64), default="")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    parental_responsibility: Mapped[bool] = mapped_column(Boolean, default=True)

    pupil: Mapped[Pupil] = relationship(back_populates="contacts")
    guardian: Mapped[Guardian] = relationship(back_populates="contacts")


class PhoneNumber(Base):
    """One of a guardian's numbers, in the order they should be tried."""

    __tablename__ = "phone_numbers"
    __table_args__ = (UniqueConstraint("guardian_id", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(32))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    # Retention counts from here, so a number an import brings back gets its full time.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    guardian: Mapped[Guardian] = relationship(back_populates="numbers")
