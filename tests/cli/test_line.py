"""``phonehub status``: the running line's state, as the daemon reports it."""

from __future__ import annotations

from typing import Any

import pytest


class _Daemon:
    """A control client whose daemon is registered, idle and blinking its red light."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        pass

    def request(self, cmd: str, **_fields: Any) -> dict[str, Any]:
        assert cmd == "status"
        lights = {"green": "on", "amber": "off", "red": "blinking"}
        calls = [{"attempt": 43, "state": "connected", "via": "own_phone", "interpreter": True}]
        return {"status": {"registration": "registered", "call": None, "calls": calls,
                           "recording": False,
                           "handset": "unplugged", "handset_problem": "no such device",
                           "lights": lights, "database": None}}  # fmt: skip


@pytest.fixture
def daemon(monkeypatch):
    monkeypatch.setattr("cli.line.ControlClient", _Daemon)


@pytest.mark.usefixtures("daemon")
def test_status_says_what_the_lights_show(cli):
    result = cli("status")

    assert result.status == 0
    assert result.out.splitlines() == [
        "registration: registered",
        "call:         none",
        "              connected (attempt 43, through a member of staff's phone, interpreter on)",
        "recording:    no",
        "handset:      unplugged: no such device",
        "lights:       green on, amber off, red blinking",
        "database:     ok",
    ]
