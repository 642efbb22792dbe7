"""Cutting the SIP thread's poll short when a command arrives.

pjsip's poll sleeps until one of its sockets has something to read, so a command
queued from another thread would wait for the next turn. A datagram from
``make_waker``'s socket to the hub's own UDP transport wakes the poll at once.
"""

from __future__ import annotations

import logging
import socket

from hub.line.sip import SipStack

log = logging.getLogger(__name__)

# A UDP datagram this short wakes pjsip's poll and is dropped unread as a keep-alive
# (sip_transport_udp.c ignores anything of 32 bytes or fewer).
WAKE = b"\r\n\r\n"


def make_waker(stack: SipStack) -> socket.socket | None:
    """A UDP socket aimed at the stack's own SIP transport (None on TCP and TLS)."""
    settings = stack.settings
    if settings.transport != "udp":
        return None  # no datagram wakes a stream transport; commands wait up to POLL_MS
    local = stack.endpoint.transportGetInfo(stack.transport_id).localName
    port = int(local.rsplit(":", 1)[1])
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.bind_host, settings.bind_host)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        waker = socket.socket(*found[:3])
    except OSError as exc:
        log.warning("commands will wait for the SIP loop's next turn: %s", exc)
        return None
    try:
        waker.setblocking(False)
        waker.connect(found[4])
    except OSError as exc:
        waker.close()
        log.warning("commands will wait for the SIP loop's next turn: %s", exc)
        return None
    return waker
