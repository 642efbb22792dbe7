"""Ending the processes the tests start: politely first, then for certain."""

from __future__ import annotations

import signal
import subprocess


def end(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15
        ) -> int | None:  # fmt: skip
    """Send ``sig`` unless it has exited, wait ``timeout`` s, then kill; its exit status."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
