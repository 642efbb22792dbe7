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

    def events(self) -> Iterator[dict[str, Any]]:
        """The current status, then every event, until the caller stops iterating."""
        sock = self._connect()
        sock.settimeout(None)
        with sock, sock.makefile("rwb") as stream:
            stream.write(b'{"cmd": "subscribe"}\n')
            stream.flush()
            for raw in stream:
                yield json.loads(raw)
