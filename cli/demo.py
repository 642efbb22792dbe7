"""``phonehub demo``: the whole hub on this machine, with nothing to configure.

It writes a config and a SQLite database into a data folder (a temporary one,
or ``--data DIR`` to keep it between runs), fills it with a made-up school
(names invented, numbers from Ofcom's drama ranges), campaigns and one account
per role, then runs three processes: the practice line, standing in for the
school's phone system so that every family's number rings it; the line daemon;
and the panel. Ctrl-C stops them all.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import calls, positive, queues, users
from hub.config import load_config
from hub.db import open_database
from hub.exceptions import PhoneHubError
from hub.models import (
    Campaign,
    CampaignEntry,
    EndReason,
    EntryState,
    Household,
    Outcome,
    Pupil,
    PupilNote,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from hub.sample import school_csv

DEMO_SCHOOL = "Northfield School (demo)"
DEMO_NUMBER = "01632 960000"
PRACTICE_NUMBER = "07700900999"
DEMO_PASSWORD = "practice-phone-hub"
DEMO_ACCOUNTS = (
    ("admin@demo.example", "Alex Admin", Role.ADMIN),
    ("staff@demo.example", "Sam Teacher", Role.STAFF),
    ("dsl@demo.example", "Dana Safeguarding", Role.DSL),
)
READY_WITHIN_S = 30

CONFIG_TEMPLATE = """\
# Written by `phonehub demo`. A real hub reads /etc/phonehub/phonehub.toml.
[hub]
name = "demo"
data_dir = "{data}"

[school]
name = "{school}"
number = "{number}"

# No trunk: every call goes to the practice line, which answers like a parent.
[sip]
domain = "127.0.0.1"
proxy = "sip:127.0.0.1:{practice_port}"
bind = "127.0.0.1:{sip_port}"
rtp_ports = "{rtp_low}-{rtp_high}"

[line]
control_socket = "{data}/line.sock"
practice_number = "{practice}"
ring_timeout_s = 30

# The demo may be tried at any hour, on any day.
[dialplan]
calling_hours = "00:00-24:00"
calling_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
school_days_only = false

[gpio]
pin_factory = "mock"

# This machine only, so plain HTTP spares the browser's certificate warning; the
# demo's accounts sign in with their password alone.
[web]
bind = "127.0.0.1"
port = {web_port}
https = false
require_two_step = false
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_config(data: Path, web_port: int) -> Path:
    path = data / "phonehub.toml"
    rtp = _free_port() & ~1
    path.write_text(
        CONFIG_TEMPLATE.format(
            data=data, school=DEMO_SCHOOL, number=DEMO_NUMBER, practice=PRACTICE_NUMBER,
            practice_port=_free_port(), sip_port=_free_port(), rtp_low=rtp, rtp_high=rtp + 40,
            web_port=web_port,
        )
    )  # fmt: skip
    return path


def _fill(session: Session) -> None:
    """The sample school, its accounts and two campaigns, once."""
    if session.scalar(select(func.count()).select_from(Pupil)):
        return
    import_file(session, school_csv().encode(), actor="demo")
    accounts = {
        role: users.add(session, email, name, role, DEMO_PASSWORD, actor="demo", opted_in=True)
        for email, name, role in DEMO_ACCOUNTS
    }
    now = utcnow()
    admin = accounts[Role.ADMIN]
    welfare = queues.create_campaign(session, queues.CampaignPlan(
        name="Autumn welfare calls", purpose=Purpose.WELFARE,
        talking_points="Ask how the family is, and whether they need anything from school.",
    ), actor=admin, now=now)  # fmt: skip
    positive = queues.create_campaign(session, queues.CampaignPlan(
        name="Positive calls home: Year 6", purpose=Purpose.POSITIVE,
        talking_points="Tell them what their child did; it's good news only.",
    ), actor=admin, now=now)  # fmt: skip
    queues.add_households(session, welfare, actor=admin, now=now, years=("7", "8", "9"))
    queues.add_households(session, positive, actor=admin, now=now, years=("6",))
    queues.assign(session, welfare, actor=admin, method="round_robin", now=now)
    for entry in session.scalars(select(CampaignEntry).where(CampaignEntry.campaign == positive)):
        first = entry.household.pupils[0]
        note = f"{first.forename} helped a new pupil settle in this week."
        entry.pupil_notes.append(PupilNote(pupil_id=first.id, note=note))
    # A little history, so the first cards show earlier contact.
    staff = accounts[Role.STAFF]
    _positive_habit(session, staff, positive, now)
    for entry in session.scalars(
        select(CampaignEntry).where(CampaignEntry.campaign == welfare).limit(3)
    ):
        earlier = now - timedelta(days=2)
        calls.record_past(
            session,
            entry,
            staff,
            number_id=None,
            at=earlier,
            end_reason=EndReason.NO_ANSWER,
            outcome=Outcome.NO_ANSWER,
        )


