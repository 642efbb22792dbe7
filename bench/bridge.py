"""Calls through staff members' own phones: CPU per bridged call, and how many at once.

Everything is real and on 127.0.0.1: the tests' Kamailio, the line daemon (``phonehub
line``, headless, ``[line] max_calls = 8``, RTP ports of its own for 16 legs), and
practice lines (``phonehub practice-line``) as the members of staff's phones and the
families' phones. Each practice line says a continuous tone of its own (staff 440 Hz,
family 1000 Hz) into every call and records what it hears, so each recording shows
what crossed the hub's conference bridge. A practice line takes at most 7 calls at
once (pjsua's ``maxCalls`` as it is built for one line), so there are two of each,
for two members of staff calling two families; the calls alternate between them.

* CPU: for N = 0, 1 … 8 bridged calls at once, N fresh calls are dialled as the desk
  dials them (``dial`` with ``via: own_phone``); once every family has answered and
  ``SETTLE_S`` has passed, the line daemon's utime + stime (/proc) over
  ``CPU_WINDOW_S``, as % of one core, and its busiest thread's. The practice lines'
  CPU is read over the same window and reported apart: it is not the hub's.
* gaps: after the calls are hung up, every recording (2N) is checked: from the first
  moment the other side's tone is heard steadily (5 windows running), each 20 ms
  window of the next ``SPAN_S`` must hold it (``tests.audio.listen_for``).
* baresip: Debian's baresip 1.0.0 ships the ``b2bua`` module, so the same is done
  with it in the hub's place: a baresip (the staff's phone, ``ausine`` 440 Hz)
  calls through a b2bua baresip, which calls the family's practice line through
  Kamailio and joins the two legs (``aubridge``); its CPU is read as the daemon's.
  The line daemon is stopped first, so the two are never measured side by side.

``python -m bench bridge`` runs it with the other benches; ``python -m bench.bridge
--most 2 --window 3`` is a short look that writes nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from bench.common import Figure, cpu_seconds
from hub import own_phone
from hub.db import open_database
from hub.models import CallAttempt, Guardian, Household, PhoneNumber, Role, StaffUser, utcnow
from hub.users import hash_password
from tests.audio import WINDOW_S, listen_for, write_tone
from tests.baresip import Baresip
from tests.kamailio import Kamailio
from tests.line.conftest import Family, LineProcess, PracticeLineProcess, wait_until

MOST = 8  # [line] max_calls' ceiling: the bench sets it, and tries every N up to it
CPU_WINDOW_S = 10.0
SETTLE_S = 2.0  # after the last answer, before the CPU window
SPAN_S = 8.0  # of each recording checked for gaps, from the other side first heard
STEADY_WINDOWS = 5  # "first heard": the first of this many tone windows in a row
PAUSE_S = 3.0  # between rounds: sockets freed, recordings saved, the daemon quiet
RTP_PORTS = 100  # the line's own range: 16 legs take 32 (the tests' helper gives 20)
STAFF_TONE, FAMILY_TONE = 440.0, 1000.0
TONE_S = 120.0  # longer than any call here; a greeting is played once, not looped
# Ofcom drama numbers: two members of staff's own phones, two families.
STAFF_PHONES = ("07700900555", "07700900556")
FAMILY_PHONES = ("07700900123", "07700900124")
SECOND_STAFF = ("Tobias Staffwright", "tobias.staffwright@school.example")
B2BUA_USER, B2BUA_PASSWORD = "bench-b2bua", "bench-b2bua-secret"
MODULES = Path("/usr/lib/baresip/modules")  # Debian's baresip-core 1.0.0 has b2bua in it
# Far past the real limits: dozens of calls to two numbers in minutes.
DIALPLAN = {
    "per_staff_per_hour": 100_000,
    "per_number_per_day": 100_000,
    "per_hub_per_day": 100_000,
}
WAIT_S = 30.0
# On paper: how many times slower one Pi core is than one of this machine's, taken from
# Geekbench 6 single-core scores (Jeff Geerling's sbc-reviews, web/data/results.yml):
# Compute Module 4 (a Pi 4 at 1.5 GHz) 256, Pi 4 model B (1.8 GHz) 289, Pi 5 904,
# against 3,340, the fastest x86 core in that table (Core Ultra 7 265K). This machine's
# core (a 2.6 GHz AMD EPYC under KVM) is surely slower than that, so these overstate a
# Pi's cost. For audio work the gap is smaller still: LAME MP3 encoding in the same
# table is 4.9x slower on a Pi 4, 2.4x on a Pi 5, than a Ryzen laptop's core.
PI_SLOWER = {"Pi 4 at 1.5 GHz": 3340 / 256, "Pi 4 at 1.8 GHz": 3340 / 289, "Pi 5": 3340 / 904}


@dataclass
class Round:
    """What N calls at once cost and how their audio came through."""

    calls: int
    cpu: float  # % of one core, the process measured (the line daemon or the b2bua)
    threads: list[float] = field(default_factory=list)  # each thread's %, busiest first
    others: float = 0.0  # % of one core: the practice lines (and baresip's caller)
    expected: int = 0  # recordings to check: both sides (hub), the family's (baresip)
    recordings: int = 0
    gappy: int = 0  # recordings with any 20 ms window missing in SPAN_S
    missing_ms: list[float] = field(default_factory=list)  # per recording
    unheard: int = 0  # recordings where the other side's tone never came

    @property
    def clean(self) -> bool:
        return self.recordings == self.expected and not self.gappy and not self.unheard


# --- the hub ------------------------------------------------------------------


class Desk:
    """Makes attempts as the call desk would, for two members of staff calling two families."""

    def __init__(self, family: Family) -> None:
        self.database = family.database
        with self.database.session() as session:
            first = session.scalar(select(StaffUser).where(StaffUser.email == family.staff_email))
            assert first is not None
            second = StaffUser(
                email=SECOND_STAFF[1],
                name=SECOND_STAFF[0],
                role=Role.STAFF,
                password_hash=hash_password("staff-password-2"),
                opted_in=True,
            )
            session.add(second)
            session.flush()
            for staff, number in zip((first, second), STAFF_PHONES, strict=True):
                own_phone.set_number(session, staff, number)
                staff.own_phone_verified_at = utcnow()  # confirmed: tests/line/test_own_phone
            self.staff_ids = (first.id, second.id)

    def attempt(self, index: int) -> int:
        """A new household with family ``index % 2``'s number, called by staff ``index % 2``."""
        which = index % 2
        with self.database.session() as session:
            household = Household()
            guardian = Guardian(name="Rowena Benchfamily", household=household)
            number = PhoneNumber(
                guardian=guardian,
                label="mobile",
                kind="mobile",
                e164="+44" + FAMILY_PHONES[which][1:],
            )
            session.add_all([household, guardian, number])
            session.flush()
            attempt = CallAttempt(
                staff_id=self.staff_ids[which], phone_number_id=number.id, household_id=household.id
            )
            session.add(attempt)
            session.flush()
            return attempt.id


