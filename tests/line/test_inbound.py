"""SIP traffic the line does not want is refused, and cannot take it down.

Floods from SIPp (tests/sipp/) and malformed datagrams from a small sender, all on
127.0.0.1, at a line that re-registers every 5 seconds so that its renewals and
keepalives have to get through the flood. Afterwards, what staff would notice: the
same daemon still running, still registered, answering ``phonehub status`` all along,
and a call placed straight away connects. Every loop is bounded in count and time.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hub.db import open_database
from hub.models import EndReason
from tests.kamailio import Kamailio
from tests.line.conftest import HUB_USER, Family, LineProcess, free_port, wait_until
from tests.sipp import run_sipp

# Floods of SIP traffic, timed: they load the machine and measure it.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone

FLOOD_CALLS, FLOOD_RATE = 2000, 200  # ten seconds of it


@pytest.fixture
def line(make_line, kamailio: Kamailio, practice_line) -> LineProcess:
    """A registered line with the practice line to call; it re-registers every 5 s."""
    line = make_line(kamailio, sip={"reregister_s": 5})
    line.start()
    return line


@pytest.fixture
def rows(line: LineProcess) -> Iterator[Family]:
    """The line's database, as the panel would write it."""
    with open_database(line.database_url) as database:
        yield Family(database)


class StatusWatch:
    """Asks for the line's status every 0.2 s on a thread, as the Hub status page would."""

    def __init__(self, line: LineProcess) -> None:
        self.line = line
        self.answers: list[tuple[float, str]] = []  # (seconds it took, registration or error)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="status-watch")

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            asked = time.monotonic()
            try:
                answer = self.line.status()["registration"]
            except Exception as exc:  # any failure is what the test reports
                answer = repr(exc)
            self.answers.append((time.monotonic() - asked, answer))

    def __enter__(self) -> StatusWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the status watch did not end"


