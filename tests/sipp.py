"""SIPp (Debian ``sip-tester``) for the tests: a scenario from tests/sipp/, on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
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