def _hub_rounds(
    folder: Path,
    kamailio: Kamailio,
    phones: dict[str, list[PracticeLineProcess]],
    counts: list[int],
    window_s: float,
    notes: list[str],
) -> list[Round]:
    low = _free_range(RTP_PORTS)
    line = LineProcess(
        folder / "line",
        kamailio,
        dialplan=DIALPLAN,
        line={"max_calls": MOST, "rtp_timeout_s": 20},
        sip={"rtp_ports": f"{low}-{low + RTP_PORTS}"},
    )
    line.start()
    try:
        with open_database(line.database_url) as database:
            desk = Desk(Family(database))
            assert line.process is not None
            pid = line.process.pid
            rounds = [_hub_round(line, pid, desk, phones, n, window_s, notes) for n in counts]
            time.sleep(PAUSE_S)
            idle_after = _cpu([pid], window_s)[0]
            notes.append(f"line daemon idle after the rounds: {idle_after:.1f} % of one core")
            calls = line.status()["calls"]
            if calls:
                notes.append(f"calls still up after every hang-up: {calls}")
    finally:
        line.stop()
    notes.extend(_complaints(line.log()))
    return rounds


def _hub_round(
    line: LineProcess,
    pid: int,
    desk: Desk,
    phones: dict[str, list[PracticeLineProcess]],
    n: int,
    window_s: float,
    notes: list[str],
) -> Round:
    """N fresh calls at once: the daemon's CPU while they talk, then their recordings."""
    practice = [p for side in phones.values() for p in side]
    saved_before = {id(p): len(p.events("saved")) for p in practice}
    events = line.client.events(idle_s=1)
    next(events)  # the status the subscription starts with
    attempts = [desk.attempt(i) for i in range(n)]
    for attempt in attempts:
        line.client.request("dial", attempt=attempt, via="own_phone")
    _all_answered(events, attempts)
    events.close()
    answered = time.monotonic()
    first = line.status()["calls"]
    if not _connected(first, attempts):
        # Every family answered, so each call should be in the status at once: say so.
        notes.append(f"N = {n}: status right after every answer lacked calls: {first}")
        try:
            wait_until(lambda: _connected(line.status()["calls"], attempts), timeout=10)
        except AssertionError:
            raise RuntimeError(
                f"not every call connected: {line.status()['calls']}\n{line.log()[-3000:]}"
            ) from None
    time.sleep(SETTLE_S)
    cpu, threads, others = _cpu_with_threads(pid, [p.process.pid for p in practice], window_s)
    _hold(answered)
    for attempt in attempts:
        line.client.request("hangup", attempt=attempt)
    wait_until(
        lambda: all(
            len(p.events("saved")) - saved_before[id(p)] == _share(p, phones, n) for p in practice
        ),
        timeout=WAIT_S,
        what="every recording saved",
    )
    result = Round(n, cpu, threads, others, expected=2 * n)
    for side, tone in (("staff", FAMILY_TONE), ("family", STAFF_TONE)):
        for phone in phones[side]:
            for event in phone.events("saved")[saved_before[id(phone)] :]:
                _check(result, Path(event["recording"]), tone)
    time.sleep(PAUSE_S)
    return result


