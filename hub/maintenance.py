"""``phonehub maintenance``, run nightly: retention purge, backup, integrity check.

Retention: the phone numbers of households in no open campaign are deleted once
nobody has needed them for ``[retention] number_days`` (they come back with the
next MIS import if the family is still on roll); recordings, the practice line's
included, older than ``recording_days`` are deleted; so are MIS uploads never
confirmed (they hold every family's numbers), web sessions that have ended or gone
idle, and failed sign-ins once they can no longer lock anyone out. On SQLite the
deletion is real: secure_delete overwrites the freed pages and the write-ahead log
is checkpointed and truncated, so the digits are in neither file afterwards.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from hub import audit, calls
from hub.config import Config
from hub.db import Database, scrub_wal
from hub.exceptions import DatabaseError
from hub.models import (
    Campaign,
    CampaignEntry,
    Guardian,
    Household,
    LoginFailure,
    PhoneNumber,
    WebSession,
)
from hub.queues import ABANDONED_CLAIM, FINISHED, release_stale_claims

BACKUPS_KEPT = 7
# An MIS upload waiting for the admin to confirm it holds every family's numbers.
UPLOAD_KEPT = timedelta(hours=1)
# What the line said for one call (a code, "Connecting you to the Nowak family"):
# the line deletes it at its next call after half an hour; this, on a quiet night.
SAID_KEPT = timedelta(minutes=30)
# Long enough for IT to look into a weekend's failed sign-ins; the lockout needs minutes.
LOGIN_FAILURES_KEPT = timedelta(days=7)


@dataclass
class Report:
    """What one maintenance run did, as lines for the journal."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Note one thing done."""
        self.lines.append(line)


