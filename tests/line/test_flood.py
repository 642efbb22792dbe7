"""SIP traffic the line does not want cannot take it down.

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
from tests.line.conftest import HUB_USER, Family, LineProcess, wait_until
from tests.sipp import run_sipp

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
