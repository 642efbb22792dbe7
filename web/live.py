"""Live call state for the desk: the line's events, pushed to each member of staff's pages.

One subscription to the line daemon's events serves every open desk of this panel
(docs/control-protocol.md): a thread reads it, works out whose call each event is
about, and hands a message to that member of staff's open desks only. Each desk is
a Server-Sent Events stream (``GET /desk/events``) that starts with the member of
staff's current call, so a page that reconnects picks up where the call is now.

feed = LiveFeed(socket_path, database, limit=56)
desk = feed.open(staff_id, fallback=lambda: ...)   # the stream's first message and its inbox
for chunk in desk.stream(): ...                    # bytes of text/event-stream
desk.close()

The feed runs only while a desk is open: the thread stops soon after the last one
closes, and the next desk starts it again.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub import calls
from hub.control_client import ControlClient
from hub.db import Database
from hub.exceptions import ControlError, PhoneHubError
from hub.models import CallAttempt, EndReason

log = logging.getLogger(__name__)

Message = dict[str, Any]

KEEPALIVE_S = 15.0  # a comment this often keeps proxies from closing a quiet stream
RETRY_MS = 1000  # how soon the browser reconnects after the stream drops
IDLE_S = 1.0  # how often the feed looks up from the line to see whether it is still wanted
LINE_RETRY_S = 1.0  # between tries to reach a line daemon that is not answering
OWNERS_KEPT = 1000  # attempts whose member of staff is remembered; a day's calls at most


PAGES_KEPT = 8  # of the panel's threads ([web] threads), never taken by a desk


def desks_allowed(threads: int) -> int:
    """How many desks may be open at once when the panel serves ``threads`` requests at once.

    Each open desk holds one of the server's threads for as long as it is open.
    """
    return max(1, threads - PAGES_KEPT)


class DesksFull(PhoneHubError):
    """Every place for a live desk is taken; the rest are kept for pages."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def from_attempt(attempt: CallAttempt) -> Message:
    """The desk's message for a call as its database row has it."""
    call = calls.shown(attempt)
    return {"attempt": call.attempt, "state": call.stage.value, "at": _iso(call.at),
            "answered_at": _iso(call.answered_at), "ended": call.ended,
            "voicemail": None, "your_phone": None, "interpreter": None,
            "outcome_needed": calls.outcome_needed(attempt.end_reason)}  # fmt: skip


class Desk:
    """One open desk page: the messages for its member of staff, as a text/event-stream."""

    def __init__(self, feed: LiveFeed, staff_id: int) -> None:
        self.feed = feed
        self.staff_id = staff_id
        self.inbox: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self.first: Message | None = None

    def stream(self) -> Iterator[bytes]:
        """The stream's bytes: how soon to reconnect, the current call, then each change."""
        opening = f"retry: {RETRY_MS}\n\n".encode()
        if self.first is not None:
            opening += _event(self.first)
        yield opening
        while True:
            try:
                message = self.inbox.get(timeout=KEEPALIVE_S)
            except queue.Empty:
                # Also how a closed page is noticed: writing to it fails.
                yield b": keepalive\n\n"
                continue
            if message is None:  # the panel is stopping
                return
            yield _event(message)

    def close(self) -> None:
        """The page has gone; safe to call twice."""
        self.feed.forget(self)


def _event(message: Message) -> bytes:
    return f"data: {json.dumps(message)}\n\n".encode()


