"""The line daemon's footprint beside baresip's, and how soon it registers again.

Everything is real and on 127.0.0.1: the tests' Kamailio, the line daemon
(``phonehub line`` with a SQLite database, configured as the line tests do), Debian's
baresip as the comparison, sending a tone so both ends have audio, and for each of
them a practice line (``phonehub practice-line``) as the family that answers at once.

* memory: resident memory (VmRSS) when registered and idle; then after 20
  warm-up calls and after 500 more, each time once the line has been idle for
  ``SETTLE_S`` (pjsip keeps a call's dialog until its INVITE transactions time
  out, 32 s after the call on UDP). Growth is the second minus the first. The
  daemon's calls are dialled as the panel dials them: an attempt row, ``dial`` on
  the control socket, ``hangup`` once answered; baresip's go through ctrl_tcp.
  Both callers make their calls at the same time.
* CPU: % of one core, idle (10 s) and during a call with audio both ways (10 s).
* recovery: Kamailio restarted just after a keepalive reached it (down about a
  second), then stopped for 10 s and started; seconds from Kamailio answering
  again to the daemon saying "registered" and Kamailio holding its binding.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import Figure, cpu_seconds, rss_mb
from hub.db import open_database
from tests.baresip import Baresip
from tests.kamailio import Kamailio
from tests.line.conftest import HUB_USER, Family, LineProcess, PracticeLineProcess

WARM_UP = 20
CALLS = 500
# One call at most every 0.1 s: pjsip's select() ioqueue has 64 socket slots and frees
# a closed socket's slot 0.5 s later, so back-to-back 25 ms calls (two sockets each)
# run it out and pjsip aborts the process.
CALL_EVERY_S = 0.1
SETTLE_S = 40.0  # idle this long before memory is read: pjsip's Timer D (32 s) has run
CPU_WINDOW_S = 10.0
RECOVERY_CAP_S = 75.0  # stop waiting after this long: past the default [sip] reregister_s
DOWN_S = 10.0
# Ofcom drama range: a practice line answers as each; one each, as one pjsua process
# taking both callers' calls at once runs out of sockets (pjsip's select() ioqueue).
CALLEE, BARESIP_CALLEE = "07700900126", "07700900127"
BARESIP_USER, BARESIP_PASSWORD = "07700900200", "bench-baresip-secret"
WAIT_S = 10.0
# Far past the real limits: hundreds of calls to one number in minutes.
DIALPLAN = {
    "per_staff_per_hour": 100_000,
    "per_number_per_day": 100_000,
    "per_hub_per_day": 100_000,
}


class TonePhone(Baresip):
    """The tests' baresip, with a 440 Hz tone as its microphone so it sends audio too."""

    def _write_config(self) -> None:
        super()._write_config()
        config = self.folder / "config"
        config.write_text(
            config.read_text()
            + "module\t\t\tausine.so\naudio_source\t\tausine,440\n"
            + "ausrc_srate\t\t48000\nausrc_channels\t\t2\n"
        )


class HubCaller:
    """Makes calls through the line daemon's control socket, as the call desk does."""

    def __init__(self, line: LineProcess, family: Family, number_id: int) -> None:
        self.line = line
        self.family = family
        self.number_id = number_id
        self.events = line.client.events()
        next(self.events)  # the status comes first; the subscription is live after it

    @property
    def pid(self) -> int:
        assert self.line.process is not None
        return self.line.process.pid

    def dial(self) -> int:
        """Dial a new attempt; returns once it is answered."""
        attempt = self.family.attempt(self.number_id)
        self.line.client.request("dial", attempt=attempt)
        self._wait(attempt, "answered")
        return attempt

    def hang_up(self, attempt: int) -> None:
        self.line.client.request("hangup")
        self._wait(attempt, "ended")

    def _wait(self, attempt: int, state: str) -> None:
        for event in self.events:
            if event.get("event") == "call" and event.get("attempt") == attempt:
                if event["state"] == state:
                    return
                if event["state"] == "ended":
                    raise RuntimeError(f"call {attempt} ended before it was {state}: {event}")
        raise RuntimeError("the line daemon closed its event stream")


