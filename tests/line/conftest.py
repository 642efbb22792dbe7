"""Real parts for the line's tests: Kamailio, the practice line and the line daemon.

Every process runs on 127.0.0.1 with ports of its own, and is stopped when its
test ends. The daemon and the tests share one SQLite file, as the panel would.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.control_client import ControlClient
from hub.db import Database, open_database
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EntryState,
    Guardian,
    Household,
    PhoneNumber,
    Purpose,
    Role,
    StaffUser,
)
from hub.users import hash_password
from tests.kamailio import Kamailio
from tests.kamailio import free_port as _free_port
from tests.processes import end
from tests.sipp import SippCallee

SCHOOL = "Northfield School"
SCHOOL_NUMBER = "01632 960000"
FAMILY_NUMBER = "07700900123"
HUB_USER, HUB_PASSWORD = "hub-office", "hub-secret-1"
PRACTICE_PASSWORD = "practice-secret"
STAFF_NAME, STAFF_EMAIL = "Imogen Staffwright", "imogen.staffwright@school.example"
PHONEHUB = [sys.executable, "-m", "cli"]


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP."""
    return _free_port(socket.SOCK_DGRAM, socket.SOCK_STREAM)


def wait_until(predicate: Callable[[], Any], timeout: float = 10, what: str = "") -> Any:
    """Poll until ``predicate`` is truthy; its value, or AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.05)


def next_keepalive(kamailio: Kamailio, timeout: float = 15) -> None:
    """Return once the line's next OPTIONS reaches Kamailio.

    The SIP thread sends in order, so whatever it sent before that keepalive
    (an INVITE, say) is in Kamailio's log by then.
    """
    before = len(kamailio.messages("OPTIONS"))
    wait_until(lambda: len(kamailio.messages("OPTIONS")) > before, timeout=timeout,
               what="the line's next keepalive")  # fmt: skip


class NotifySocket:
    """The socket systemd would give the line daemon, with a watchdog it feeds."""

    WATCHDOG_USEC = 1_000_000  # the daemon feeds it every half of this, from its SIP loop

    def __init__(self, path: Path) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": str(self.WATCHDOG_USEC)}

    def sip_loop_ran_for(self, seconds: float) -> None:
        """Return once the SIP loop has fed the watchdog for ``seconds`` more of its turns."""
        self.socket.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self.socket.recv(1024)  # what it said before now
        self.socket.settimeout(seconds + 20)
        # The first ping may come at once, so one more than the seconds need.
        needed = math.ceil(seconds * 2_000_000 / self.WATCHDOG_USEC) + 1
        pings = 0
        while pings < needed:
            pings += self.socket.recv(1024) == b"WATCHDOG=1"

    def close(self) -> None:
        """Close the socket; calling it again does nothing."""
        self.socket.close()


def rtp_range() -> str:
    """A free even-numbered range of 20 ports for one user agent's audio."""
    low = free_port()
    low -= low % 2
    return f"{low}-{low + 20}"


