"""Writing the line's events to the database, on a thread of its own.

The SIP thread must never wait for the database (SQLite may be busy for seconds
while the panel writes), so call states reach ``call_attempts`` through this
writer, which follows the event bus. It also keeps this hub's row current (its
registration and a heartbeat) and reports whether the database is failing, which
lights the fault LED. A call event the database cannot take goes to the hub's
local journal (hub.line.journal) and is written from there when it is back.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub import __version__, calls
from hub.db import Database
from hub.exceptions import LineError
from hub.line.events import Event, EventBus
from hub.line.journal import Journal, database_away
from hub.models import Hub, utcnow
from hub.private_files import private_file

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # hubs sharing PostgreSQL say they are alive this often…
SQLITE_HEARTBEAT_S = 60.0  # …and one on SQLite, less often: each is a write to its SD card
REPLAY_S = 2.0  # how often the journal is tried while the database is away
WAKE = "wake"  # not an event: stop() waking the writer
# A name whose hub has sent no heartbeat for this long may be taken over (a Pi replaced).
NAME_HELD_FOR = timedelta(seconds=4 * HEARTBEAT_S)


def machine_id(data_dir: str | Path) -> str:
    """This machine's identity among hubs: a random token made once in data_dir."""
    token = private_file(Path(data_dir) / "hub-id", f"{secrets.token_hex(16)}\n".encode())
    return token.decode().strip()


def register_hub(database: Database, name: str, machine: str = "") -> int:
    """This hub's row (created if new); returns its id.

    Refuses a name another machine is using right now: two hubs under one name
    would close each other's calls as interrupted whenever one restarted.
    """
    with database.session() as session:
        hub = session.scalar(select(Hub).where(Hub.name == name).with_for_update())
        if hub is None:
            hub = Hub(name=name)
            session.add(hub)
        elif (
            machine
            and hub.machine
            and hub.machine != machine
            and hub.last_seen_at is not None
            and hub.last_seen_at > utcnow() - NAME_HELD_FOR
        ):
            raise LineError(
                f"Another hub is already using the name {name!r} in this database; give "
                "this hub its own [hub] name in /etc/phonehub/phonehub.toml (docs/many-hubs.md)."
            )
        if machine:
            hub.machine = machine
        hub.version = __version__
        hub.last_seen_at = utcnow()
        session.flush()
        return hub.id


def recover_interrupted(database: Database, hub_id: int) -> int:
    """Close calls this hub left open when it stopped without warning (power cut, kill)."""
    with database.session() as session:
        return calls.recover_interrupted(session, hub_id)


class AttemptWriter(threading.Thread):
    """Follows the event bus and writes each call state to its attempt's row."""

    def __init__(
        self,
        database: Database,
        events: EventBus,
        hub_id: int,
        on_fault: Callable[[bool], None],
        journal: Journal,
    ) -> None:
        super().__init__(name="attempt-writer", daemon=True)
        self.database = database
        self.events = events
        self.hub_id = hub_id
        self.on_fault = on_fault
        self.journal = journal
        self.stopping = threading.Event()
        self.subscribed = threading.Event()
        self._faulty = False
        self._failure: str | None = None  # the database's last error, until a write works
        self._registration: str | None = None
        self._inbox: queue.Queue[Event] | None = None
        # The panel's "not running" waits 2 minutes (web/hub_status.py STALE) either way.
        sqlite = database.engine.dialect.name == "sqlite"
        self.heartbeat_s = SQLITE_HEARTBEAT_S if sqlite else HEARTBEAT_S

    def run(self) -> None:
        """Write events until ``stop``; then write whatever is still queued."""
        with self.events.subscribe() as inbox:
            self._inbox = inbox
            self.subscribed.set()
            next_beat = next_replay = 0.0
            while True:
                try:
                    event: Event | None = inbox.get(timeout=0.5)
                except queue.Empty:
                    event = None
                if event is None or event["event"] == WAKE:
                    if self.stopping.is_set():
                        break  # everything queued before stop() is written
                    event = None
                if event is not None:
                    self._write(event)
                now = time.monotonic()
                if len(self.journal) and now >= next_replay:
                    next_replay = now + REPLAY_S
                    self._replay()
                if now >= next_beat:
                    next_beat = now + self.heartbeat_s
                    self._heartbeat()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the queued writes and stop."""
        self.stopping.set()
        if self._inbox is not None:
            self._inbox.put({"event": WAKE})  # now, not in half a second
        self.join(timeout)
        if self.is_alive():
            # A write is stuck on the database; its call is closed as interrupted at next start.
            log.error("the call-state writer did not finish in %.0f s; stopping anyway", timeout)

    def problem(self) -> str | None:
        """Why the database is not being written, in one sentence, or None (any thread)."""
        waiting = len(self.journal)
        if self._failure is None and not waiting:
            return None
        words = "the database cannot be written" + (f" ({self._failure})" if self._failure else "")
        if waiting:
            words += (f"; {waiting} call event{'s' if waiting != 1 else ''} kept on this hub, "
                      "to be written when it is back")  # fmt: skip
        return words

    def _write(self, event: Event) -> None:
        if event["event"] == "registration":
            self._registration = event["state"]
            self._heartbeat()
        elif event["event"] == "call" and event.get("attempt") is not None:
            self._write_call(event)

    def _write_call(self, event: Event) -> None:
        if not len(self.journal):
            try:
                with self.database.session() as session:
                    calls.apply_event(session, event, hub_id=self.hub_id)
            except SQLAlchemyError as exc:
                self._failed(exc)
                if not database_away(exc):
                    return  # it would fail the same way for ever
            else:
                self._worked()
                return
        # Behind any already waiting, so they are written in the order they happened.
        self.journal.append(event)
        log.warning("call event for attempt %s kept in the journal until the database is "
                    "back (%d waiting)", event["attempt"], len(self.journal))  # fmt: skip
        self._show_fault()

    def _replay(self) -> None:
        try:
            written = self.journal.replay(self.database, self.hub_id)
        except SQLAlchemyError as exc:
            self._failed(exc)
            return
        log.info("the database is back: %d call event(s) written from the journal", written)
        self._worked()

    def _heartbeat(self) -> None:
        try:
            with self.database.session() as session:
                hub = session.get(Hub, self.hub_id)
                if hub is not None:
                    hub.last_seen_at = utcnow()
                    if self._registration is not None:
                        hub.registration = self._registration
        except SQLAlchemyError as exc:
            self._failed(exc)
        else:
            self._worked()

    def _failed(self, exc: SQLAlchemyError) -> None:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self._failure is None:
            log.error("database write failed: %s", reason)
        self._failure = reason[:200]
        self._show_fault()

    def _worked(self) -> None:
        self._failure = None
        self._show_fault()

    def _show_fault(self) -> None:
        """The red LED while the database fails or events wait in the journal."""
        faulty = self._failure is not None or bool(len(self.journal))
        if faulty != self._faulty:
            self._faulty = faulty
            self.on_fault(faulty)
