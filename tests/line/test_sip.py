"""The SIP stack's transports with a real Kamailio: TCP, TLS and a certificate not trusted."""

from __future__ import annotations

import pytest

from tests.line.conftest import wait_until


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_registration_over_tcp_and_tls(make_line, kamailio, transport):
    port = kamailio.tcp_port if transport == "tcp" else kamailio.tls_port
    sip = {"transport": transport, "registrar": f"sip:127.0.0.1:{port}"}
    if transport == "tls":
        sip["tls_ca_file"] = str(kamailio.ca_cert)
    line = make_line(kamailio, sip=sip)
    line.start()
    register = kamailio.messages("REGISTER")[-1]
    assert f"Via: SIP/2.0/{transport.upper()} " in register
    # The Contact is where the hub listens, not the port its connection happened to leave
    # from: a trunk that opens a new connection for a call must find the hub there.
    contact = next(h for h in register.split("\r\n") if h.lower().startswith("contact:"))
    assert f"127.0.0.1:{line.sip_port}" in contact, contact


def test_a_tls_registrar_with_an_untrusted_certificate_is_not_used(make_line, kamailio):
    sip = {"transport": "tls", "registrar": f"sip:127.0.0.1:{kamailio.tls_port}",
           "tls_ca_file": "/etc/ssl/certs/ca-certificates.crt"}  # fmt: skip
    line = make_line(kamailio, sip=sip)
    line.start(wait_for=None)
    # The hub opened a connection to the TLS port, and gave up on what answered there.
    wait_until(lambda: kamailio.statistic("tcp:passive_open") >= 1, what="a TLS handshake")
    wait_until(lambda: "the registrar stopped answering" in line.log(),
               what="the line to give up on the registrar")  # fmt: skip
    assert line.status()["registration"] != "registered"
    assert kamailio.messages("REGISTER") == []
