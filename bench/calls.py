"""Call latency: from a click on the desk to the INVITE, and call set-up against baresip.

Everything is real and on 127.0.0.1: the tests' Kamailio, the line daemon
(``phonehub line``), the panel (``phonehub web`` over plain HTTP), Debian's
baresip, and ``bench.sipcallee``, a SIP callee that stamps each request's arrival
with CLOCK_MONOTONIC, which this process reads too.

* click → INVITE: a signed-in member of staff takes the next family on the desk
  and presses Call (POST /desk/call); the time runs from just before the request
  is sent to the INVITE reaching the callee, which answers 486 Busy at once. The
  call's end is awaited in its database row and "no answer" recorded,
  so the next family comes up.
* set-up: the hub (its line daemon asked over the control socket for a test call)
  and baresip (asked over ctrl_tcp) take turns calling one callee that answers
  200 OK at once; set-up is INVITE → ACK as the callee sees it, and also the
  command → ACK. Both register at Kamailio and their calls go through it.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import Figure, percentile
from hub import users
from hub.control_client import ControlClient
from hub.db import Database, open_database
from hub.models import (
    CallAttempt,
    Role,
)
from tests.baresip import Baresip
from tests.factories import add_campaign, add_entry, add_household, pupil
from tests.kamailio import Kamailio
from tests.line.conftest import PHONEHUB, LineProcess, free_port, wait_until

CLICKS = 200  # measured desk calls
CLICK_WARMUP = 5
SETUPS = 100  # measured calls each, hub and baresip
SETUP_WARMUP = 3
SETTLE_S = 0.05  # between set-up calls; people are seconds apart
CALLEE_PASSWORD = "callee-secret"
BARESIP_USER, BARESIP_PASSWORD = "bench-baresip", "baresip-secret"
STAFF_EMAIL, ADMIN_EMAIL = "sam.bench@school.example", "ivo.bench@school.example"
PASSWORD = "correct horse battery"
# Ofcom's drama numbers: the desk's families, and the number both callers ring.
FAMILIES = [f"07700900{n:03d}" for n in range(CLICKS + CLICK_WARMUP + 10)]
SETUP_NUMBER = "01632960500"
WAIT_S = 10.0


def run() -> list[Figure]:
    """Both measurements, in one Kamailio, line daemon and panel."""
    folder = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    try:
        with ExitStack() as parts:
            kamailio = parts.enter_context(Kamailio(folder / "kamailio"))
            for user in [*FAMILIES, SETUP_NUMBER]:
                kamailio.add_user(user, CALLEE_PASSWORD)
            kamailio.add_user(BARESIP_USER, BARESIP_PASSWORD)
            panel_port = free_port()
            line = LineProcess(
                folder / "line",
                kamailio,
                # Hundreds of calls in minutes, any time of day: far past the real limits.
                dialplan={"per_staff_per_hour": 100_000, "per_number_per_day": 100,
                          "per_hub_per_day": 100_000},
                web={"bind": "127.0.0.1", "port": panel_port, "https": False},
            )  # fmt: skip
            kamailio.start()
            line.start()
            parts.callback(line.stop)
            campaign_id, numbers = _seed(line.database_url)
            parts.enter_context(_panel(line, panel_port))
            database = parts.enter_context(open_database(line.database_url, migrate=False))
            figures = _click_to_invite(folder, kamailio, panel_port, campaign_id, numbers,
                                       database)  # fmt: skip
            figures += _setup(folder, kamailio, line)
            return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- the parts ----------------------------------------------------------------


def _seed(database_url: str) -> tuple[int, dict[int, str]]:
    """Staff, an admin, and a campaign of families; the campaign and number ids → numbers."""
    numbers: dict[int, str] = {}
    with open_database(database_url) as database, database.session() as session:
        users.add(session, STAFF_EMAIL, "Sam Benchley", Role.STAFF, PASSWORD, actor="bench",
                  opted_in=True)  # fmt: skip
        users.add(session, ADMIN_EMAIL, "Ivo Benchmark", Role.ADMIN, PASSWORD, actor="bench")
        campaign = add_campaign(session, "Bench welfare")
        for index, national in enumerate(FAMILIES):
            household = add_household(session, pupil(surname="Benchfamily"),
                                      serial=int(national[-3:]),
                                      guardian=f"Rowena Benchfamily {index}")  # fmt: skip
            add_entry(session, campaign, household)
            mobile = next(n for g in household.guardians for n in g.numbers if n.kind == "mobile")
            numbers[mobile.id] = national
        return campaign.id, numbers


@contextmanager
def _panel(line: LineProcess, port: int) -> Iterator[None]:
    """``phonehub web`` on the line's config and database, over HTTP on 127.0.0.1."""
    log = (line.folder / "web.log").open("wb")
    process = subprocess.Popen([*PHONEHUB, "--config", str(line.config_path), "web"],
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until(lambda: _answers(port), timeout=30, what="the panel")
        yield
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/login")
        return connection.getresponse().status == 200
    except OSError:
        return False


class Callee:
    """``bench.sipcallee`` in a process of its own; its events arrive on ``events``."""

    def __init__(self, folder: Path, kamailio: Kamailio, numbers: list[str], *,
                 busy: bool, echo: Path | None = None) -> None:  # fmt: skip
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        role = "busy" if busy else "echo" if echo else "answer"
        self.stderr = (folder / f"callee-{role}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sipcallee", "--registrar",
             f"127.0.0.1:{kamailio.udp_port}", "--password", CALLEE_PASSWORD,
             *(["--busy"] if busy else []), *(["--echo", str(echo)] if echo else []),
             *numbers],
            stdout=subprocess.PIPE, stderr=self.stderr, cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.next("ready", timeout=60)
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.events.put(json.loads(raw))

    def next(self, kind: str, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next event of this kind (earlier ones of other kinds are passed over)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"the callee saw no {kind} within {timeout} s") from None
            if event["event"] == kind:
                return event

    def stop(self) -> None:
        """Unregister and stop it."""
        self.process.terminate()
        self.process.wait(10)
        self.stderr.close()


# --- click → INVITE ----------------------------------------------------------------


class Browser:
    """The desk's HTTP requests, as its page makes them, on one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> None:  # fmt: skip
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body, {**(headers or {}), "Cookie": cookie})

    def receive(self) -> tuple[int, str]:
        response = self.connection.getresponse()
        text = response.read().decode()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        found = re.search(r'name="csrf-token" content="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return response.status, text

    def get(self, path: str) -> tuple[int, str]:
        self.send("GET", path)
        return self.receive()

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode({**fields, "csrf_token": self.csrf}).encode()
        self.send("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        return self.receive()

    def sign_in(self, email: str) -> None:
        self.get("/login")
        status, _ = self.post_form("/login", {"email": email, "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"signing in answered {status}")


def _ended(database: Database, attempt: int) -> bool:
    """Whether the call's row says it ended, as the desk's first message would."""
    with database.session() as session:
        return session.get(CallAttempt, attempt).ended_at is not None


def _click_to_invite(folder: Path, kamailio: Kamailio, port: int, campaign_id: int,
                     numbers: dict[int, str], database: Database) -> list[Figure]:  # fmt: skip
    callee = Callee(folder, kamailio, list(numbers.values()), busy=True)
    try:
        browser = Browser(port)
        browser.sign_in(STAFF_EMAIL)
        samples = []
        for index in range(CLICK_WARMUP + CLICKS):
            status, page = browser.get(f"/desk/{campaign_id}")
            entry = re.search(r'data-entry="(\d+)"', page)
            number = re.search(r'data-number="(\d+)"', page)
            if status != 200 or entry is None or number is None:
                raise RuntimeError(f"the desk showed no family to call ({status})")
            body = json.dumps({"entry": int(entry.group(1)), "number": int(number.group(1))})
            headers = {"Content-Type": "application/json", "X-CSRFToken": browser.csrf}
            clicked = time.monotonic_ns()
            browser.send("POST", "/desk/call", body.encode(), headers)
            invite = callee.next("invite")
            status, reply = browser.receive()
            if status != 200 or invite["user"] != numbers[int(number.group(1))]:
                raise RuntimeError(f"the call was not placed: {status} {reply}")
            if index >= CLICK_WARMUP:
                samples.append((invite["t_ns"] - clicked) / 1e6)
            attempt = json.loads(reply)["attempt"]
            _until(partial(_ended, database, attempt), "the busy call to end")
            status, _ = browser.post_form("/desk/outcome", {"attempt": str(attempt),
                                                             "outcome": "no_answer"})  # fmt: skip
            if status != 302:
                raise RuntimeError(f"recording the outcome answered {status}")
    finally:
        callee.stop()
    note = f"{CLICKS} calls; POST /desk/call sent → INVITE at the callee, via Kamailio"
    return [
        Figure("calls.click_to_invite.p50", "Click to INVITE, p50", percentile(samples, 50),
               "ms", note=note),
        Figure("calls.click_to_invite.p95", "Click to INVITE, p95", percentile(samples, 95),
               "ms", target=25, note=note),
    ]  # fmt: skip


# --- set-up: the hub against baresip ----------------------------------------------


def _setup(folder: Path, kamailio: Kamailio, line: LineProcess) -> list[Figure]:
    callee = Callee(folder, kamailio, [SETUP_NUMBER], busy=False)
    phone = Baresip(folder / "baresip", user=BARESIP_USER, password=BARESIP_PASSWORD,
                    registrar=kamailio)  # fmt: skip
    control = ControlClient(line.socket, timeout=WAIT_S)
    try:
        phone.start()

        def hub_call() -> None:
            control.request("test_call", number=SETUP_NUMBER, **{"as": ADMIN_EMAIL})

        def hub_hangup() -> None:
            control.request("hangup")
            callee.next("bye")  # before asking the hub, so as not to keep it busy answering
            _until(lambda: control.request("status")["status"]["call"] is None, "the hub idle")

        def baresip_hangup() -> None:
            closed = phone.calls_ended()
            phone.hangup()
            callee.next("bye")
            _until(lambda: phone.calls_ended() > closed, "baresip's call to close")

        def baresip_call() -> None:
            phone.dial(f"sip:{SETUP_NUMBER}@{kamailio.domain}")

        sides = {"hub": (hub_call, hub_hangup), "baresip": (baresip_call, baresip_hangup)}
        setup: dict[str, list[float]] = {"hub": [], "baresip": []}
        command: dict[str, list[float]] = {"hub": [], "baresip": []}
        for index in range(SETUP_WARMUP + SETUPS):
            order = ["hub", "baresip"] if index % 2 == 0 else ["baresip", "hub"]
            for side in order:
                call, hang_up = sides[side]
                invite, ack, sent = _one_call(callee, call)
                hang_up()
                # What is left of the call (the database's end of it) is not the next one's.
                time.sleep(SETTLE_S)
                if index >= SETUP_WARMUP:
                    setup[side].append((ack - invite) / 1e6)
                    command[side].append((ack - sent) / 1e6)
    finally:
        phone.stop()
        callee.stop()
    hub, baresip = percentile(setup["hub"], 50), percentile(setup["baresip"], 50)
    hub_command = percentile(command["hub"], 50)
    baresip_command = percentile(command["baresip"], 50)
    note = f"{SETUPS} calls each, interleaved, through Kamailio to a callee answering at once"
    return [
        Figure("calls.setup.hub.p50", "Set-up INVITE → ACK at the callee, hub, p50", hub, "ms",
               note=note),
        Figure("calls.setup.baresip.p50", "Set-up INVITE → ACK at the callee, baresip, p50",
               baresip, "ms", note=note),
        Figure("calls.setup.ratio", "Set-up, hub ÷ baresip (p50)", hub / baresip, "×",
               target=1.5),
        Figure("calls.command_to_ack.hub.p50", "Command → ACK, hub (control socket), p50",
               hub_command, "ms"),
        Figure("calls.command_to_ack.baresip.p50", "Command → ACK, baresip (ctrl_tcp), p50",
               baresip_command, "ms"),
        Figure("calls.command_to_ack.ratio", "Command → ACK, hub ÷ baresip (p50)",
               hub_command / baresip_command, "×"),
    ]  # fmt: skip


def _one_call(callee: Callee, call: Callable[[], None]) -> tuple[int, int, int]:
    """Place a call; the INVITE's and the ACK's arrival and the command's sending, in ns."""
    sent = time.monotonic_ns()
    call()
    invite = callee.next("invite")
    ack = callee.next("ack")
    if ack["call_id"] != invite["call_id"] or ack["status"] != 200:
        raise RuntimeError(f"unexpected ACK {ack} for {invite}")
    return invite["t_ns"], ack["t_ns"], sent


def _until(predicate: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)