def purge_numbers(database: Database, *, days: int, now: datetime) -> int:
    """Delete the numbers of households no open campaign has needed for ``days``."""
    cutoff = now - timedelta(days=days)
    open_entry = (
        select(CampaignEntry.id)
        .join(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .where(
            CampaignEntry.household_id == Household.id,
            Campaign.closed_at.is_(None),
            # The standing nominations campaign never closes: there, only a family whose
            # call is still to be made needs its numbers.
            Campaign.for_nominations.is_(False) | CampaignEntry.state.not_in(FINISHED),
        )
    )
    last_entry = (
        select(func.max(CampaignEntry.updated_at))
        .where(CampaignEntry.household_id == Household.id)
        .scalar_subquery()
    )
    stale = select(Household.id).where(
        ~exists(open_entry),
        func.coalesce(last_entry, Household.created_at) < cutoff,
    )
    with database.session() as session:
        numbers = (
            select(PhoneNumber.id)
            .join(Guardian)
            .where(Guardian.household_id.in_(stale), PhoneNumber.created_at < cutoff)
        )
        ids = list(session.scalars(numbers))
        if ids:
            session.execute(delete(PhoneNumber).where(PhoneNumber.id.in_(ids)))
            audit.record(session, "numbers.purged", actor="maintenance",
                         detail={"numbers": len(ids), "older_than_days": days})  # fmt: skip
    return len(ids)


def purge_recordings(database: Database, folder: Path, *, days: int, now: datetime) -> int:
    """Delete recordings older than ``days`` and forget their paths."""
    if not folder.exists():
        return 0
    cutoff = (now - timedelta(days=days)).timestamp()
    removed = [path for path in folder.glob("*.wav") if path.stat().st_mtime < cutoff]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        with database.session() as session:
            calls.forget_recordings(session, removed)
            audit.record(session, "recordings.purged", actor="maintenance",
                         detail={"recordings": len(removed), "older_than_days": days})  # fmt: skip
    return len(removed)


def purge_files(folder: Path, pattern: str, *, older_than: timedelta, now: datetime) -> int:
    """Delete the files in ``folder`` matching ``pattern`` last written before the cutoff."""
    if not folder.exists():
        return 0
    cutoff = (now - older_than).timestamp()
    removed = [path for path in folder.glob(pattern) if path.stat().st_mtime < cutoff]
    for path in removed:
        path.unlink(missing_ok=True)
    return len(removed)


def purge_sessions(database: Database, *, idle: timedelta, now: datetime) -> int:
    """Delete web sessions that were signed out, or idle longer than ``idle`` (so over)."""
    with database.session() as session:
        result = session.execute(
            delete(WebSession).where(
                or_(WebSession.ended_at.is_not(None), WebSession.last_seen_at < now - idle)
            )
        )
        return result.rowcount or 0


def purge_login_failures(database: Database, *, older_than: timedelta, now: datetime) -> int:
    """Delete failed sign-ins (an email typed and an IP address) older than ``older_than``."""
    with database.session() as session:
        result = session.execute(delete(LoginFailure).where(LoginFailure.at < now - older_than))
        return result.rowcount or 0


def _sqlite_path(database: Database) -> Path | None:
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def backup(database: Database, folder: Path, *, now: datetime, keep: int = BACKUPS_KEPT) -> Path:
    """An online copy through SQLite's backup API, keeping the newest ``keep``."""
    source = _sqlite_path(database)
    if source is None:
        raise DatabaseError(
            "Backups of a PostgreSQL database are made with pg_dump on the database server."
        )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"phonehub-{now:%Y%m%d-%H%M%S}.db"
    old_umask = os.umask(0o077)  # a backup holds families' numbers
    try:
        with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
    finally:
        os.umask(old_umask)
    for old in sorted(folder.glob("phonehub-*.db"))[:-keep]:
        old.unlink()
    return target


def integrity_check(database: Database) -> list[str]:
    """SQLite's own check of every page and index; an empty list means healthy."""
    if _sqlite_path(database) is None:
        return []
    try:
        with database.engine.connect() as connection:
            rows = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    except SQLAlchemyError as exc:  # damage bad enough that SQLite won't even check
        return [str(getattr(exc, "orig", exc))]
    return [] if rows == ["ok"] else rows


def run_maintenance(config: Config, database: Database, *, now: datetime) -> Report:
    """The nightly job; raises DatabaseError if the database is damaged."""
    report = Report()
    data = Path(config.hub.data_dir)
    problems = integrity_check(database)
    if problems:
        raise DatabaseError(
            f"The database failed its integrity check ({problems[0]}); restore the newest "
            f"backup from {data / 'backups'} (docs/troubleshooting.md)."
        )
    report.add("integrity check: ok")
    numbers = purge_numbers(database, days=config.retention.number_days, now=now)
    report.add(f"numbers purged: {numbers}")
    recordings = purge_recordings(database, data / "recordings",
                                  days=config.retention.recording_days, now=now)  # fmt: skip
    report.add(f"recordings purged: {recordings}")
    days = timedelta(days=config.retention.recording_days)
    practice = purge_files(data / "practice", "*.wav", older_than=days, now=now)
    report.add(f"practice-line recordings purged: {practice}")
    said = purge_files(data / "said", "*.wav", older_than=SAID_KEPT, now=now)
    report.add(f"spoken codes and whispers deleted: {said}")
    uploads = purge_files(data / "uploads", "*.csv", older_than=UPLOAD_KEPT, now=now)
    report.add(f"unconfirmed MIS uploads deleted: {uploads}")
    idle = timedelta(minutes=config.web.session_idle_minutes)
    report.add(f"web sessions ended: {purge_sessions(database, idle=idle, now=now)}")
    failures = purge_login_failures(database, older_than=LOGIN_FAILURES_KEPT, now=now)
    report.add(f"failed sign-ins forgotten: {failures}")
    with database.session() as session:
        released = release_stale_claims(session, older_than=ABANDONED_CLAIM, now=now,
                                        zone=config.dialplan.zone,
                                        nation=config.dialplan.nation)  # fmt: skip
    report.add(f"abandoned claims given back to their queues: {released}")
    scrub_wal(database.engine)
    if _sqlite_path(database) is not None:
        report.add(f"backup: {backup(database, data / 'backups', now=now)}")
    return report