def _positive_habit(session: Session, staff: StaffUser, campaign: Campaign,
                    now: datetime) -> None:  # fmt: skip
    """A teacher's positive calls: two siblings nominated, and a call last week to reflect on."""
    siblings = next((h for h in session.scalars(select(Household).order_by(Household.id))
                     if len(h.pupils) > 1 and not any(p.vulnerable for p in h.pupils)),
                    None)  # fmt: skip
    if siblings is not None:
        older, younger = siblings.pupils[:2]
        positive.nominate(session, older, f"{older.forename} stayed behind to help tidy the "
                          "science lab without being asked.", by=staff, now=now)  # fmt: skip
        positive.nominate(session, younger, f"{younger.forename} read their story to the "
                          "infants in assembly.", by=staff, now=now)  # fmt: skip
    entry = session.scalars(select(CampaignEntry).where(CampaignEntry.campaign == campaign)).first()
    if entry is not None:
        calls.record_past(session, entry, staff, number_id=None, at=now - timedelta(days=5),
                          end_reason=EndReason.COMPLETED,
                          outcome=Outcome.SPOKE_TO_PARENT)  # fmt: skip
        entry.state = EntryState.DONE


def _wait_for(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise PhoneHubError("Part of the demo stopped while starting; see the messages above.")
        try:
            with urllib.request.urlopen(url + "login", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise PhoneHubError(f"The panel did not answer on {url} within {READY_WITHIN_S} s.")


def run_demo(data_dir: Path | None, port: int = 8080) -> int:
    """Set up (or reopen) the demo school and run the hub until Ctrl-C."""
    data = (data_dir or Path(tempfile.mkdtemp(prefix="phonehub-demo-"))).resolve()
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_path = _write_config(data, port)
    config = load_config(config_path)
    with open_database(config.database.url) as database, database.session() as session:
        _fill(session)
        staff = session.scalar(select(func.count()).select_from(StaffUser))
    phonehub = [sys.executable, "-m", "cli", "--config", str(config_path)]
    practice_port = config.sip.proxy.rsplit(":", 1)[1]
    high = config.sip.rtp_port_range[1]
    commands = [
        [*phonehub, "practice-line", "--number", PRACTICE_NUMBER, "--bind",
         f"127.0.0.1:{practice_port}", "--rtp-ports", f"{high + 2}-{high + 42}", "--ring", "2",
         "--log", str(data / "practice.jsonl")],
        [*phonehub, "line"],
        [*phonehub, "web"],
    ]  # fmt: skip
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log = (data / "demo.log").open("ab")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True))  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, processes)
        _introduce(url, data, staff)
        while not stopping:
            if any(p.poll() is not None for p in processes):
                raise PhoneHubError(f"Part of the demo stopped; see {data / 'demo.log'}.")
            time.sleep(0.2)
        print("\nStopping the demo…", flush=True)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
    return 0


def _introduce(url: str, data: Path, staff: int) -> None:
    print(f"\nSchool Phone Hub demo: {DEMO_SCHOOL}, calling from {DEMO_NUMBER}", flush=True)
    print(f"Open {url} in a browser. Sign in as (password {DEMO_PASSWORD}):")
    for email, name, role in DEMO_ACCOUNTS:
        print(f"  {role.value:<5}  {email:<22} {name}")
    print("Every family's number rings the practice line, which answers like a parent.")
    print(f"Data: {data} ({staff} accounts). Press Ctrl-C to stop.", flush=True)
