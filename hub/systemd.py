"""Talking to systemd: readiness and the watchdog (sd_notify), without libsystemd.

Outside systemd (no NOTIFY_SOCKET) every call does nothing, so the daemon runs
the same way from a terminal.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time


class Notifier:
    """Sends sd_notify messages, and WATCHDOG=1 at half the unit's WatchdogSec."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading "@".
        self.address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = int(env.get("WATCHDOG_USEC", "0") or 0)
        watchdog_pid = env.get("WATCHDOG_PID")
        if watchdog_pid and int(watchdog_pid) != os.getpid():
            watchdog_usec = 0
        self.interval = watchdog_usec / 2_000_000 if watchdog_usec else 0.0
        self._last_ping = 0.0

    def notify(self, message: str) -> None:
        """Send one message ("READY=1", "STOPPING=1", "STATUS=…")."""
        if not self.address:
            return
        # If systemd went away there is nothing useful to do about it.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
            sock.sendto(message.encode(), self.address)

    def ping(self) -> None:
        """Feed the watchdog if it is due; cheap to call on every loop turn."""
        if not self.interval:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.interval:
            self._last_ping = now
            self.notify("WATCHDOG=1")
