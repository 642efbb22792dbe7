"""The control socket keeps its handler threads for the next connection, and ends them."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from hub.control_client import ControlClient
from hub.line.control import ControlServer
from hub.line.events import EventBus
from tests.line.conftest import wait_until


class _Service:
    """Just enough of LineService for status requests."""

    def status(self) -> dict[str, Any]:
        return {"registration": "registered", "call": None}


def _handlers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("control-handler")]


def test_connections_reuse_handler_threads_and_close_ends_them(tmp_path: Path):
    # A unix socket path must fit in 108 bytes; pytest's tmp_path may not.
    path = Path(f"/tmp/phonehub-test-{os.getpid()}-control.sock")
    server = ControlServer(path, _Service(), EventBus())  # type: ignore[arg-type]
    server.start()
    try:
        client = ControlClient(path, timeout=5)
        subscription = client.events()
        assert next(subscription)["status"]["registration"] == "registered"
        for _ in range(20):
            assert client.request("status")["status"]["call"] is None
        # One thread holds the subscription; a request may come before the last one's
        # thread is free again, but 20 requests are served by a handful of threads.
        assert len(_handlers()) <= 5
        subscription.close()
    finally:
        server.close()
    assert not path.exists()
    wait_until(lambda: not _handlers(), timeout=5, what="the handler threads to end")