class BaresipCaller:
    """Makes calls through baresip's ctrl_tcp."""

    def __init__(self, phone: Baresip, uri: str) -> None:
        self.phone = phone
        self.uri = uri
        self.made = 0

    @property
    def pid(self) -> int:
        process = self.phone._process
        assert process is not None
        return process.pid

    def dial(self) -> int:
        self.made += 1
        self.phone.dial(self.uri)
        _poll(lambda: len(self.phone.events("CALL_ESTABLISHED")) >= self.made, "an answer")
        return self.made

    def hang_up(self, _call: int) -> None:
        self.phone.hangup()
        _poll(lambda: self.phone.calls_ended() >= self.made, "the call to end")


Caller = HubCaller | BaresipCaller


def run() -> list[Figure]:
    """Memory, CPU and recovery, with one Kamailio, practice line, daemon and baresip."""
    folder = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    try:
        with ExitStack() as parts:
            kamailio = parts.enter_context(Kamailio(folder / "kamailio"))
            kamailio.start()
            for number in (CALLEE, BARESIP_CALLEE):
                callee = PracticeLineProcess(folder / number, kamailio, number, "--ring", "0")
                parts.callback(callee.stop)
            line = LineProcess(folder / "line", kamailio, dialplan=DIALPLAN)
            line.start()
            parts.callback(line.stop)
            kamailio.add_user(BARESIP_USER, BARESIP_PASSWORD)
            phone = parts.enter_context(
                TonePhone(
                    folder / "baresip",
                    user=BARESIP_USER,
                    password=BARESIP_PASSWORD,
                    registrar=kamailio,
                )
            )
            phone.start()
            database = parts.enter_context(open_database(line.database_url))
            family = Family(database)
            hub = HubCaller(line, family, family.number("+44" + CALLEE[1:]))
            baresip = BaresipCaller(phone, f"sip:{BARESIP_CALLEE}@{kamailio.domain}")
            return _measure(kamailio, line, hub, baresip)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(
    kamailio: Kamailio, line: LineProcess, hub: HubCaller, baresip: BaresipCaller
) -> list[Figure]:
    callers: dict[str, Caller] = {"line": hub, "baresip": baresip}
    time.sleep(3)
    idle = {name: rss_mb(c.pid) for name, c in callers.items()}
    _together(callers, lambda c: _calls(c, WARM_UP))
    in_call = _together(callers, _cpu_in_call)
    quiet_from = time.monotonic()
    time.sleep(5)
    idle_cpu = _cpu({name: c.pid for name, c in callers.items()})
    _sleep_until(quiet_from + SETTLE_S)
    warm = {name: rss_mb(c.pid) for name, c in callers.items()}
    started = time.monotonic()
    _together(callers, lambda c: _calls(c, CALLS))
    calls_s = time.monotonic() - started
    quiet_from = time.monotonic()
    # The restarts happen while the memory settles; no call is made after them.
    quick = _recovery(kamailio, line, down_s=0)
    down = _recovery(kamailio, line, down_s=DOWN_S)
    _sleep_until(quiet_from + SETTLE_S)
    after = {name: rss_mb(c.pid) for name, c in callers.items()}

    how = (
        f"VmRSS after {WARM_UP} warm-up calls, then after {CALLS} more"
        f" ({calls_s:.0f} s of calls, one at most every {CALL_EVERY_S} s, both callers at"
        " once), each read"
        f" {SETTLE_S:.0f} s after the last call"
    )
    figures = [
        Figure(
            "daemon.line.rss.idle",
            "Line daemon RSS, registered and idle",
            idle["line"],
            "MB",
            target=45,
            note="VmRSS before any call; Python with SQLAlchemy's ORM is about 45 MB and"
            " pjsua2's bindings 10 MB before any of the hub's own work",
        ),
        Figure(
            "daemon.line.rss.after_calls",
            f"Line daemon RSS after {CALLS} calls",
            after["line"],
            "MB",
            note=how,
        ),
        Figure(
            "daemon.line.rss.growth",
            f"Line daemon RSS growth over {CALLS} calls",
            after["line"] - warm["line"],
            "MB",
            target=2,
            note=how,
        ),
        Figure(
            "daemon.baresip.rss.idle", "baresip RSS, registered and idle", idle["baresip"], "MB"
        ),
        Figure(
            "daemon.baresip.rss.after_calls",
            f"baresip RSS after {CALLS} calls",
            after["baresip"],
            "MB",
        ),
        Figure(
            "daemon.baresip.rss.growth",
            f"baresip RSS growth over {CALLS} calls",
            after["baresip"] - warm["baresip"],
            "MB",
            note="measured as the line's",
        ),
    ]
    for name, label in (("line", "Line daemon"), ("baresip", "baresip")):
        figures += [
            Figure(
                f"daemon.{name}.cpu.idle",
                f"{label} CPU, idle",
                idle_cpu[name],
                "%",
                note=f"% of one core over {CPU_WINDOW_S:.0f} s",
            ),
            Figure(
                f"daemon.{name}.cpu.call",
                f"{label} CPU, in a call with audio",
                in_call[name],
                "%",
                note=f"% of one core over {CPU_WINDOW_S:.0f} s",
            ),
        ]
    timed = "timed from Kamailio answering the fixture's ping (to about 0.25 s)"
    for key, label, (seconds, note) in (
        ("quick", "after a quick registrar restart", quick),
        ("down", f"after the registrar was down {DOWN_S:.0f} s", down),
    ):
        how = (
            "restarted just after a keepalive: the forgotten binding returns once a"
            " later keepalive goes unanswered, else at the periodic REGISTER ([sip]"
            f" reregister_s, default 60 s); {timed}"
            if key == "quick"
            else timed
        )
        figures.append(
            Figure(
                f"daemon.recovery.{key}",
                f"Registered again {label}",
                seconds,
                "s",
                target=10,
                note=f"{note}; {how}" if note else how,
            )
        )
    return figures


