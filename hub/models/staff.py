"""Staff accounts: who signs in to the panel, their sessions, invites and failed sign-ins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UTCDateTime, utcnow, value_enum


class Role(enum.StrEnum):
    """What a member of staff may do on the panel."""

    STAFF = "staff"
    ADMIN = "admin"
    DSL = "dsl"


class StaffUser(Base):
    """Someone who signs in to the panel."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(value_enum(Role, "role"), default=Role.STAFF)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A second factor (hub/second_factor.py): the authenticator app's shared secret once
    # confirmed, and the last 30-second step used, so no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Their own phone, for calling from wherever they are (hub/own_phone.py): E.164 or an
    # extension, used once a code the hub spoke to it is typed back; the code kept hashed.
    own_phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    own_phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    own_phone_code_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    own_phone_code_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    own_phone_code_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RecoveryCode(Base):
    """A one-time code to sign in with when the authenticator app is lost; stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
