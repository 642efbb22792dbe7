"""Talking to the line daemon over its control socket; used by the panel and the CLI.

client = ControlClient(config.line.control_socket)
client.request("dial", attempt=42)
for event in client.events():
    ...
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.exceptions import ControlError, DialRefused

MAX_READ = 64 * 1024


class ControlClient:
    """One request per connection, or one long-lived event subscription."""

    def __init__(self, path: Path | str, timeout: float = 15.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except FileNotFoundError:
            sock.close()
            raise ControlError(
                f"The line daemon is not running (no socket at {self.path}); "
                "start it with: systemctl start phonehub-line"
            ) from None
        except OSError as exc:
            sock.close()
            raise ControlError(
                f"Cannot reach the line daemon at {self.path}: {exc.strerror}."
            ) from exc
        return sock

    def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send one request; the reply's fields, or ControlError/DialRefused with its sentence."""
        with self._connect() as sock, sock.makefile("rwb") as stream:
            stream.write(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
            stream.flush()
            raw = stream.readline()
        if not raw:
            raise ControlError("The line daemon closed the connection without answering.")
        reply = json.loads(raw)
        if not reply.get("ok"):
            if "reason" in reply:
                raise DialRefused(reply["error"], reason=reply["reason"])
            raise ControlError(reply.get("error", "The line daemon refused the request."))
        reply.pop("ok")
        return reply

    def events(self, idle_s: float | None = None) -> Iterator[dict[str, Any] | None]:
        """The current status, then every event, until the caller stops iterating.

        With ``idle_s``, None comes whenever nothing has arrived for that long, so a
        caller that must notice it is no longer wanted (the panel's live feed) can stop.
        """
        sock = self._connect()
        sock.settimeout(idle_s)
        with sock:
            sock.sendall(b'{"cmd": "subscribe"}\n')
            pending = b""
            while True:
                try:
                    chunk = sock.recv(MAX_READ)
                except TimeoutError:
                    yield None
                    continue
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    yield json.loads(raw)