def _connected(calls: list[dict[str, Any]], attempts: list[int]) -> bool:
    """Whether the status's calls are exactly these attempts, each connected."""
    return sorted(c["attempt"] for c in calls if c["state"] == "connected") == sorted(attempts)


def _share(phone: PracticeLineProcess, phones: dict[str, list[PracticeLineProcess]], n: int) -> int:
    """How many of the round's N calls reach this practice line (they alternate)."""
    for side in phones.values():
        if phone in side:
            which = side.index(phone)
            return len(range(which, n, len(side)))
    raise ValueError("not one of the bench's phones")


def _all_answered(events: Iterator[dict[str, Any] | None], attempts: list[int]) -> None:
    """Read the line's events until every attempt's family has answered."""
    waiting = set(attempts)
    deadline = time.monotonic() + WAIT_S + 5 * len(attempts)
    for event in events:
        if not waiting:
            return
        if time.monotonic() > deadline:
            break
        if event is None or event.get("event") != "call" or event.get("attempt") not in waiting:
            continue
        if event["state"] == "answered":
            waiting.discard(event["attempt"])
        elif event["state"] == "ended":
            raise RuntimeError(f"attempt {event['attempt']} ended before it was answered: {event}")
    if waiting:
        raise RuntimeError(f"never answered: {sorted(waiting)}")


def _complaints(log: str) -> list[str]:
    """The daemon's warnings and errors, each kind once with how often it came."""
    seen: dict[str, int] = {}
    for line in log.splitlines():
        if any(word in line for word in ("WARNING", "ERROR", "Traceback", "CRITICAL")):
            text = line.split(" ", 2)[-1][:160]  # without the level and the logger's name
            seen[text] = seen.get(text, 0) + 1
    return [f"line log ({count}×): {text}" for text, count in seen.items()]


# --- baresip ------------------------------------------------------------------

