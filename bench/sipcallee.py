"""A timestamping SIP callee: the far end of the benchmarks' calls, a measuring instrument.

It registers one or more numbers at a registrar (the tests' Kamailio) over UDP on
127.0.0.1, so the registrar routes calls for those numbers to it, and then:

* stamps each request with the moment the kernel received it (SO_TIMESTAMPNS), on
  the ``time.monotonic_ns()`` clock, so this process's own wake-up is not measured
  (CLOCK_MONOTONIC is system-wide on Linux: the stamps compare with other
  processes' ``time.monotonic_ns()``);
* answers an INVITE at once with 100 Trying, 180 Ringing and 200 OK carrying an SDP
  answer to the caller's offer (PCMU or PCMA, so pjsua and baresip set up their
  media as usual), or with ``--busy`` with 100 Trying and 486 Busy Here;
* notes the ACK, answers BYE (and CANCEL, OPTIONS) with 200 OK, and resends its
  200 OK until the ACK arrives, as RFC 3261 asks of a UAS on UDP.

Each event is one JSON line on stdout, e.g.
``{"event": "invite", "t_ns": 123, "call_id": "…", "user": "07700900001"}``; the
events are "ready" (every number is registered), "invite", "ack", "bye", "cancel".
An "ack" says which final status it acknowledges. SIGTERM unregisters and exits.
Audio sent to it is read and thrown away; it sends none. With ``--echo PATH`` it
is a mirror instead: every RTP packet goes straight back to its sender (under an
SSRC of its own), and is appended to PATH with its arrival time, so a caller's
delay can be split at the network (see ``read_echo_log``).

    python -m bench.sipcallee --registrar 127.0.0.1:5060 --password pw 07700900001
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import select
import signal
import socket
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import BinaryIO

T1_S, T2_S, GIVE_UP_S = 0.5, 4.0, 32.0  # RFC 3261's timers for resending a 2xx
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type"}  # fmt: skip
G711 = {"0": "PCMU/8000", "8": "PCMA/8000"}
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 lacks the name
ECHO_SSRC = b"echo"  # the mirror's own SSRC: a packet with the caller's own may be refused
_ECHO_RECORD = struct.Struct("<qI")  # arrival (monotonic ns), length; then the RTP packet


@dataclass
class Message:
    """One SIP message: its first line, headers in order (names lower-case), body."""

    first: str
    headers: list[tuple[str, str]]
    body: str

    @classmethod
    def parse(cls, raw: bytes) -> Message:
        head, _, body = raw.decode("utf-8", "replace").partition("\r\n\r\n")
        first, *lines = head.split("\r\n")
        headers: list[tuple[str, str]] = []
        for line in lines:
            if line[:1] in (" ", "\t") and headers:  # a folded line continues the last
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers.append((COMPACT.get(name, name), value.strip()))
        return cls(first, headers, body)

    def get(self, name: str) -> str:
        return next((value for key, value in self.headers if key == name), "")

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    @property
    def method(self) -> str:
        return "" if self.first.startswith("SIP/2.0") else self.first.split(" ", 1)[0]

    @property
    def status(self) -> int:
        return int(self.first.split(" ", 2)[1]) if self.first.startswith("SIP/2.0") else 0


@dataclass
class Call:
    """What the callee remembers of one INVITE until its ACK (and BYE)."""

    invite: Message
    source: tuple[str, int]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    final: int = 0
    last_response: bytes = b""
    acked: bool = False
    resend_at: float = 0.0  # while a 2xx waits for its ACK
    interval: float = T1_S
    give_up_at: float = 0.0


class Callee:
    """The SIP user agent: ``register``, then ``serve`` until stopped, then ``unregister``."""

    def __init__(self, registrar: tuple[str, int], users: list[str], password: str, *,
                 busy: bool = False, domain: str = "127.0.0.1",
                 echo: BinaryIO | None = None) -> None:  # fmt: skip
        self.registrar = registrar
        self.users = users
        self.password = password
        self.busy = busy
        self.domain = domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.port = self.sock.getsockname()[1]
        self.rtp, self.rtcp = _rtp_pair()
        self.echo = echo
        if echo is not None:
            self.rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.calls: dict[str, Call] = {}
        self.stopping = False
        self._register_ids = {user: uuid.uuid4().hex for user in users}
        self._cseq = 0

    # --- output ---------------------------------------------------------

    def emit(self, event: str, t_ns: int | None = None, **fields: object) -> None:
        """One event as a JSON line on stdout."""
        record = {"event": event, "t_ns": t_ns if t_ns is not None else time.monotonic_ns()}
        print(json.dumps({**record, **fields}), flush=True)

    # --- registration ---------------------------------------------------

    def register(self, expires: int = 3600) -> None:
        """REGISTER every number (answering the digest challenge); raises if refused."""
        for user in self.users:
            reply = self._register(user, expires, None)
            if reply.status == 401:
                reply = self._register(user, expires, reply.get("www-authenticate"))
            if reply.status // 100 != 2:
                raise RuntimeError(f"REGISTER for {user} answered {reply.first}")

    def unregister(self) -> None:
        """Remove every binding (Expires: 0), so the registrar routes nothing more here."""
        try:
            self.register(expires=0)
        except (OSError, RuntimeError) as exc:
            print(f"sipcallee: could not unregister: {exc}", file=sys.stderr)

    def _register(self, user: str, expires: int, challenge: str | None) -> Message:
        uri = f"sip:{self.domain}"
        self._cseq += 1
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch=z9hG4bK{uuid.uuid4().hex}",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{self.domain}>;tag={uuid.uuid4().hex[:10]}",
            f"To: <sip:{user}@{self.domain}>",
            f"Call-ID: {self._register_ids[user]}",
            f"CSeq: {self._cseq} REGISTER",
            f"Contact: <sip:{user}@127.0.0.1:{self.port}>",
            f"Expires: {expires}",
        ]
        if challenge:
            answer = _digest(challenge, "REGISTER", uri, user, self.password)
            lines.append(f"Authorization: {answer}")
        request = ("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode()
        want = f"{self._cseq} REGISTER"
        for _ in range(5):  # UDP: resend if the answer is lost
            self.sock.sendto(request, self.registrar)
            deadline = time.monotonic() + 1.0
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    break
                raw, source = self.sock.recvfrom(65535)
                reply = Message.parse(raw)
                if reply.status >= 200 and reply.get("cseq") == want:
                    return reply
                if reply.method:  # a request while registering (another number's call)
                    self._handle(reply, source, time.monotonic_ns())
        raise RuntimeError(f"the registrar did not answer REGISTER for {user}")

    # --- serving --------------------------------------------------------

    def serve(self) -> None:
        """Answer calls until ``stopping`` is set (by SIGTERM)."""
        media = [self.rtp, self.rtcp]
        while not self.stopping:
            now = time.monotonic()
            waits = [c.resend_at - now for c in self.calls.values() if c.resend_at]
            timeout = max(0.0, min([0.2, *waits]))
            try:
                ready, _, _ = select.select([self.sock, *media], [], [], timeout)
            except InterruptedError:
                continue
            for sock in ready:
                if sock is self.rtp and self.echo is not None:
                    self._mirror()
                    continue
                if sock is not self.sock:
                    sock.recv(65535)  # audio: read and dropped
                    continue
                raw, source, arrived = self._receive()
                if len(raw) > 32:  # shorter is a keep-alive
                    message = Message.parse(raw)
                    if message.method:
                        self._handle(message, source, arrived)
            self._resend()

    def _mirror(self) -> None:
        """Send an RTP packet straight back, and log it with its arrival time."""
        assert self.echo is not None
        packet, source, arrived = self._receive(self.rtp)
        if len(packet) < 12:
            return
        self.rtp.sendto(packet[:8] + ECHO_SSRC + packet[12:], source)
        self.echo.write(_ECHO_RECORD.pack(arrived, len(packet)) + packet)
        self.echo.flush()

    def _receive(self, sock: socket.socket | None = None) -> tuple[bytes, tuple[str, int], int]:
        """One datagram, its sender, and when the kernel received it (monotonic ns)."""
        raw, ancillary, _flags, source = (sock or self.sock).recvmsg(65535, 64)
        now = time.monotonic_ns()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                # CLOCK_REALTIME from the kernel, moved onto the monotonic clock.
                return raw, source, seconds * 10**9 + nanoseconds - (time.time_ns() - now)
        return raw, source, now

    def _handle(self, request: Message, source: tuple[str, int], arrived: int) -> None:
        method = request.method
        call_id = request.get("call-id")
        call = self.calls.get(call_id)
        if method == "INVITE":
            if call is not None and request.get("cseq") == call.invite.get("cseq"):
                if call.last_response:  # a resent INVITE gets the last answer again
                    self.sock.sendto(call.last_response, source)
                return
            in_dialog = call is not None and "tag=" in request.get("to")
            call = Call(request, source, tag=call.tag if in_dialog and call else _tag())
            self.calls[call_id] = call
            if not in_dialog:
                self.emit("invite", arrived, call_id=call_id, user=_user(request.first))
            self._answer(call, in_dialog)
        elif method == "ACK":
            if call is None or call.acked:
                return
            call.acked, call.resend_at = True, 0.0
            self.emit("ack", arrived, call_id=call_id, status=call.final)
            if call.final >= 300:
                del self.calls[call_id]
        elif method == "BYE":
            self._send(request, source, 200, "OK")
            self.emit("bye", arrived, call_id=call_id)
            self.calls.pop(call_id, None)
        elif method == "CANCEL":
            self._send(request, source, 200, "OK")
            self.emit("cancel", arrived, call_id=call_id)
            if call is not None and not call.final:
                call.final = 487
                call.last_response = self._send(call.invite, call.source, 487,
                                                "Request Terminated", tag=call.tag)  # fmt: skip
        elif method == "OPTIONS":
            self._send(request, source, 200, "OK")
        else:
            self._send(request, source, 501, "Not Implemented")

    def _answer(self, call: Call, in_dialog: bool) -> None:
        invite, source = call.invite, call.source
        if not in_dialog:
            self._send(invite, source, 100, "Trying")
        if self.busy and not in_dialog:
            call.final = 486
            call.last_response = self._send(invite, source, 486, "Busy Here", tag=call.tag)
            return
        if not in_dialog:
            self._send(invite, source, 180, "Ringing", tag=call.tag)
        body = answer_sdp(invite.body, self.rtp.getsockname()[1])
        call.final = 200
        call.last_response = self._send(invite, source, 200, "OK", tag=call.tag, body=body)
        now = time.monotonic()
        call.resend_at, call.interval, call.give_up_at = now + T1_S, T1_S, now + GIVE_UP_S

    def _resend(self) -> None:
        """Send each unacknowledged 200 OK again, T1 doubling to T2, for 32 s at most."""
        now = time.monotonic()
        for call_id, call in list(self.calls.items()):
            if not call.resend_at or now < call.resend_at:
                continue
            if now >= call.give_up_at:
                del self.calls[call_id]
                continue
            self.sock.sendto(call.last_response, call.source)
            call.interval = min(call.interval * 2, T2_S)
            call.resend_at = now + call.interval

    def _send(self, request: Message, source: tuple[str, int], status: int, reason: str, *,
              tag: str = "", body: str = "") -> bytes:  # fmt: skip
        """Answer ``request``: its Via, From, Call-ID and CSeq copied, our tag added to To."""
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {via}" for via in request.all("via")]
        dialog = request.method == "INVITE" and 100 < status < 300
        if dialog:
            lines += [f"Record-Route: {route}" for route in request.all("record-route")]
        to = request.get("to")
        if tag and "tag=" not in to:
            to += f";tag={tag}"
        lines += [f"From: {request.get('from')}", f"To: {to}",
                  f"Call-ID: {request.get('call-id')}", f"CSeq: {request.get('cseq')}"]  # fmt: skip
        if dialog:
            lines.append(f"Contact: <sip:{_user(request.first)}@127.0.0.1:{self.port}>")
        if body:
            lines.append("Content-Type: application/sdp")
        lines += [f"Content-Length: {len(body.encode())}", "", body]
        raw = "\r\n".join(lines).encode()
        self.sock.sendto(raw, source)
        return raw

    def close(self) -> None:
        for sock in (self.sock, self.rtp, self.rtcp):
            sock.close()


def read_echo_log(path: Path) -> list[tuple[int, bytes]]:
    """The packets a ``--echo`` callee mirrored: (arrival, monotonic ns; the RTP packet)."""
    data, found, at = path.read_bytes(), [], 0
    while at + _ECHO_RECORD.size <= len(data):
        arrived, size = _ECHO_RECORD.unpack_from(data, at)
        at += _ECHO_RECORD.size
        found.append((arrived, data[at : at + size]))
        at += size
    return found


def answer_sdp(offer: str, rtp_port: int) -> str:
    """An SDP answer taking G.711 audio from ``offer`` (or offering it, if there was none)."""
    session = str(int(time.time()))
    lines = ["v=0", f"o=- {session} {session} IN IP4 127.0.0.1", "s=bench callee",
             "c=IN IP4 127.0.0.1", "t=0 0"]  # fmt: skip
    media = re.split(r"\r?\n(?=m=)", offer.strip()) if "m=" in offer else []
    if not media[1:]:
        media = ["", "m=audio 0 RTP/AVP 0 8"]  # no offer: offer G.711 ourselves
    for section in media[1:]:
        kind, _, proto, *formats = section.split("\r\n", 1)[0].split() or ["m=x"]
        rtpmap = dict(re.findall(r"a=rtpmap:(\d+) ([^\r\n]+)", section))
        names = {pt: rtpmap.get(pt, G711.get(pt, "")) for pt in formats}
        chosen = next((pt for pt, name in names.items() if name.upper() in G711.values()), None)
        if kind != "m=audio" or chosen is None:
            lines.append(f"{kind} 0 {proto} {formats[0] if formats else 0}")  # declined
            continue
        lines += [f"m=audio {rtp_port} {proto} {chosen}", f"a=rtpmap:{chosen} {names[chosen]}",
                  f"a={_direction(section)}"]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def _direction(section: str) -> str:
    mirrored = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
    found = re.search(r"a=(sendrecv|sendonly|recvonly|inactive)", section)
    return mirrored.get(found.group(1), "sendrecv") if found else "sendrecv"


def _digest(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """An RFC 2617 MD5 answer (qop=auth when offered) to a WWW-Authenticate value."""
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    answer = (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
              "algorithm=MD5")  # fmt: skip
    if "qop" not in fields:
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return f'{answer}, response="{response}"'
    cnonce = uuid.uuid4().hex[:16]
    response = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return f'{answer}, response="{response}", qop=auth, nc=00000001, cnonce="{cnonce}"'


def _rtp_pair() -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on an even port and the next, for RTP and RTCP."""
    for _ in range(100):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        port = rtp.getsockname()[1]
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if port % 2:
                raise OSError
            rtcp.bind(("127.0.0.1", port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        return rtp, rtcp
    raise RuntimeError("no free pair of UDP ports on 127.0.0.1")


def _user(request_line: str) -> str:
    """The user part of a request's URI (the number that was called)."""
    found = re.match(r"\S+ sips?:([^@;>\s]+)@", request_line)
    return found.group(1) if found else ""


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sipcallee",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--registrar", required=True, help="host:port of the registrar (UDP)")
    parser.add_argument("--password", required=True, help="every number's SIP password")
    parser.add_argument("--domain", default="127.0.0.1", help="the SIP domain (realm)")
    parser.add_argument("--busy", action="store_true", help="answer 486 Busy Here")
    parser.add_argument(
        "--echo",
        type=Path,
        metavar="PATH",
        help="send audio back to the caller, logging each packet to PATH",
    )
    parser.add_argument("users", nargs="+", help="the numbers to register and answer")
    args = parser.parse_args(argv)
    host, _, port = args.registrar.rpartition(":")
    echo = args.echo.open("ab") if args.echo else None
    callee = Callee((host, int(port)), args.users, args.password, busy=args.busy,
                    domain=args.domain, echo=echo)  # fmt: skip

    def stop(_signum: int, _frame: FrameType | None) -> None:
        callee.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        callee.register()
        callee.emit("ready", port=callee.port)
        callee.serve()
        callee.unregister()
    finally:
        callee.close()
        if echo is not None:
            echo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