class LiveFeed:
    """The line's events, shared out to the open desks of the members of staff they concern."""

    def __init__(self, socket_path: Path, database: Database, *, limit: int) -> None:
        self.socket_path = socket_path
        self.database = database
        self.limit = limit
        self._lock = threading.Lock()
        self._desks: dict[int, set[Desk]] = {}
        self._open = 0
        self._latest: dict[int, Message] = {}  # staff id → their latest call, as last told
        self._calls: dict[int, Message] = {}  # attempt → its message so far
        self._owners: dict[int, int | None] = {}  # attempt → staff id
        self._thread: threading.Thread | None = None
        self._closed = False

    def open(self, staff_id: int, fallback: Callable[[], Message | None]) -> Desk:
        """A desk for ``staff_id``, its first message their current call (else ``fallback()``).

        The desk is listening before the current call is read, so a change in
        between arrives after it, never lost.
        """
        desk = Desk(self, staff_id)
        with self._lock:
            if self._closed or self._open >= self.limit:
                raise DesksFull("Too many call desks are open on this hub just now.")
            self._desks.setdefault(staff_id, set()).add(desk)
            self._open += 1
            desk.first = self._latest.get(staff_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
                self._thread.start()
        if desk.first is None:
            desk.first = fallback()
        return desk

    def forget(self, desk: Desk) -> None:
        """Stop sending to ``desk``."""
        with self._lock:
            desks = self._desks.get(desk.staff_id, set())
            if desk in desks:
                desks.discard(desk)
                self._open -= 1
                if not desks:
                    del self._desks[desk.staff_id]

    def close(self) -> None:
        """End every desk's stream (the panel is stopping); safe to call twice."""
        with self._lock:
            self._closed = True
            for desks in self._desks.values():
                for desk in desks:
                    desk.inbox.put(None)
            self._desks.clear()
            self._open = 0

    def _wanted(self) -> bool:
        """Whether any desk is open; if not, the thread ends (and says so, under the lock)."""
        with self._lock:
            if self._open and not self._closed:
                return True
            self._thread = None
            self._latest.clear()  # nobody hears events now, so what is known goes stale
            self._calls.clear()
            return False

    def _run(self) -> None:
        client = ControlClient(self.socket_path, timeout=LINE_RETRY_S * 5)
        while True:
            try:
                if self._follow(client):
                    return
            except (ControlError, OSError, ValueError) as exc:
                log.warning("live call state: the line's events stopped (%s)", exc)
            time.sleep(LINE_RETRY_S)
            if not self._wanted():
                return

    def _follow(self, client: ControlClient) -> bool:
        """Pass the line's events on; True once no desk wants them (the thread is done)."""
        for event in client.events(idle_s=IDLE_S):
            if event is None:
                if not self._wanted():
                    return True
            elif "ok" in event:  # the subscription's first reply: the line as it is now
                self._resume(event["status"])
            else:
                self._hear(event)
        return False

    def _resume(self, status: dict[str, Any]) -> None:
        """Start again from the line's status; each open desk is told its current call."""
        with self._lock:
            self._latest.clear()
            self._calls.clear()
            staff = list(self._desks)
        for call in status.get("calls") or []:
            attempt = self._attempt(call["attempt"])
            if attempt is not None and attempt.ended_at is None:
                message = from_attempt(attempt)
                message["state"] = _stage(call["state"], message["state"])
                message["your_phone"] = call.get("your_phone")
                message["interpreter"] = call.get("interpreter")
                self._calls[attempt.id] = message
                self._send(attempt.staff_id, message)
        for staff_id in staff:
            if staff_id not in self._latest:
                latest = self._latest_row(staff_id)
                if latest is not None:
                    self._send(staff_id, latest)

    def _hear(self, event: dict[str, Any]) -> None:
        """One of the line's events, to the desks of the member of staff whose call it is."""
        kind = event.get("event")
        attempt_id = event.get("attempt")
        if kind not in ("call", "voicemail", "leg") or attempt_id is None:
            return
        owner = self._owner(attempt_id)
        if owner is None:
            return
        message = dict(self._calls.get(attempt_id) or {
            "attempt": attempt_id, "state": "dialling", "at": None, "answered_at": None,
            "ended": None, "voicemail": None, "your_phone": None,
            "interpreter": None, "outcome_needed": True})  # fmt: skip
        if kind == "voicemail":
            message["voicemail"] = event.get("state")
        elif kind == "leg":
            if attempt_id not in self._calls:
                return  # after the call's own end
            field = "your_phone" if event.get("leg") == "staff" else "interpreter"
            message[field] = event.get("state")
        else:
            state = _stage(event.get("state", ""), message["state"])
            message["state"], message["at"] = state, event.get("at")
            if state == "connected":
                message["answered_at"] = event.get("at")
            elif state == "ended":
                reason = event.get("end_reason")
                ending = EndReason(reason) if reason else None
                message["ended"] = calls.ending_words(ending, event.get("ended_by"))
                message["outcome_needed"] = calls.outcome_needed(ending)
        self._calls[attempt_id] = message
        if message["state"] == "ended":
            self._calls.pop(attempt_id)
        self._send(owner, message)

    def _send(self, staff_id: int, message: Message) -> None:
        with self._lock:
            self._latest[staff_id] = message
            for desk in self._desks.get(staff_id, ()):
                desk.inbox.put(message)

    def _owner(self, attempt_id: int) -> int | None:
        """Whose call an attempt is: read once, when its first event comes."""
        if attempt_id not in self._owners:
            if len(self._owners) >= OWNERS_KEPT:
                self._owners.clear()
            attempt = self._attempt(attempt_id)
            self._owners[attempt_id] = attempt.staff_id if attempt is not None else None
        return self._owners[attempt_id]

    def _attempt(self, attempt_id: int) -> CallAttempt | None:
        with self.database.sessions() as session:
            return session.get(CallAttempt, attempt_id)

    def _latest_row(self, staff_id: int) -> Message | None:
        with self.database.sessions() as session:
            attempt = session.scalar(select(CallAttempt).where(CallAttempt.staff_id == staff_id)
                                     .order_by(CallAttempt.id.desc()).limit(1))  # fmt: skip
            return from_attempt(attempt) if attempt is not None else None


def _stage(line_state: str, otherwise: str) -> str:
    """The desk's name for a state the line reports (its events say "answered")."""
    stage = calls.EVENT_STAGES.get(line_state)
    return stage.value if stage is not None else otherwise