_BARESIP = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip_port}
call_local_timeout\t120
call_max_calls\t\t32
net_interface\t\t127.0.0.1
dns_server\t\t127.0.0.1:53
module_path\t\t{modules}
module\t\t\tg711.so
{audio}
module_tmp\t\taccount.so
{apps}
module_app\t\tctrl_tcp.so
statmode_default\toff
ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}
"""


def _write_config(baresip: Baresip, audio: str, apps: str) -> None:
    """A baresip's config file: the shared lines, its audio modules and its apps."""
    text = _BARESIP.format(modules=MODULES, sip_port=baresip.sip_port,
                           ctrl_port=baresip.ctrl_port, audio=audio, apps=apps)  # fmt: skip
    (baresip.folder / "config").write_text(text)


class B2bua(Baresip):
    """baresip in the hub's place: its b2bua module makes each call in again, out, and joins them.

    A call to the inbound account (a catch-all) is placed again from the outbound one,
    to the same address through Kamailio; ``aubridge`` carries each leg's sound to the other.
    """

    def _write_config(self) -> None:
        audio = (
            "module\t\t\taubridge.so\naudio_player\t\taubridge,nil\naudio_source\t\taubridge,nil"
        )
        _write_config(self, audio, "module_app\t\tb2bua.so")
        outbound = f"sip:127.0.0.1:{self.registrar.udp_port};transport=udp"
        (self.folder / "accounts").write_text(
            f"<sip:bench-b2bua-in@127.0.0.1>;regint=0;b2bua=inbound\n"
            f'<{self.uri}>;auth_pass={self.password};outbound="{outbound}";regint=600'
            ";b2bua=outbound\n"
        )


class StaffPhone(Baresip):
    """The member of staff's phone on baresip's side: calls through the b2bua with a tone."""

    def __init__(self, folder: Path, *, via: B2bua, registrar: Kamailio) -> None:
        super().__init__(folder, user="bench-staff", password="", registrar=registrar)
        self.via = via

    def _write_config(self) -> None:
        audio = (
            "module\t\t\tausine.so\naudio_source\t\tausine,440\n"
            "ausrc_srate\t\t48000\nausrc_channels\t\t2"
        )
        _write_config(self, audio, "module_app\t\tmenu.so")
        # Not registered: every request goes straight to the b2bua, addressed to the family.
        (self.folder / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1>;regint=0;answermode=manual"
            f';outbound="sip:127.0.0.1:{self.via.sip_port};transport=udp"\n'
        )

    def start(self) -> None:
        """Start it; it registers nowhere, so it is ready once its control socket is."""
        binary = shutil.which("baresip")
        if not binary:
            raise RuntimeError("baresip is missing; run make test to install baresip-core")
        if not self._launch(binary):
            raise RuntimeError(f"baresip did not start; see {self.log_path}")
        self._connect()


def _baresip_rounds(
    folder: Path,
    kamailio: Kamailio,
    families: list[PracticeLineProcess],
    counts: list[int],
    window_s: float,
    notes: list[str],
) -> list[Round]:
    if not (MODULES / "b2bua.so").exists() or not (MODULES / "aubridge.so").exists():
        raise RuntimeError(f"this baresip has no b2bua or aubridge module in {MODULES}")
    with ExitStack() as parts:
        b2bua = parts.enter_context(
            B2bua(folder / "b2bua", user=B2BUA_USER, password=B2BUA_PASSWORD, registrar=kamailio)
        )
        kamailio.add_user(B2BUA_USER, B2BUA_PASSWORD)
        b2bua.start()
        staff = parts.enter_context(
            StaffPhone(folder / "staff-baresip", via=b2bua, registrar=kamailio)
        )
        staff.start()
        rounds = [_baresip_round(b2bua, staff, families, n, window_s) for n in counts]
        log = b2bua.log_path.read_text(errors="replace")
        for word in ("error", "failed", "warning"):
            found = [line for line in log.splitlines() if word in line.lower()]
            if found:
                notes.append(f"b2bua log ({len(found)}× {word!r}), e.g.: {found[0][:160]}")
        return rounds


