"""The line daemon as systemd sees it: ready, fed from the SIP loop, stopping."""

from __future__ import annotations

import socket


def test_systemd_hears_ready_and_the_watchdog_from_the_sip_loop(make_line, kamailio, tmp_path):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(20)
        line = make_line(kamailio)
        line.start(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        heard = []
        while heard.count("WATCHDOG=1") < 3:
            heard.append(systemd.recv(1024).decode())
        assert heard[0] == "READY=1"
        line.stop()
        while "STOPPING=1" not in heard:
            heard.append(systemd.recv(1024).decode())
