"""The SIP test fixtures work: Kamailio registers, authenticates and routes; baresip answers."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.baresip import Baresip
from tests.kamailio import Kamailio

HUB = ("hub", "hub-secret")
PARENT = ("parent", "parent-secret")


@dataclass
class Reply:
    """One SIP response as it arrived."""

    status: int
    text: str

    def _lines(self, name: str) -> list[str]:
        head = self.text.split("\r\n\r\n", 1)[0]
        return re.findall(rf"^{re.escape(name)}:\s*(.*?)\r?$", head, re.IGNORECASE | re.MULTILINE)

    def header(self, name: str) -> str:
        """The first line of header ``name`` as it came (empty if absent)."""
        lines = self._lines(name)
        return lines[0] if lines else ""

    def uris(self, name: str) -> list[str]:
        """Every URI of a list header such as Record-Route, comma-joined or on many lines."""
        return [uri.strip() for line in self._lines(name) for uri in line.split(",")]


def digest(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """An RFC 2617 answer (MD5, qop=auth when offered) to a WWW/Proxy-Authenticate value."""
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1 = hashlib.md5(f"{user}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    answer = (
        f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="{uri}", algorithm=MD5'
    )
    if "qop" in fields:
        cnonce = uuid.uuid4().hex[:16]
        response = hashlib.md5(
            f"{ha1}:{fields['nonce']}:00000001:{cnonce}:auth:{ha2}".encode()
        ).hexdigest()
        return f'{answer}, response="{response}", qop=auth, nc=00000001, cnonce="{cnonce}"'
    response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
    return f'{answer}, response="{response}"'


class SipClient:
    """A bare-hands SIP user agent on 127.0.0.1: writes whole requests, reads whole replies."""

    def __init__(self, kamailio: Kamailio, user: str, *, transport: str = "udp") -> None:
        self.user = user
        self.transport = transport
        self.domain = kamailio.domain
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.connect(("127.0.0.1", kamailio.udp_port))
        elif transport == "tcp":
            self.sock = socket.create_connection(("127.0.0.1", kamailio.tcp_port), timeout=5)
        else:
            context = ssl.create_default_context(cafile=str(kamailio.ca_cert))
            raw = socket.create_connection(("127.0.0.1", kamailio.tls_port), timeout=5)
            try:
                self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
            except ssl.SSLError:
                raw.close()
                raise
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.tag = uuid.uuid4().hex[:10]
        self.cseq = 0
        self.sent: list[str] = []
        self._buffer = b""
        # Where the SDP offer says to send audio; nothing reads it.
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))

    def close(self) -> None:
        """Close the sockets."""
        self.sock.close()
        self.rtp.close()

    def __enter__(self) -> SipClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        uri: str,
        *,
        to: str,
        cseq: int,
        branch: str | None = None,
        headers: tuple[str, ...] = (),
        body: str = "",
        display_name: str = "",
    ) -> str:
        """Send one request and return its exact text."""
        contact_params = "" if self.transport == "udp" else f";transport={self.transport}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/{self.transport.upper()} 127.0.0.1:{self.port};rport;"
            f"branch={branch or 'z9hG4bK' + uuid.uuid4().hex}",
            "Max-Forwards: 70",
            f'From: "{display_name}" <sip:{self.user}@{self.domain}>;tag={self.tag}'
            if display_name
            else f"From: <sip:{self.user}@{self.domain}>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}{contact_params}>",
            *headers,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        text = "\r\n".join([*lines, f"Content-Length: {len(body.encode())}", "", body])
        self.sock.send(text.encode())
        self.sent.append(text)
        return text

    def _read_message(self) -> bytes:
        if self.transport == "udp":
            return self.sock.recv(65535)
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(rest) < length:
            rest += self._recv()
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65535)
        if not chunk:
            raise ConnectionError("Kamailio closed the connection")
        return chunk

    def reply(self, cseq: int, method: str, *, status: int | None = None) -> Reply:
        """The reply to the request with this CSeq: the given status, else the final one."""
        while True:
            text = self._read_message().decode()
            if not text.startswith("SIP/2.0 "):
                continue
            answer = Reply(int(text.split(" ", 2)[1]), text)
            if answer.header("CSeq") != f"{cseq} {method}":
                continue
            if answer.status == status or (status is None and answer.status >= 200):
                return answer

    def request(
        self, method: str, uri: str, *, to: str = "", status: int | None = None, **options: object
    ) -> Reply:
        """Send a request with the next CSeq and wait for its final (or given) reply."""
        self.cseq += 1
        self.send(method, uri, to=to or f"<{uri}>", cseq=self.cseq, **options)
        return self.reply(self.cseq, method, status=status)

    def branch(self) -> str:
        """The Via branch of the last request sent."""
        return re.search(r"branch=([^;\s]+)", self.sent[-1]).group(1)

    def invite(
        self,
        uri: str,
        password: str,
        *,
        headers: tuple[str, ...] = (),
        status: int | None = None,
        **options: object,
    ) -> Reply:
        """INVITE as a trunk wants it: take the 407, ACK it, send again with credentials."""
        rtp = self.rtp.getsockname()[1]
        options = {"body": sdp_offer(rtp), **options}
        challenged = self.request("INVITE", uri, headers=headers, **options)
        assert challenged.status == 407, challenged.text
        # The ACK for a failure reuses the INVITE's branch and carries the reply's To tag.
        self.send("ACK", uri, to=challenged.header("To"), cseq=self.cseq, branch=self.branch())
        challenge = challenged.header("Proxy-Authenticate")
        credentials = (
            f"Proxy-Authorization: {digest(challenge, 'INVITE', uri, self.user, password)}"
        )
        return self.request(
            "INVITE", uri, headers=(*headers, credentials), status=status, **options
        )

    def register(self, password: str | None = None, *, expires: int = 60) -> Reply:
        """REGISTER, answering one challenge if a password is given."""
        uri = f"sip:{self.domain}"
        to = f"<sip:{self.user}@{self.domain}>"
        headers = (f"Expires: {expires}",)
        answer = self.request("REGISTER", uri, to=to, headers=headers)
        if answer.status != 401 or password is None:
            return answer
        credentials = digest(
            answer.header("WWW-Authenticate"), "REGISTER", uri, self.user, password
        )
        return self.request(
            "REGISTER", uri, to=to, headers=(*headers, f"Authorization: {credentials}")
        )


def sdp_offer(port: int) -> str:
    """A PCMU audio offer; baresip's g711 module accepts it."""
    return (
        "v=0\r\no=hub 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """A running Kamailio with the hub and a parent as subscribers."""
    with Kamailio(tmp_path / "kamailio") as server:
        server.add_user(*HUB)
        server.start()
        # Added while running, so every test also shows the live subscriber table works.
        server.add_user(*PARENT)
        yield server


@pytest.fixture
def parent(kamailio: Kamailio, tmp_path: Path) -> Iterator[Baresip]:
    """A parent's phone (baresip) registered to Kamailio, answering at once."""
    user, password = PARENT
    with Baresip(tmp_path / "parent", user=user, password=password, registrar=kamailio) as phone:
        phone.start()
        yield phone


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_register_needs_the_right_password(kamailio: Kamailio, transport: str) -> None:
    with SipClient(kamailio, HUB[0], transport=transport) as client:
        assert client.register().status == 401
        assert client.register("wrong-password").status == 403
        assert not kamailio.registered(HUB[0])

        assert client.register(HUB[1]).status == 200
        assert kamailio.registered(HUB[0])

        assert client.register(HUB[1], expires=0).status == 200
        assert not kamailio.registered(HUB[0])

        # Kamailio saw exactly what was sent, Expires and all.
        assert kamailio.messages("REGISTER") == client.sent
    assert "Expires: 0\r\n" in kamailio.messages()[-1]


def test_a_binding_expires(kamailio: Kamailio) -> None:
    with SipClient(kamailio, HUB[0]) as client:
        # Long enough to be seen before it lapses on a busy machine, short enough to wait.
        assert client.register(HUB[1], expires=3).status == 200
    assert kamailio.registered(HUB[0])
    kamailio.wait_for(lambda: not kamailio.registered(HUB[0]), timeout=8)


def test_a_user_added_while_running_can_register(kamailio: Kamailio) -> None:
    kamailio.add_user("late", "late-secret")
    with SipClient(kamailio, "late") as client:
        assert client.register("late-secret").status == 200
    assert kamailio.registered("late")


def test_baresip_registers_and_answers_an_invite_with_our_headers(
    kamailio: Kamailio, parent: Baresip
) -> None:
    assert kamailio.registered(PARENT[0])
    uri = f"sip:{PARENT[0]}@127.0.0.1"
    pai = "P-Asserted-Identity: <sip:+441632960000@127.0.0.1>"
    with SipClient(kamailio, HUB[0]) as client:
        answered = client.invite(
            uri, HUB[1], headers=(pai, "Privacy: none"), display_name="Oakfield School"
        )
        invite = client.sent[-1]
        assert answered.status == 200, answered.text
        assert "m=audio" in answered.text

        # In-dialog requests follow the Record-Route set back through Kamailio.
        target = answered.header("Contact").strip("<>")
        routes = tuple(f"Route: {route}" for route in reversed(answered.uris("Record-Route")))
        to = answered.header("To")
        client.send("ACK", target, to=to, cseq=client.cseq, headers=routes)
        parent.wait_for(lambda: parent.calls_answered() == 1)
        assert client.request("BYE", target, to=to, headers=routes).status == 200
        parent.wait_for(lambda: parent.calls_ended() == 1)

    assert invite in kamailio.messages("INVITE")
    assert pai in invite
    assert 'From: "Oakfield School" <sip:hub@127.0.0.1>' in invite
    assert len(kamailio.messages("BYE")) == 1
    assert kamailio.messages("ACK") == [text for text in client.sent if text.startswith("ACK")]


def test_a_ringing_call_can_be_cancelled(kamailio: Kamailio, tmp_path: Path) -> None:
    user, password = PARENT
    with (
        Baresip(
            tmp_path / "parent",
            user=user,
            password=password,
            registrar=kamailio,
            auto_answer=False,
        ) as phone,
        SipClient(kamailio, HUB[0]) as client,
    ):
        phone.start()
        uri = f"sip:{user}@127.0.0.1"
        assert client.invite(uri, HUB[1], status=180).status == 180
        invite_cseq, branch = client.cseq, client.branch()
        # A CANCEL names the INVITE's branch and CSeq number and has no To tag.
        client.send("CANCEL", uri, to=f"<{uri}>", cseq=invite_cseq, branch=branch)
        assert client.reply(invite_cseq, "CANCEL").status == 200
        terminated = client.reply(invite_cseq, "INVITE")
        assert terminated.status == 487
        client.send("ACK", uri, to=terminated.header("To"), cseq=invite_cseq, branch=branch)
        phone.wait_for(lambda: phone.calls_ended() == 1)
        assert phone.calls_answered() == 0
    assert len(kamailio.messages("CANCEL")) == 1


def test_invite_to_an_unregistered_user_is_404(kamailio: Kamailio) -> None:
    with SipClient(kamailio, HUB[0]) as client:
        assert client.invite(f"sip:{PARENT[0]}@127.0.0.1", HUB[1]).status == 404


def test_an_invite_without_credentials_is_challenged(kamailio: Kamailio) -> None:
    with SipClient(kamailio, "stranger") as client:
        offer = sdp_offer(client.rtp.getsockname()[1])
        answer = client.request("INVITE", "sip:hub@127.0.0.1", body=offer)
    assert answer.status == 407


def test_baresip_calls_baresip_and_the_answer_can_wait(
    kamailio: Kamailio, parent: Baresip, tmp_path: Path
) -> None:
    kamailio.add_user("teacher", "teacher-secret")
    with Baresip(
        tmp_path / "teacher",
        user="teacher",
        password="teacher-secret",
        registrar=kamailio,
        answer_after_s=0.5,
    ) as teacher:
        teacher.start()
        parent.dial(teacher.uri)
        teacher.wait_for(lambda: teacher.events("CALL_INCOMING"))
        assert teacher.calls_answered() == 0
        teacher.wait_for(lambda: teacher.calls_answered() == 1)
        parent.hangup()
        teacher.wait_for(lambda: teacher.calls_ended() == 1)
    # Stopping baresip unregisters it.
    assert not kamailio.registered("teacher")
    assert len(kamailio.messages("INVITE")) == 2  # challenged, then with credentials


def test_kill_then_restart_on_the_same_ports(kamailio: Kamailio) -> None:
    ports = (kamailio.udp_port, kamailio.tcp_port, kamailio.tls_port)
    with SipClient(kamailio, HUB[0]) as client:
        assert client.register(HUB[1]).status == 200
    kamailio.kill()
    assert not kamailio.registered(HUB[0])

    kamailio.restart()
    assert (kamailio.udp_port, kamailio.tcp_port, kamailio.tls_port) == ports
    assert not kamailio.registered(HUB[0])
    with SipClient(kamailio, HUB[0]) as client:
        assert client.register(HUB[1]).status == 200
    assert kamailio.registered(HUB[0])


def test_tls_verifies_against_the_ca_and_answers(kamailio: Kamailio) -> None:
    with SipClient(kamailio, HUB[0], transport="tls") as client:
        assert client.sock.version() in {"TLSv1.2", "TLSv1.3"}
        ping = client.request("OPTIONS", f"sip:127.0.0.1:{kamailio.tls_port};transport=tls")
        assert ping.status == 200

    untrusted = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", kamailio.tls_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusted.wrap_socket(raw, server_hostname="127.0.0.1")