def _baresip_round(
    b2bua: B2bua, staff: StaffPhone, families: list[PracticeLineProcess], n: int, window_s: float
) -> Round:
    saved_before = {id(p): len(p.events("saved")) for p in families}
    established = len(staff.events("CALL_ESTABLISHED"))
    closed = staff.calls_ended()
    for index in range(n):
        staff.dial(f"sip:{FAMILY_PHONES[index % 2]}@127.0.0.1")
        time.sleep(0.2)  # one INVITE at a time through the experimental module
    staff.wait_for(lambda: len(staff.events("CALL_ESTABLISHED")) - established >= n, timeout=WAIT_S)
    answered = time.monotonic()
    time.sleep(SETTLE_S)
    pid = _pid(b2bua)
    cpu, threads, others = _cpu_with_threads(
        pid, [_pid(staff), *(p.process.pid for p in families)], window_s
    )
    _hold(answered)
    for _ in range(n):
        staff.hangup()
        time.sleep(0.1)
    staff.wait_for(lambda: staff.calls_ended() - closed >= n, timeout=WAIT_S)
    wait_until(
        lambda: all(
            len(p.events("saved")) - saved_before[id(p)] == len(range(i, n, 2))
            for i, p in enumerate(families)
        ),
        timeout=WAIT_S,
        what="every recording saved",
    )
    result = Round(n, cpu, threads, others, expected=n)
    for phone in families:
        for event in phone.events("saved")[saved_before[id(phone)] :]:
            _check(result, Path(event["recording"]), STAFF_TONE)
    time.sleep(PAUSE_S)
    return result


def _pid(phone: Baresip) -> int:
    process = phone._process
    assert process is not None
    return process.pid


# --- measuring ----------------------------------------------------------------


def _hold(answered: float) -> None:
    """Keep the calls up until each recording can hold SPAN_S of the other side after it."""
    time.sleep(max(0.0, answered + SPAN_S + 2 - time.monotonic()))


def _cpu(pids: list[int], window_s: float) -> list[float]:
    """% of one core each process used over ``window_s``."""
    before = [cpu_seconds(pid) for pid in pids]
    started = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - started
    return [
        (cpu_seconds(pid) - then) / elapsed * 100 for pid, then in zip(pids, before, strict=True)
    ]


def _thread_seconds(pid: int) -> dict[int, float]:
    """CPU seconds so far of each of a process's threads, by thread id.

    By id, not name: pjlib leaves its threads named after the process ("python").
    """
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended meanwhile
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_with_threads(
    pid: int, others: list[int], window_s: float
) -> tuple[float, list[float], float]:
    """The process's % of one core over ``window_s``, its threads' (busiest first), the others'."""
    threads = _thread_seconds(pid)
    before = cpu_seconds(pid)
    others_before = [cpu_seconds(other) for other in others]
    started = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - started
    used = (cpu_seconds(pid) - before) / elapsed * 100
    others_used = sum(cpu_seconds(o) - b for o, b in zip(others, others_before, strict=True))
    after = _thread_seconds(pid)
    shares = [(seconds - threads.get(tid, 0.0)) / elapsed * 100 for tid, seconds in after.items()]
    return used, sorted(shares, reverse=True), others_used / elapsed * 100


def _check(result: Round, recording: Path, tone: float) -> None:
    """Count a recording's missing 20 ms windows in SPAN_S from its tone first heard steadily."""
    result.recordings += 1
    heard = listen_for(recording, tone)
    start = _steady(heard.windows)
    if start is None:
        result.unheard += 1
        return
    span = round(SPAN_S / WINDOW_S)
    windows = heard.windows[start : start + span]
    missing = (span - int(windows.sum())) * WINDOW_S * 1000  # a short recording counts too
    result.missing_ms.append(missing)
    result.gappy += missing > 0


def _steady(windows: np.ndarray) -> int | None:
    """The first window of STEADY_WINDOWS in a row holding the tone, or None."""
    run = np.convolve(windows.astype(int), np.ones(STEADY_WINDOWS, dtype=int), "valid")
    found = np.flatnonzero(run == STEADY_WINDOWS)
    return int(found[0]) if found.size else None


