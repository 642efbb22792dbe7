"""The hub's data: families, staff, campaigns, calls and the audit trail.

The same models serve SQLite on a single Pi and PostgreSQL shared by many hubs;
the schema itself is created and changed only by the Alembic migrations in
``hub/migrations``.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, in UTC, as every timestamp in the database is."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones and would hand back naive datetimes; mixing those
    with aware ones is a bug waiting for the clocks to change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the values ("welfare") rather than the member names ("WELFARE"),
    # as a VARCHAR with a CHECK so adding a member is a plain migration everywhere.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(enum.StrEnum):
    """What a member of staff may do on the panel."""

    STAFF = "staff"
    ADMIN = "admin"
    DSL = "dsl"


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


class StaffUser(Base):
    """Someone who signs in to the panel."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.STAFF)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[Purpose] = mapped_column(_enum(Purpose, "purpose"))
    talking_points: Mapped[str] = mapped_column(Text, default="")
    cadence_days: Mapped[int] = mapped_column(Integer, default=14)
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    recording: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only the DSL sees a campaign like this (the vulnerable-children queue).
    dsl_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # False: only the staff listed in campaign_staff may work it.
    any_opted_in_staff: Mapped[bool] = mapped_column(Boolean, default=True)
    deadline: Mapped[date | None] = mapped_column(Date)
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
        _enum(EntryState, "entry_state"), default=EntryState.WAITING
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    claimed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
    end_reason: Mapped[EndReason | None] = mapped_column(_enum(EndReason, "end_reason"))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"))
    # An admin's test call to a number typed in, not a family's.
    test_call: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
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


class AuditEvent(Base):
    """One line of the append-only audit log. It never holds a phone number."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id"),
        CheckConstraint("action <> ''", name="action_set"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A staff account, or null with actor "cli", "system" or a hub's name.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[int | None] = mapped_column(Integer)
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("hubs.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class WebSession(Base):
    """A signed-in browser. Kept server-side so that signing out really ends it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only a hash of the cookie's token is stored; a copied database opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffUser] = relationship()


class LoginFailure(Base):
    """A failed sign-in, counted per account and per address to slow down guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invite(Base):
    """A one-time link an admin gives a new member of staff to set their password."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffUser] = relationship()
