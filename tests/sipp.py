"""SIPp (Debian ``sip-tester``) for the tests: a scenario from tests/sipp/, on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.kamailio import free_port

SCENARIOS = Path(__file__).parent / "sipp"


@dataclass(frozen=True)
class SippRun:
    """How a SIPp run went: its exit status (0 when every call went as scripted) and counts."""

    status: int
    successful: int
    failed: int
    output: str


def run_sipp(scenario: str, port: int, folder: Path, *, calls: int, rate: int,
             timeout: float = 60) -> SippRun:  # fmt: skip
    """Run ``calls`` of ``scenario`` at ``rate`` a second against 127.0.0.1:``port``.

    SIPp is killed, with anything it started, if it outlasts ``timeout`` seconds or the
    test is interrupted.
    """
    binary = shutil.which("sipp")
    if binary is None:
        raise RuntimeError("sipp is missing; run make test to install sip-tester")
    folder.mkdir(parents=True, exist_ok=True)
    stats = folder / f"{Path(scenario).stem}-stats.csv"
    command = [
        *(binary, "-sf", str(SCENARIOS / scenario), "-m", str(calls), "-r", str(rate)),
        *("-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM))),
        *("-mp", str(free_port(socket.SOCK_DGRAM))),  # SIPp binds a media port, used or not
        *("-recv_timeout", "5000", "-timeout", f"{int(timeout)}s", "-nostdin"),
        *("-trace_stat", "-stf", str(stats), "-fd", "1"),
        f"127.0.0.1:{port}",
    ]
    process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout + 10)
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    rows: list[dict[str, str]] = [{}]
    if stats.exists():
        with stats.open() as table:
            rows += csv.DictReader(table, delimiter=";")
    last = rows[-1]  # the statistics are cumulative: the last line has the totals
    return SippRun(
        status=process.returncode,
        successful=int(last.get("SuccessfulCall(C)") or 0),
        failed=int(last.get("FailedCall(C)") or 0),
        output=output.decode(errors="replace")[-3000:],
    )


class SippCallee:
    """SIPp as the far end of the hub's calls (a trunk or a phone), running ``scenario``.

    Start it, point the hub's ``[sip] proxy`` at ``address``, and ``finish`` it for how
    its calls went. It answers as many calls as ``calls`` and then exits.
    """

    def __init__(self, scenario: str, folder: Path, *, calls: int = 1, timeout: float = 60):
        binary = shutil.which("sipp")
        if binary is None:
            raise RuntimeError("sipp is missing; run make test to install sip-tester")
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port(socket.SOCK_DGRAM)
        self.address = f"127.0.0.1:{self.port}"
        self.messages = folder / f"{Path(scenario).stem}-messages.log"
        command = [
            *(binary, "-sf", str(SCENARIOS / scenario), "-m", str(calls)),
            *("-i", "127.0.0.1", "-p", str(self.port)),
            *("-mp", str(free_port(socket.SOCK_DGRAM))),
            *("-timeout", f"{int(timeout)}s", "-nostdin", "-trace_msg",
              "-message_file", str(self.messages)),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # fmt: skip
        self._timeout = timeout
        deadline = time.monotonic() + 10
        while _udp_port_free(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.communicate()[0].decode(errors="replace")
                raise RuntimeError(f"SIPp did not start listening:\n{output[-2000:]}")
            time.sleep(0.05)

    def received(self, method: str) -> int:
        """How many ``method`` requests SIPp has received so far."""
        if not self.messages.exists():
            return 0
        text = self.messages.read_text(errors="replace")
        return len(re.findall(rf"message received .*\n\n?{method} sip:", text))

    def finish(self, timeout: float | None = None) -> int:
        """Wait for SIPp to end; its exit status (0: every call went as scripted)."""
        try:
            self.process.communicate(timeout=timeout or self._timeout + 10)
        finally:
            self.stop()
        return self.process.returncode

    def stop(self) -> None:
        """Kill SIPp if it is still running; safe to call twice."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
