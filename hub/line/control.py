"""The control socket: a Unix socket speaking JSON lines (docs/control-protocol.md).

Each connection is served on a thread of its own and goes through LineService,
which hands the SIP work to the SIP thread; nothing here touches pjsua2. Threads
are kept for the next connection rather than started for each one: starting one
costs a request up to a millisecond or two on a busy Pi, and a dial waits for it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

from hub.exceptions import DialRefused, LineError, PhoneHubError
from hub.line.events import EventBus
from hub.line.service import LineService

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024


class _Handler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        while True:
            try:
                raw = self.rfile.readline(MAX_LINE)
            except OSError:
                return
            if not raw:
                return
            try:
                request = json.loads(raw)
                if not isinstance(request, dict):
                    raise ValueError
            except ValueError:
                self._send({"ok": False, "error": "Each request must be one JSON object."})
                continue
            if request.get("cmd") == "subscribe":
                self._stream_events()
                return
            self._send(self.server.answer(request))

    def _send(self, message: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(message).encode() + b"\n")
        self.wfile.flush()

    def _stream_events(self) -> None:
        with self.server.events.subscribe() as inbox:
            self._send({"ok": True, "status": self.server.service.status()})
            while not self.server.stopping.is_set():
                try:
                    event = inbox.get(timeout=0.5)
                except Exception:
                    continue
                try:
                    self._send(event)
                except OSError:
                    return


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves the control socket until ``close``."""

    daemon_threads = True

    def __init__(self, path: Path, service: LineService, events: EventBus) -> None:
        self.path = path
        self.service = service
        self.events = events
        self.stopping = threading.Event()
        # Connections for the handler threads; None tells one to finish.
        self._connections: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._workers_lock = threading.Lock()
        self._idle = 0  # handler threads waiting for a connection, none of them promised
        self._workers = 0
        _claim(path)
        old_umask = os.umask(0o117)  # the socket is born 0660: the hub's user and group
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old_umask)
        self.thread = threading.Thread(target=self.serve_forever, name="control", daemon=True)

    def start(self) -> None:
        """Serve on a background thread."""
        self.thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a waiting handler thread, starting one if none waits."""
        with self._workers_lock:
            waiting = self._idle > 0
            if waiting:
                self._idle -= 1  # promised to this connection
            else:
                self._workers += 1
        if not waiting:
            threading.Thread(target=self._work, name="control-handler", daemon=True).start()
        self._connections.put((request, client_address))

    def _work(self) -> None:
        while (connection := self._connections.get()) is not None:
            self.process_request_thread(*connection)
            with self._workers_lock:
                self._idle += 1

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request."""
        command = request.get("cmd")
        try:
            if command == "status":
                return {"ok": True, "status": self.service.status()}
            if command == "dial":
                return {"ok": True, **self.service.dial(int(request["attempt"]))}
            if command == "test_call":
                return {
                    "ok": True,
                    **self.service.test_call(str(request["number"]), str(request["as"])),
                }
            if command == "practice_call":
                return {"ok": True, **self.service.practice_call(str(request["as"]))}
            if command == "fault":
                return {"ok": True, **self.service.report_fault(str(request["message"]))}
            if command == "hangup":
                return {"ok": True, **self.service.hangup()}
            if command == "voicemail":
                return {"ok": True, **self.service.voicemail()}
            if command == "mute":
                return {"ok": True, **self.service.mute(_flag(request["on"]))}
        except DialRefused as exc:
            return {"ok": False, "error": str(exc), "reason": exc.reason}
        except (LineError, PhoneHubError) as exc:
            return {"ok": False, "error": str(exc)}
        except (KeyError, TypeError, ValueError):
            return {"ok": False, "error": f"The {command} request is missing a field."}
        return {"ok": False, "error": f"Unknown command {command!r}."}

    def close(self) -> None:
        """Stop serving and remove the socket file; safe to call twice."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self.thread.is_alive():
            self.shutdown()
        self.server_close()
        self.path.unlink(missing_ok=True)
        with self._workers_lock:
            workers = self._workers
        for _ in range(workers):
            self._connections.put(None)


def _claim(path: Path) -> None:
    """Make way for the socket, unless another line daemon is answering on it."""
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left behind by a daemon that died
            return
    raise LineError(f"Another line daemon is already running on {path}.")


def _flag(value: object) -> bool:
    """A request's true or false; anything else is a missing field."""
    if not isinstance(value, bool):
        raise TypeError(value)
    return value
