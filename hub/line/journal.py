"""Call events the database could not take yet, kept on the hub's own disk until it can.

When PostgreSQL is restarting, the network to it is down, or SQLite stays locked
past its timeout, the line's call events (ringing, answered, ended) go to a small
append-only file under the data folder, each line fsync'd before the next, so a
power cut loses none of them. Once the database answers again they are written in
the order they happened, and each exactly once: replaying an event moves this hub's
mark (``hubs.journal_applied``, "<batch>:<n>") in the same transaction, and an
event at or before the mark is skipped, so a hub stopped between the commit and
clearing the file never writes one twice. Events hold an attempt's id, its state,
times and SIP status: never a number or a name.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session

from hub import calls
from hub.db import Database
from hub.models import Hub

log = logging.getLogger(__name__)

JOURNAL_NAME = "call-events.jsonl"


def database_away(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` means the database could not be reached or written just now.

    Anything else (an event the schema cannot take) would fail the same way for
    ever, so it must not hold back the events behind it.
    """
    if isinstance(exc, DisconnectionError):
        return True
    if isinstance(exc, DBAPIError):
        # OperationalError: refused, reset, shutting down, locked; InterfaceError: closed.
        return exc.connection_invalidated or type(exc).__name__ in (
            "OperationalError",
            "InterfaceError",
        )
    return False


@dataclass(frozen=True)
class Entry:
    """One journalled event and its place: the ``n``-th of ``batch``."""

    batch: str
    n: int
    event: dict[str, Any]

    @property
    def mark(self) -> str:
        return f"{self.batch}:{self.n}"


class Journal:
    """An append-only, fsync'd file of call events waiting for the database."""

    def __init__(self, data_dir: str | Path) -> None:
        self.folder = Path(data_dir) / "journal"
        self.path = self.folder / JOURNAL_NAME
        self._entries = self._read()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[Entry]:
        """The events waiting, oldest first."""
        return list(self._entries)

    def append(self, event: dict[str, Any]) -> None:
        """Keep ``event``, on disk, before returning."""
        if self._entries:
            entry = Entry(self._entries[0].batch, self._entries[-1].n + 1, event)
        else:
            # A new batch: a mark left in the database by an earlier one never skips it.
            entry = Entry(secrets.token_hex(8), 1, event)
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps({"batch": entry.batch, "n": entry.n, "event": event}) + "\n"
        created = not self.path.exists()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if created:
            _fsync_folder(self.folder)
        self._entries.append(entry)

    def clear(self) -> None:
        """Every event is in the database: remove the file."""
        self.path.unlink(missing_ok=True)
        if self.folder.exists():
            _fsync_folder(self.folder)
        self._entries = []

    def _read(self) -> list[Entry]:
        if not self.path.exists():
            return []
        entries = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                saved = json.loads(line)
                entries.append(Entry(saved["batch"], int(saved["n"]), saved["event"]))
            except (ValueError, KeyError, TypeError):
                # Only a write cut short by a power cut ends a line early: the last one.
                log.error("journal line %d is incomplete and was skipped", number)
        return entries

    def replay(self, database: Database, hub_id: int) -> int:
        """Write what is waiting, in order; how many were written.

        Stops at the first event the database cannot take because it is away (the
        rest wait for the next try); raises that error.
        """
        written = 0
        for entry in self.entries:
            try:
                with database.session() as session:
                    if _apply(session, entry, hub_id):
                        written += 1
            except SQLAlchemyError as exc:
                if database_away(exc):
                    self._entries = self._entries[self._entries.index(entry) :]
                    raise
                log.error("call event for attempt %s could not be written and was "
                          "dropped: %s", entry.event.get("attempt"),
                          str(exc).splitlines()[0])  # fmt: skip
        self.clear()
        return written


def _apply(session: Session, entry: Entry, hub_id: int) -> bool:
    """Write ``entry`` and move the mark, unless the mark says it is written already."""
    hub = session.get(Hub, hub_id, with_for_update=True)
    if hub is None:
        return False
    batch, _, done = hub.journal_applied.partition(":")
    if batch == entry.batch and int(done or 0) >= entry.n:
        return False
    calls.apply_event(session, entry.event, hub_id=hub_id)
    hub.journal_applied = entry.mark
    return True


def _fsync_folder(folder: Path) -> None:
    """Make a file's creation or removal in ``folder`` survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