def _free_range(size: int) -> int:
    """An even port with ``size`` UDP ports from it free on 127.0.0.1 just now."""
    for low in range(31000, 60000 - size, size + 2):
        probes: list[socket.socket] = []
        try:
            for port in range(low, low + size + 1):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return low
    raise RuntimeError(f"no {size} free UDP ports in a row")


# --- the run ------------------------------------------------------------------


def run() -> list[Figure]:
    """Every N up to MOST through the hub, then the same through baresip's b2bua."""
    hub, baresip, notes = measure(list(range(MOST + 1)), CPU_WINDOW_S)
    print(table(hub, baresip))
    for note in notes:
        print(f"  note: {note}")
    return figures(hub, baresip)


def measure(counts: list[int], window_s: float) -> tuple[list[Round], list[Round], list[str]]:
    """The rounds through the hub and through baresip, and anything worth saying about them."""
    folder = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    notes: list[str] = []
    try:
        with ExitStack() as parts:
            kamailio = parts.enter_context(Kamailio(folder / "kamailio"))
            kamailio.start()
            phones: dict[str, list[PracticeLineProcess]] = {"staff": [], "family": []}
            for side, numbers, tone, answering in (
                # A member of staff presses 1 to be put through, as the whisper asks.
                ("staff", STAFF_PHONES, STAFF_TONE, ("0.5", "--press", "1", "--press-after", "2")),
                ("family", FAMILY_PHONES, FAMILY_TONE, ("1",)),
            ):
                greeting = write_tone(folder / f"tone-{int(tone)}.wav", tone, TONE_S, off_s=0)
                for number in numbers:
                    phone = PracticeLineProcess(
                        folder / number,
                        kamailio,
                        number,
                        "--ring",
                        *answering,
                        "--greeting",
                        str(greeting),
                    )
                    parts.callback(phone.stop)
                    phones[side].append(phone)
            hub = _hub_rounds(folder, kamailio, phones, counts, window_s, notes)
            baresip = _baresip_rounds(folder, kamailio, phones["family"], counts, window_s, notes)
    except BaseException:
        print(f"bench.bridge: kept {folder} (logs, recordings) to see what went wrong")
        raise
    shutil.rmtree(folder, ignore_errors=True)
    return hub, baresip, notes


def _slope(rounds: list[Round], cpu: Callable[[Round], float] = lambda r: r.cpu) -> float:
    """% of one core each bridged call adds: the least-squares line through every round."""
    if len(rounds) < 2:
        return float("nan")
    return float(np.polyfit([r.calls for r in rounds], [cpu(r) for r in rounds], 1)[0])


def _busiest(r: Round) -> float:
    return r.threads[0] if r.threads else 0.0


def most_clean(rounds: list[Round]) -> int:
    """The largest N up to which every round's recordings were all gap-free."""
    largest = 0
    for r in sorted(rounds, key=lambda r: r.calls):
        if r.calls and not r.clean:
            break
        largest = r.calls
    return largest


def on_a_pi(per_call: float) -> dict[str, float]:
    """Per-call CPU as % of one Pi core, on paper: this machine's figure times PI_SLOWER."""
    return {name: per_call * ratio for name, ratio in PI_SLOWER.items()}


