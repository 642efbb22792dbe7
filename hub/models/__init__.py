"""The hub's data: families, staff, campaigns, calls and the audit trail.

The same models serve SQLite on a single Pi and PostgreSQL shared by many hubs;
the schema itself is created and changed only by the Alembic migrations in
``hub/migrations``.

Each module holds one part of the schema: ``base`` (the declarative base, UTC
timestamps, enums stored by value), ``people`` (households, pupils, guardians and
their numbers), ``staff`` (accounts, sessions, invites), ``calendar`` (the school's terms and
holidays), ``campaigns`` (queues,
entries, pupil notes), ``calls`` (hubs, call attempts, concerns, parents'
call-backs), ``speech`` (spoken messages in families' languages), ``positive``
(nominations and reflections on positive calls home) and ``audit``.
Everything is imported from here, which also makes sure every table is on
``Base.metadata`` before Alembic compares it with the database.
"""

from hub.models.audit import AuditEvent
from hub.models.base import NAMING, Base, UTCDateTime, utcnow
from hub.models.calendar import CalendarPeriod, PeriodKind
from hub.models.calls import CallAttempt, Concern, EndReason, Hub, Outcome, ParentCallBack
from hub.models.campaigns import (
    Campaign,
    CampaignEntry,
    CampaignStaff,
    EntryState,
    PupilNote,
    Purpose,
)
from hub.models.people import Guardian, Household, PhoneNumber, Pupil, PupilContact
from hub.models.positive import Nomination, Reflection
from hub.models.speech import SpokenMessage
from hub.models.staff import (
    Invite,
    LoginFailure,
    RecoveryCode,
    Role,
    StaffUser,
    WebSession,
)

__all__ = [
    "NAMING",
    "AuditEvent",
    "Base",
    "CalendarPeriod",
    "CallAttempt",
    "Campaign",
    "CampaignEntry",
    "CampaignStaff",
    "Concern",
    "EndReason",
    "EntryState",
    "Guardian",
    "Household",
    "Hub",
    "Invite",
    "LoginFailure",
    "Nomination",
    "Outcome",
    "ParentCallBack",
    "PeriodKind",
    "PhoneNumber",
    "Pupil",
    "PupilContact",
    "PupilNote",
    "Purpose",
    "RecoveryCode",
    "Reflection",
    "Role",
    "SpokenMessage",
    "StaffUser",
    "UTCDateTime",
    "WebSession",
    "utcnow",
]
