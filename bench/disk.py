"""Kind to the SD card: what the hub writes to its data folder in an hour of a normal day.

The line daemon and the panel run as a school runs them, on SQLite in the data
folder, with the tests' Kamailio and ``bench.sipcallee`` answering as the families.
Each is watched by ``strace -f -y``, which sees every write and fsync with the file
it went to; only files in the data folder count. The hour is built from what a
member of staff does at one hub (one handset, so one call at a time):

* **a call**: the card is open; Call; the family answers; hang up; the outcome is
  saved, and the next family's card comes up — CALLS of them, each measured;
* **a card view**: the card looked at again (a reload, a second tab, back from
  another page) — CARD_VIEWS of them;
* **an idle minute**: the line and the panel left alone for IDLE_S, for what the
  hub writes by itself (its heartbeat).

An hour is HOUR_CALLS calls, HOUR_VIEWS more card views, and 60 idle minutes (the
heartbeat runs all hour, calls or not). SQLite's shared-memory index (``-shm``) is
written through a memory map, so strace cannot see it: it is a few pages, rewritten
in place.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.calls import (
    FAMILIES,
    STAFF_EMAIL,
    WAIT_S,
    Browser,
    Callee,
    _panel,
    _seed,
)
from bench.common import Figure
from hub.db import Database, open_database
from hub.models import CallAttempt
from tests.kamailio import Kamailio
from tests.line.conftest import LineProcess, free_port

CALLS = 12
CARD_VIEWS = 36
IDLE_S = 60.0
HOUR_CALLS = 12  # five minutes each, one handset
HOUR_VIEWS = 36  # three more looks at the card per call
SYSCALL = re.compile(r"^\d+\s+(\w+)\((\d+)<([^>]*)>.*\)\s+=\s+(-?\d+)")


@dataclass
class Writes:
    """Writes and fsyncs into the data folder, by file."""

    bytes: Counter[str]
    syncs: Counter[str]

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def total_syncs(self) -> int:
        return sum(self.syncs.values())


class Tracer:
    """``strace`` on a running process and all its threads, for as long as asked."""

    def __init__(self, folder: Path, pids: list[int], data_dir: Path) -> None:
        self.folder = folder
        self.pids = pids
        self.data_dir = str(data_dir.resolve())
        self.count = 0

    @contextmanager
    def watching(self) -> Iterator[Writes]:
        """Trace while the block runs; the writes it made are in the yielded ``Writes``."""
        self.count += 1
        log = self.folder / f"strace-{self.count}.log"
        command = ["strace", "-f", "-qq", "-y", "-s", "0", "-o", str(log),
                   "-e", "trace=write,pwrite64,writev,pwritev,fsync,fdatasync",
                   *[arg for pid in self.pids for arg in ("-p", str(pid))]]  # fmt: skip
        tracer = subprocess.Popen(command, stderr=subprocess.PIPE)
        time.sleep(1.0)  # attached to every thread
        found = Writes(Counter(), Counter())
        try:
            yield found
        finally:
            time.sleep(0.5)  # the last writes of the last request
            tracer.send_signal(signal.SIGINT)
            tracer.wait(10)
        for line in log.read_text().splitlines():
            matched = SYSCALL.match(line)
            if matched is None or not matched.group(3).startswith(self.data_dir):
                continue
            call, path, result = matched.group(1), matched.group(3), int(matched.group(4))
            name = Path(path).name
            if call in ("fsync", "fdatasync"):
                found.syncs[name] += 1
            elif result > 0:
                found.bytes[name] += result


def run() -> list[Figure]:
    """An hour of a normal day at one hub, on SQLite."""
    if shutil.which("strace") is None:
        raise RuntimeError("strace is missing: sudo apt-get install strace")
    folder = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    try:
        with ExitStack() as parts:
            kamailio = parts.enter_context(Kamailio(folder / "kamailio"))
            for user in FAMILIES:
                kamailio.add_user(user, "callee-secret")
            port = free_port()
            line = LineProcess(folder / "line", kamailio,
                               dialplan={"per_staff_per_hour": 1000},
                               web={"bind": "127.0.0.1", "port": port, "https": False})  # fmt: skip
            kamailio.start()
            line.start()
            parts.callback(line.stop)
            campaign_id, numbers = _seed(line.database_url)
            parts.enter_context(_panel(line, port))
            database = parts.enter_context(open_database(line.database_url, migrate=False))
            callee = Callee(folder, kamailio, list(numbers.values()), busy=False)
            parts.callback(callee.stop)
            browser = Browser(port)
            browser.sign_in(STAFF_EMAIL)
            browser.get(f"/desk/{campaign_id}")  # the first family claimed
            tracer = Tracer(folder, [_pid(line), _panel_pid(line)], line.folder)
            return _measure(tracer, browser, callee, database, campaign_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(tracer: Tracer, browser: Browser, callee: Callee, database: Database,
             campaign_id: int) -> list[Figure]:  # fmt: skip
    card = f"/desk/{campaign_id}"
    with tracer.watching() as views:
        for _ in range(CARD_VIEWS):
            _expect(browser.get(card), 200, "the card")
    with tracer.watching() as calls:
        for _ in range(CALLS):
            _one_call(browser, callee, database, card)
    with tracer.watching() as idle:
        time.sleep(IDLE_S)
    minutes = IDLE_S / 60
    hour_bytes = (HOUR_CALLS * calls.total_bytes / CALLS
                  + HOUR_VIEWS * views.total_bytes / CARD_VIEWS
                  + 60 * idle.total_bytes / minutes)  # fmt: skip
    hour_syncs = (HOUR_CALLS * calls.total_syncs / CALLS
                  + HOUR_VIEWS * views.total_syncs / CARD_VIEWS
                  + 60 * idle.total_syncs / minutes)  # fmt: skip
    print("  by file, calls:", dict(calls.bytes), dict(calls.syncs))
    print("  by file, card views:", dict(views.bytes), dict(views.syncs))
    print("  by file, idle:", dict(idle.bytes), dict(idle.syncs))
    note = (f"{HOUR_CALLS} calls, {HOUR_VIEWS} more card views and the idle hub's own "
            "writes, on SQLite; strace, data folder only")  # fmt: skip
    return [
        Figure("disk.hour.kb", "Written to the data folder in an hour of a normal day",
               hour_bytes / 1024, "KB", note=note),
        Figure("disk.hour.fsyncs", "fsyncs in an hour of a normal day", hour_syncs, "",
               note=note),
        Figure("disk.call.kb", "Written per call (card, call, outcome)",
               calls.total_bytes / CALLS / 1024, "KB"),
        Figure("disk.call.fsyncs", "fsyncs per call", calls.total_syncs / CALLS, ""),
        Figure("disk.card_view.kb", "Written per card view",
               views.total_bytes / CARD_VIEWS / 1024, "KB"),
        Figure("disk.card_view.fsyncs", "fsyncs per card view",
               views.total_syncs / CARD_VIEWS, ""),
        Figure("disk.idle_minute.kb", "Written per idle minute",
               idle.total_bytes / minutes / 1024, "KB"),
        Figure("disk.idle_minute.fsyncs", "fsyncs per idle minute",
               idle.total_syncs / minutes, ""),
    ]  # fmt: skip


def _one_call(browser: Browser, callee: Callee, database: Database, card: str) -> None:
    """Call the family on the card, hang up once answered, save the outcome, next card."""
    status, page = browser.get(card)
    entry = re.search(r'data-entry="(\d+)"', page)
    number = re.search(r'data-number="(\d+)"', page)
    if status != 200 or entry is None or number is None:
        raise RuntimeError(f"the desk showed no family to call ({status})")
    body = json.dumps({"entry": int(entry.group(1)), "number": int(number.group(1))})
    headers = {"Content-Type": "application/json", "X-CSRFToken": browser.csrf}
    browser.send("POST", "/desk/call", body.encode(), headers)
    status, reply = browser.receive()
    if status != 200:
        raise RuntimeError(f"the call was not placed: {status} {reply}")
    attempt = json.loads(reply)["attempt"]
    callee.next("ack")
    _until(lambda: _row(database, attempt).answered_at is not None, "the answer written")
    browser.send("POST", "/desk/hangup", b"", {"X-CSRFToken": browser.csrf})
    browser.receive()
    _until(lambda: _row(database, attempt).ended_at is not None, "the end written")
    saved = browser.post_form("/desk/outcome", {"attempt": str(attempt),
                                                "outcome": "spoke_to_parent"})  # fmt: skip
    _expect(saved, 302, "saving the outcome")


def _row(database: Database, attempt: int) -> CallAttempt:
    with database.session() as session:
        return session.get(CallAttempt, attempt)


def _expect(answer: tuple[int, str], status: int, what: str) -> None:
    if answer[0] != status:
        raise RuntimeError(f"{what} answered {answer[0]}")


def _pid(line: LineProcess) -> int:
    assert line.process is not None
    return line.process.pid


def _panel_pid(line: LineProcess) -> int:
    """The panel's process: ``phonehub web`` on this line's config."""
    found = subprocess.run(["pgrep", "-f", f"{line.config_path} web"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    return int(found[0])


def _until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)