class EventWatch:
    """Follows the line's events on a thread, as the panel would; keeps the refusals."""

    def __init__(self, line: LineProcess) -> None:
        self.refusals: list[dict[str, Any]] = []
        self._events = line.client.events()
        next(self._events)  # the status: subscribed from here on
        self._thread = threading.Thread(target=self._follow, name="event-watch", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        # Ends when the daemon stops at the end of the test and closes the stream.
        for event in self._events:
            if event.get("event") == "inbound_refused":
                self.refusals.append(event)

    def refused(self) -> int:
        """How many refusals the events have counted so far."""
        return sum(event["count"] for event in list(self.refusals))


def assert_unharmed(line: LineProcess, kamailio: Kamailio, rows: Family) -> None:
    """The same daemon runs, is registered, and a call placed now connects."""
    # The daemon the test started is still running (a restart would be a new process).
    assert line.process.poll() is None, f"the line daemon died:\n{line.log()[-3000:]}"
    assert line.status()["registration"] == "registered"
    assert kamailio.registered(HUB_USER)
    attempt = rows.attempt(rows.number("+447700900123"))
    asked = time.monotonic()
    line.client.request("dial", attempt=attempt)
    wait_until(lambda: rows.row(attempt).answered_at, timeout=15, what="the call to be answered")
    print(f"a call placed after the flood was answered in {time.monotonic() - asked:.1f} s")
    line.client.request("hangup")
    row = wait_until(lambda: (r := rows.row(attempt)).end_reason and r, what="the call to end")
    assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")


def assert_answered_throughout(watch: StatusWatch) -> None:
    """Every status request during the flood was answered promptly, and said registered."""
    assert len(watch.answers) >= 20
    slow = [seconds for seconds, _ in watch.answers if seconds > 2]
    assert not slow, f"status took {max(slow):.1f} s during the flood"
    assert {answer for _, answer in watch.answers} == {"registered"}, watch.answers


def new_lines(line: LineProcess, before: str) -> list[str]:
    """What the daemon has logged since its log was ``before``."""
    return line.log()[len(before) :].splitlines()


def test_an_invite_flood_is_refused_and_the_line_carries_on(line, kamailio, rows, tmp_path):
    registers = len(kamailio.messages("REGISTER"))
    log = line.log()
    events = EventWatch(line)
    with StatusWatch(line) as watch:
        started = time.monotonic()
        flood = run_sipp("unwanted_invite.xml", line.sip_port, tmp_path / "sipp",
                         calls=FLOOD_CALLS, rate=FLOOD_RATE)  # fmt: skip
        seconds = time.monotonic() - started
    # Every INVITE was refused with 603 Decline (SIPp fails a call on anything else).
    assert (flood.status, flood.successful) == (0, FLOOD_CALLS), flood.output
    assert_answered_throughout(watch)
    assert len(kamailio.messages("REGISTER")) > registers  # renewed during the flood
    # Counted to the last, yet told in one event a second (the first at once, the last
    # just after the flood) and one log line.
    wait_until(lambda: events.refused() == FLOOD_CALLS, timeout=5, what="every refusal counted")
    assert len(events.refusals) <= seconds + 3
    assert len(new_lines(line, log)) <= 2, new_lines(line, log)
    assert_unharmed(line, kamailio, rows)


def test_an_options_flood_is_answered_and_the_line_carries_on(line, kamailio, rows, tmp_path):
    registers = len(kamailio.messages("REGISTER"))
    log = line.log()
    with StatusWatch(line) as watch:
        flood = run_sipp("options.xml", line.sip_port, tmp_path / "sipp",
                         calls=FLOOD_CALLS, rate=FLOOD_RATE)  # fmt: skip
    # Every OPTIONS had its 200 OK: a trunk checking on the hub would see it there.
    assert (flood.status, flood.successful) == (0, FLOOD_CALLS), flood.output
    assert_answered_throughout(watch)
    assert len(kamailio.messages("REGISTER")) > registers
    assert new_lines(line, log) == []
    assert_unharmed(line, kamailio, rows)


def _request(method: str, port: int, reply_port: int, *, headers: str = "", body: str = "",
             length: int | None = None) -> bytes:  # fmt: skip
    """One out-of-dialog request to the line, from 127.0.0.1:``reply_port``."""
    if length is None:
        length = len(body.encode())
    return (
        f"{method} sip:hub@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{reply_port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:07700900999@127.0.0.1:{reply_port}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:hub@127.0.0.1:{port}>\r\n"
        f"Call-ID: {uuid.uuid4().hex}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:07700900999@127.0.0.1:{reply_port}>\r\n"
        f"Max-Forwards: 70\r\n{headers}"
        f"Content-Length: {length}\r\n\r\n{body}"
    ).encode()


OFFER = (
    "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
)


def malformed(port: int, reply_port: int) -> dict[str, bytes]:
    """Datagrams no SIP stack should choke on, by what is wrong with each."""

    def invite(**options: Any) -> bytes:
        sdp = {"headers": "Content-Type: application/sdp\r\n", "body": OFFER}
        return _request("INVITE", port, reply_port, **{**sdp, **options})

    whole = invite()
    return {
        "garbage": random.Random(10).randbytes(1400),
        "a truncated INVITE": whole[: len(whole) // 3],
        "an INVITE with a 60 KB header": invite(
            headers=f"X-Padding: {'a' * 60_000}\r\nContent-Type: application/sdp\r\n"
        ),
        "an INVITE whose Content-Length is too long": invite(length=len(OFFER) + 500),
        "an INVITE whose Content-Length is too short": invite(length=10),
    }


def test_malformed_datagrams_do_not_take_the_line_down(line, kamailio, rows):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        sender.settimeout(2)
        reply_port = sender.getsockname()[1]
        for what, datagram in malformed(line.sip_port, reply_port).items():
            for _ in range(3):
                sender.sendto(datagram, ("127.0.0.1", line.sip_port))
            # Straight after it, the line still answers SIP: OPTIONS gets its 200.
            ping = _request("OPTIONS", line.sip_port, reply_port)
            sender.sendto(ping, ("127.0.0.1", line.sip_port))
            call_id = next(h for h in ping.split(b"\r\n") if h.startswith(b"Call-ID"))
            deadline = time.monotonic() + 5
            while True:
                assert time.monotonic() < deadline, f"no answer to OPTIONS after {what}"
                try:
                    reply = sender.recv(65535)
                except TimeoutError:
                    continue
                if call_id in reply:
                    break
            assert reply.startswith(b"SIP/2.0 200 "), (what, reply[:80])
    assert_unharmed(line, kamailio, rows)


@pytest.mark.parametrize(("method", "status"), [("INVITE", 603), ("SUBSCRIBE", 403)])
def test_a_stranger_gets_one_answer_and_nothing_more(make_line, method, status):
    """No 100 Trying, no resent refusals, no NOTIFYs: a flood cannot be made bigger here."""
    line = make_line(None, sip={"domain": "127.0.0.1"})
    line.start(wait_for="not_needed")
    headers = "Event: presence\r\nExpires: 600\r\n" if method == "SUBSCRIBE" else ""
    body = OFFER if method == "INVITE" else ""
    if body:
        headers += "Content-Type: application/sdp\r\n"
    heard: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.settimeout(0.2)
        port = stranger.getsockname()[1]
        for _ in range(50):  # and never an ACK, nor an answer to anything
            request = _request(method, line.sip_port, port, headers=headers, body=body)
            stranger.sendto(request, ("127.0.0.1", line.sip_port))
        # pjsip resends an unacknowledged refusal after 0.5 s and 1.5 s; listen past both.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            try:
                first_line = stranger.recv(65535).split(b"\r\n", 1)[0].decode()
            except TimeoutError:
                continue
            heard.append(first_line)
    assert heard == [f"SIP/2.0 {status} {'Decline' if status == 603 else 'Forbidden'}"] * 50
    assert line.status()["call"] is None
    assert line.process.poll() is None


# Loaded by the daemon's Python at start (PYTHONPATH): a pjsua2 build without the
# exports the refusal beneath pjsua needs.
_WITHOUT_REFUSAL = """\
import hub.line.sip
from hub.exceptions import LineError


def _missing():
    raise LineError("this build has no pjsip exports (a test)")


hub.line.sip.InboundRefusal = _missing
"""


def test_without_the_refusal_beneath_pjsua_an_inbound_call_is_still_declined(make_line, tmp_path):
    patch = tmp_path / "patch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(_WITHOUT_REFUSAL)
    line = make_line(None, sip={"domain": "127.0.0.1"})
    line.start(wait_for="not_needed", env={"PYTHONPATH": str(patch)})
    assert "inbound calls will be refused the costly way" in line.log()
    events = EventWatch(line)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        caller.bind(("127.0.0.1", 0))
        caller.settimeout(5)
        invite = _request("INVITE", line.sip_port, caller.getsockname()[1],
                          headers="Content-Type: application/sdp\r\n", body=OFFER)  # fmt: skip
        caller.sendto(invite, ("127.0.0.1", line.sip_port))
        statuses = [int(caller.recv(65535).split(b" ", 2)[1]) for _ in range(2)]
    assert statuses == [100, 603]  # pjsua's way: Trying, then the line's Decline
    wait_until(lambda: events.refused() == 1, timeout=5, what="the refusal's event")
    assert line.status()["call"] is None


def test_an_inbound_call_is_refused(hub_line: LineProcess):
    local = free_port()
    invite = (
        f"INVITE sip:hub-office@127.0.0.1:{hub_line.sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKinbound1;rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:07700900999@127.0.0.1>;tag=caller1\r\n"
        f"To: <sip:hub-office@127.0.0.1>\r\n"
        "Call-ID: inbound-test-1\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:07700900999@127.0.0.1:{local}>\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", local))
        sock.settimeout(5)
        sock.sendto(invite.encode(), ("127.0.0.1", hub_line.sip_port))
        finals = []
        while not finals:
            reply = sock.recv(65536).decode()
            status = int(reply.split(" ", 2)[1])
            if status >= 200:
                finals.append(status)
    assert finals == [603]
    assert hub_line.status()["call"] is None