class PracticeLineProcess:
    """``phonehub practice-line`` registered at Kamailio as a family's number."""

    def __init__(self, folder: Path, kamailio: Kamailio | None, number: str, *options: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.number = number
        self.log_path = folder / "practice.jsonl"
        self.address = f"127.0.0.1:{free_port()}"
        config = folder / "practice.toml"
        config.write_text(f'[hub]\ndata_dir = "{folder}"\n')
        register: list[str] = []
        if kamailio is not None:
            kamailio.add_user(number, PRACTICE_PASSWORD)
            register = ["--registrar", f"sip:127.0.0.1:{kamailio.udp_port}", "--password-stdin"]
        self.output = (folder / "stdout").open("wb")
        self.process = subprocess.Popen(
            [*PHONEHUB, "--config", str(config), "practice-line", "--number", number,
             "--bind", self.address, "--rtp-ports", rtp_range(), *register,
             "--log", str(self.log_path), *options],
            stdin=subprocess.PIPE,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert self.process.stdin is not None
        self.process.stdin.write(PRACTICE_PASSWORD.encode() + b"\n")
        self.process.stdin.close()
        if kamailio is not None:
            kamailio.stop_first(self.stop)
            kamailio.wait_for(lambda: kamailio.registered(number), timeout=20)
        else:
            wait_until(lambda: self.events("listening"), timeout=20, what="the practice line")

    @classmethod
    def listening(cls, folder: Path, number: str) -> PracticeLineProcess:
        """A practice line that registers nowhere and answers on its own address."""
        return cls(folder, None, number, "--ring", "0")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """What the practice line has logged so far."""
        if not self.log_path.exists():
            return []
        found = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [e for e in found if kind is None or e["event"] == kind]

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL); safe to call twice."""
        end(self.process)
        self.output.close()


class LineProcess:
    """``phonehub line`` with a generated config, and a client for its socket."""

    def __init__(self, folder: Path, kamailio: Kamailio | None, **sections: dict[str, Any]):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.socket = Path(f"/tmp/phonehub-test-{os.getpid()}-{free_port()}.sock")
        self.config_path = folder / "phonehub.toml"
        self.database_url = f"sqlite:///{folder / 'hub.db'}"
        self.sip_port = free_port()
        self.rtp_ports = rtp_range()
        config: dict[str, dict[str, Any]] = {
            "hub": {"name": "test-hub", "data_dir": str(folder)},
            "school": {"name": SCHOOL, "number": SCHOOL_NUMBER},
            "sip": {"bind": f"127.0.0.1:{self.sip_port}", "rtp_ports": self.rtp_ports},
            "line": {"control_socket": str(self.socket), "ring_timeout_s": 20,
                     "rtp_timeout_s": 8},
            "dialplan": {"calling_hours": "00:00-24:00",
                         "calling_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                         "school_days_only": False},
            "gpio": {"pin_factory": "mock"},
            "database": {"url": self.database_url},
        }  # fmt: skip
        if kamailio is not None:
            kamailio.add_user(HUB_USER, HUB_PASSWORD)
            config["sip"].update(
                registrar=f"sip:127.0.0.1:{kamailio.udp_port}",
                username=HUB_USER,
                password=HUB_PASSWORD,
            )
        for section, values in sections.items():
            config.setdefault(section, {}).update(values)
        self.config_path.write_text(_toml(config))
        self.client = ControlClient(self.socket, timeout=20)
        self.process: subprocess.Popen[bytes] | None = None
        if kamailio is not None:
            kamailio.stop_first(self.stop)

    def start(self, *, wait_for: str | None = "registered", env: dict[str, str] | None = None
              ) -> None:  # fmt: skip
        """Start the daemon; return once its socket answers (and it is ``wait_for``)."""
        self.output = (self.folder / "line.log").open("ab")
        self.process = subprocess.Popen(
            [*PHONEHUB, "--config", str(self.config_path), "line"],
            stdout=self.output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        wait_until(self._answers, timeout=30, what=f"the line daemon's socket\n{self.log()}")
        if wait_for:
            wait_until(lambda: self.status()["registration"] == wait_for, timeout=20,
                       what=f"registration {wait_for}\n{self.log()}")  # fmt: skip

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the line daemon exited:\n{self.log()}")
        try:
            self.status()
        except Exception:
            return False
        return True

    def status(self) -> dict[str, Any]:
        """The daemon's status reply."""
        return self.client.request("status")["status"]

    def log(self) -> str:
        """Everything the daemon has printed."""
        path = self.folder / "line.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` and wait for the exit status; SIGKILL after 15 s."""
        if self.process is None:
            return None
        status = end(self.process, sig)
        self.output.close()
        return status


def _toml(config: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


class Family:
    """Makes the database rows the panel would: staff, a household, an attempt."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.session() as session:
            staff = StaffUser(
                email=STAFF_EMAIL,
                name=STAFF_NAME,
                role=Role.STAFF,
                password_hash=hash_password("staff-password-1"),
                opted_in=True,
            )
            admin = StaffUser(email="it@school.example", name="Ivo Technician", role=Role.ADMIN,
                              password_hash=hash_password("admin-password-1"))  # fmt: skip
            session.add_all([staff, admin])
        self.staff_email = STAFF_EMAIL

    def number(self, e164: str, kind: str = "mobile") -> int:
        """A household whose guardian has this number; the number record's id."""
        with self.database.session() as session:
            household = Household()
            guardian = Guardian(name="Rowena Testfamily", household=household)
            number = PhoneNumber(guardian=guardian, label="mobile", e164=e164, kind=kind)
            session.add_all([household, guardian, number])
            session.flush()
            return number.id

    def entry(self, number_id: int, *, recording: bool = False,
              state: EntryState = EntryState.WAITING) -> int:  # fmt: skip
        """The number's household in a new welfare campaign; the entry's id."""
        with self.database.session() as session:
            campaign = Campaign(name="Welfare", purpose=Purpose.WELFARE, recording=recording)
            number = session.get(PhoneNumber, number_id)
            assert number is not None
            entry = CampaignEntry(campaign=campaign, household_id=number.guardian.household_id,
                                  state=state)  # fmt: skip
            session.add_all([campaign, entry])
            session.flush()
            return entry.id

    def attempt(self, number_id: int, **values: Any) -> int:
        """A call attempt by the member of staff, as the call desk creates it."""
        with self.database.session() as session:
            staff = session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL))
            number = session.get(PhoneNumber, number_id)
            assert staff is not None and number is not None
            attempt = CallAttempt(staff_id=staff.id, phone_number_id=number.id,
                                  household_id=number.guardian.household_id, **values)  # fmt: skip
            session.add(attempt)
            session.flush()
            return attempt.id

    def row(self, attempt_id: int) -> CallAttempt:
        """The attempt's row as it is now."""
        with self.database.session() as session:
            attempt = session.get(CallAttempt, attempt_id)
            assert attempt is not None
            session.expunge(attempt)
            return attempt