def _together(callers: dict[str, Caller], work: Callable[[Caller], Any]) -> dict[str, Any]:
    """Run ``work`` for every caller at once, each on a thread; their results by name."""
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def one(name: str, caller: Caller) -> None:
        try:
            results[name] = work(caller)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=one, args=item, name=f"bench-{item[0]}") for item in callers.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _calls(caller: Caller, count: int) -> None:
    due = time.monotonic()
    for _ in range(count):
        _sleep_until(due)
        due = time.monotonic() + CALL_EVERY_S
        caller.hang_up(caller.dial())


def _cpu_in_call(caller: Caller) -> float:
    call = caller.dial()
    time.sleep(1)  # past the answer's own work
    used = _cpu({"caller": caller.pid})["caller"]
    caller.hang_up(call)
    return used


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    """% of one core each process used over CPU_WINDOW_S."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(CPU_WINDOW_S)
    elapsed = time.monotonic() - started
    return {name: (cpu_seconds(pid) - before[name]) / elapsed * 100 for name, pid in pids.items()}


def _recovery(kamailio: Kamailio, line: LineProcess, *, down_s: float) -> tuple[float, str]:
    """Seconds from Kamailio answering again to the line registered there again."""
    if down_s:
        kamailio.stop()
        time.sleep(down_s)
    else:
        # Just after a keepalive: the worst moment, as the next one is furthest away.
        _keepalive_arrived(kamailio)
        kamailio.stop()
    kamailio.start()
    back = time.monotonic()
    while time.monotonic() - back < RECOVERY_CAP_S:
        if line.status()["registration"] == "registered" and kamailio.registered(HUB_USER):
            return time.monotonic() - back, ""
        time.sleep(0.1)
    return RECOVERY_CAP_S, f"not registered again within {RECOVERY_CAP_S:.0f} s (stopped waiting)"


def _keepalive_arrived(kamailio: Kamailio) -> None:
    """Return just after the next OPTIONS keepalive reaches Kamailio (read from its log)."""
    with kamailio.log_path.open("rb") as log:
        log.seek(0, 2)
        found = b""

        def arrived() -> bool:
            nonlocal found
            found = (found + log.read())[-4096:]
            return b"\nOPTIONS sip:" in found

        _poll(arrived, "a keepalive", timeout=15, interval=0.02)


def _poll(
    predicate: Callable[[], bool], what: str, timeout: float = WAIT_S, interval: float = 0.005
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))