def figures(hub: list[Round], baresip: list[Round]) -> list[Figure]:
    """The rounds as figures for results.json."""
    window = f"% of one core over {CPU_WINDOW_S:.0f} s"
    found: list[Figure] = []
    for name, label, rounds, others in (
        ("line", "Line daemon", hub, "the practice lines"),
        ("b2bua", "baresip b2bua", baresip, "the calling baresip and the practice lines"),
    ):
        for r in rounds:
            heard = (
                f"; {r.recordings - r.gappy - r.unheard} of {r.expected} recordings"
                f" gap-free for {SPAN_S:.0f} s"
                if r.calls
                else ""
            )
            found.append(
                Figure(
                    f"bridge.{name}.cpu.{r.calls}",
                    f"{label} CPU, {r.calls} bridged call{'' if r.calls == 1 else 's'}",
                    r.cpu,
                    "%",
                    note=f"{window}; busiest thread {_busiest(r):.1f} %; {others}"
                    f" {r.others:.1f} % (not counted){heard}",
                )
            )
        per_call, last = _slope(rounds), rounds[-1].calls
        paper = "; ".join(f"{pi} {cost:.0f} %" for pi, cost in on_a_pi(per_call).items())
        found.append(
            Figure(
                f"bridge.{name}.cpu.per_call",
                f"{label} CPU per bridged call",
                per_call,
                "%",
                note=f"{window}; least-squares slope through N = 0–{last}"
                f" ({_slope(rounds[1:]):.2f} % through N = 1–{last}: each call after the"
                f" first); busiest thread {_slope(rounds, _busiest):.2f} % a call. On paper, not"
                f" measured, per call as % of one Pi core: {paper} (Geekbench 6 single-core"
                " ratios, bridge.py)",
            )
        )
    found.append(
        Figure(
            "bridge.line.most_clean",
            "Bridged calls at once, every one gap-free",
            most_clean(hub),
            "calls",
            target=MOST,
            lower_is_better=False,
            note=f"[line] max_calls = {MOST}, the most the config allows; from the other"
            f" side first heard, every 20 ms window of {SPAN_S:.0f} s held its tone, both ways",
        )
    )
    return found


def table(hub: list[Round], baresip: list[Round]) -> str:
    """The rounds as a Markdown table, hub and baresip side by side."""
    lines = [
        "| N | line daemon % | Δ | busiest thread % | practice lines % | recordings gap-free"
        " | b2bua % | Δ | b2bua: family's recordings gap-free |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    by_n = {r.calls: r for r in baresip}
    last: dict[str, Round] = {}
    for r in hub:
        b = by_n.get(r.calls)
        cells = [str(r.calls), f"{r.cpu:.1f}", _step(r, last.get("hub")), f"{_busiest(r):.1f}",
                 f"{r.others:.1f}", _gaps(r)]  # fmt: skip
        if b is None:
            cells += ["", "", ""]
        else:
            cells += [f"{b.cpu:.1f}", _step(b, last.get("b2bua")), _gaps(b)]
            last["b2bua"] = b
        last["hub"] = r
        lines.append(f"| {' | '.join(cells)} |")
    worst = {r.calls: max(r.missing_ms, default=0) for r in hub if r.calls}
    lines += [
        "",
        f"per call: line daemon {_slope(hub):.2f} % (busiest thread {_slope(hub, _busiest):.2f} %),"
        f" b2bua {_slope(baresip):.2f} %; gap-free up to N = {most_clean(hub)};"
        f" worst recording's missing ms by N: {worst}",
        "on paper: "
        + ", ".join(f"{pi} {cost:.0f} % a call" for pi, cost in on_a_pi(_slope(hub)).items()),
    ]
    return "\n".join(lines)


def _step(now: Round, before: Round | None) -> str:
    return "" if before is None else f"{now.cpu - before.cpu:+.1f}"


def _gaps(r: Round) -> str:
    if not r.calls:
        return "—"
    text = f"{r.recordings - r.gappy - r.unheard}/{r.expected}"
    if r.unheard:
        text += f" ({r.unheard} never heard)"
    if r.gappy:
        text += f" (worst {max(r.missing_ms):.0f} ms missing)"
    return text


def main(argv: list[str] | None = None) -> int:
    """A look without writing results: ``--most`` calls at most, ``--window`` s of CPU."""
    parser = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__)
    parser.add_argument("--most", type=int, default=2, help="up to this many calls (default 2)")
    parser.add_argument("--window", type=float, default=3.0, help="CPU window, s (default 3)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    hub, baresip, notes = measure(list(range(args.most + 1)), args.window)
    print(table(hub, baresip))
    for note in notes:
        print(f"note: {note}")
    print(
        f"took {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f};"
        f" median hub CPU {statistics.median(r.cpu for r in hub):.1f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
