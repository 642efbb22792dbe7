"""Writing the line's events to the database, on a thread of its own.

The SIP thread must never wait for the database (SQLite may be busy for seconds
while the panel writes), so call states reach ``call_attempts`` through this
writer, which follows the event bus. It also keeps this hub's row current (its
registration and a heartbeat) and reports whether the database is failing, which
lights the fault LED.
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
from hub.models import Hub, utcnow
from hub.private_files import private_file

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
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
    ) -> None:
        super().__init__(name="attempt-writer", daemon=True)
        self.database = database
        self.events = events
        self.hub_id = hub_id
        self.on_fault = on_fault
        self.stopping = threading.Event()
        self.subscribed = threading.Event()
        self._faulty = False

    def run(self) -> None:
        """Write events until ``stop``; then write whatever is still queued."""
        with self.events.subscribe() as inbox:
            self.subscribed.set()
            next_beat = 0.0
            while True:
                try:
                    event = inbox.get(timeout=0.5)
                except queue.Empty:
                    if self.stopping.is_set():
                        break
                    event = None
                if event is not None:
                    self._write(event)
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_S
                    self._heartbeat(None)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the queued writes and stop."""
        self.stopping.set()
        self.join(timeout)
        if self.is_alive():
            # A write is stuck on the database; its call is closed as interrupted at next start.
            log.error("the call-state writer did not finish in %.0f s; stopping anyway", timeout)

    def _write(self, event: Event) -> None:
        if event["event"] == "registration":
            self._heartbeat(event["state"])
        elif event["event"] == "call" and event.get("attempt") is not None:
            self._guarded(lambda: self._write_call(event))

    def _write_call(self, event: Event) -> None:
        with self.database.session() as session:
            calls.apply_event(session, event, hub_id=self.hub_id)

    def _heartbeat(self, registration: str | None) -> None:
        def beat() -> None:
            with self.database.session() as session:
                hub = session.get(Hub, self.hub_id)
                if hub is not None:
                    hub.last_seen_at = utcnow()
                    if registration is not None:
                        hub.registration = registration

        self._guarded(beat)

    def _guarded(self, write: Callable[[], None]) -> None:
        try:
            write()
        except SQLAlchemyError as exc:
            log.error("database write failed: %s", str(exc).splitlines()[0])
            if not self._faulty:
                self._faulty = True
                self.on_fault(True)
            return
        if self._faulty:
            self._faulty = False
            self.on_fault(False)
