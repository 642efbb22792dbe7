"""The control socket: a Unix socket speaking JSON lines (docs/control-protocol.md).

Each connection is served on a thread of a pool and goes through the service
(LineService, or SafeModeService in safe mode), which hands the SIP work to the SIP
thread; nothing here touches pjsua2. Threads are kept for the next connection
rather than started for each one: starting one costs a request up to a millisecond
or two on a busy Pi, and a dial waits for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from hub.exceptions import DialRefused, LineError, PhoneHubError
from hub.line.events import EventBus

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
# Each event subscription holds a thread for as long as it lasts (one per panel, one per
# phonehub test-call); requests hold one for a moment. Far more than a hub ever has open.
MAX_HANDLERS = 32


class Service(Protocol):
    """What the control socket asks of the line: each request's reply, or a PhoneHubError."""

    def status(self) -> dict[str, Any]: ...
    def dial(self, attempt_id: int, via: str = "handset") -> dict[str, Any]: ...
    def test_call(self, number_text: str, as_email: str) -> dict[str, Any]: ...
    def practice_call(self, as_email: str, via: str = "handset") -> dict[str, Any]: ...
    def report_fault(self, message: str) -> dict[str, Any]: ...
    def hangup(self, attempt: int | None = None) -> dict[str, Any]: ...
    def voicemail(self, attempt: int | None = None) -> dict[str, Any]: ...
    def mute(self, on: bool, attempt: int | None = None) -> dict[str, Any]: ...
    def keys(self, keys: str, attempt: int | None = None, to: str = "family"
             ) -> dict[str, Any]: ...  # fmt: skip
    def interpreter(self, on: bool, attempt: int | None = None) -> dict[str, Any]: ...
    def own_phone_code(self, as_email: str) -> dict[str, Any]: ...


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


class ControlServer(socketserver.UnixStreamServer):
    """Serves the control socket until ``close``."""

    def __init__(self, path: Path, service: Service, events: EventBus) -> None:
        self.path = path
        self.service = service
        self.events = events
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(MAX_HANDLERS, thread_name_prefix="control-handler")
        # Connections being served, so close() can end those a client left open.
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        _claim(path)
        old_umask = os.umask(0o117)  # the socket is born 0660: the hub's user and group
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old_umask)
        # How soon close() is seen: socketserver looks every poll_interval (0.5 s by default).
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="control", daemon=True)  # fmt: skip

    def start(self) -> None:
        """Serve on a background thread."""
        self.thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to the pool, which reuses an idle thread if it has one."""
        with self._open_lock:
            self._open.add(request)
        try:
            self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # the pool has shut down: we are closing
            self._done(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._done(request)

    def _done(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        self.shutdown_request(request)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request."""
        command = request.get("cmd")
        try:
            if command == "status":
                return {"ok": True, "status": self.service.status()}
            if command == "dial":
                via = str(request.get("via", "handset"))
                return {"ok": True, **self.service.dial(int(request["attempt"]), via)}
            if command == "test_call":
                return {
                    "ok": True,
                    **self.service.test_call(str(request["number"]), str(request["as"])),
                }
            if command == "own_phone_code":
                return {"ok": True, **self.service.own_phone_code(str(request["as"]))}
            if command == "practice_call":
                via = str(request.get("via", "handset"))
                return {"ok": True, **self.service.practice_call(str(request["as"]), via)}
            if command == "fault":
                return {"ok": True, **self.service.report_fault(str(request["message"]))}
            if command in ("hangup", "voicemail", "mute", "keys", "interpreter"):
                return {"ok": True, **self._about_a_call(command, request)}
        except DialRefused as exc:
            return {"ok": False, "error": str(exc), "reason": exc.reason}
        except (LineError, PhoneHubError) as exc:
            return {"ok": False, "error": str(exc)}
        except (KeyError, TypeError, ValueError):
            return {"ok": False, "error": f"The {command} request is missing a field."}
        return {"ok": False, "error": f"Unknown command {command!r}."}

    def _about_a_call(self, command: str, request: dict[str, Any]) -> dict[str, Any]:
        """A request about one call: its attempt, or (none given) the handset's call."""
        raw = request.get("attempt")
        attempt = None if raw is None else int(raw)
        if command == "hangup":
            return self.service.hangup(attempt)
        if command == "voicemail":
            return self.service.voicemail(attempt)
        if command == "mute":
            return self.service.mute(_flag(request["on"]), attempt)
        if command == "interpreter":
            return self.service.interpreter(_flag(request["on"]), attempt)
        return self.service.keys(str(request["keys"]), attempt, str(request.get("to", "family")))

    def close(self) -> None:
        """Stop serving and remove the socket file; safe to call twice."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self.thread.is_alive():
            self.shutdown()
        self.server_close()
        self.path.unlink(missing_ok=True)
        # A client that keeps its connection open would hold its thread, and the pool's
        # threads are joined at exit: end each connection so its handler returns.
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._pool.shutdown(wait=False, cancel_futures=True)


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