def line_to(make_line: Callable[..., LineProcess], far_end: SippCallee, **line: int
            ) -> LineProcess:  # fmt: skip
    """A running line whose trunk (an IP-authenticated one, no registrar) is ``far_end``."""
    started = make_line(None, sip={"domain": "127.0.0.1", "proxy": f"sip:{far_end.address}"},
                        line=line)  # fmt: skip
    started.start(wait_for="not_needed")
    return started


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """A Kamailio registrar/proxy of this test's own."""
    with Kamailio(tmp_path / "kamailio") as server:
        server.start()
        yield server


@pytest.fixture
def practice_line(tmp_path: Path, kamailio: Kamailio) -> Iterator[PracticeLineProcess]:
    """The practice line registered as the family's number, answering after 1 s."""
    line = PracticeLineProcess(tmp_path / "practice", kamailio, FAMILY_NUMBER, "--ring", "1")
    yield line
    line.stop()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A socket to start the line daemon with, to hear its SIP loop's watchdog."""
    heard = NotifySocket(tmp_path / "notify")
    yield heard
    heard.close()


@pytest.fixture
def make_line(tmp_path: Path) -> Iterator[Callable[..., LineProcess]]:
    """Build line daemons (started by the test); all are stopped afterwards."""
    made: list[LineProcess] = []

    def make(kamailio: Kamailio | None, **sections: dict[str, Any]) -> LineProcess:
        line = LineProcess(tmp_path / f"line{len(made)}", kamailio, **sections)
        made.append(line)
        return line

    yield make
    for line in made:
        line.stop()


@pytest.fixture
def hub_line(make_line: Callable[..., LineProcess], kamailio: Kamailio) -> LineProcess:
    """A running line daemon registered at Kamailio."""
    line = make_line(kamailio)
    line.start()
    return line


@pytest.fixture
def family(hub_line: LineProcess) -> Iterator[Family]:
    """Rows in the daemon's database, as the panel would write them."""
    with open_database(hub_line.database_url) as database:
        yield Family(database)
