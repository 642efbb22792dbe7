"""baresip as an independent SIP phone for the tests: registers to Kamailio, answers calls."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.kamailio import Kamailio, free_port

# No audio device modules: with none loaded baresip simply sends and plays no audio,
# which is all a phone that only has to answer needs. menu provides dial/accept/hangup,
# ctrl_tcp lets the tests drive it and hear its events.
_CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip_port}
call_local_timeout\t120
call_max_calls\t\t4
net_interface\t\t127.0.0.1
# It resolves nothing (every URI is an IP), but if it tried, stay on this machine.
dns_server\t\t127.0.0.1:53
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
# menu would print a call status line ten times a second into the log.
statmode_default\toff
ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}
"""


class Baresip:
    """One baresip process with one account on a :class:`Kamailio`.

    Example::

        with Baresip(tmp_path / "parent", user="parent", password="pw", registrar=kam) as phone:
            phone.start()
            kam.wait_for(lambda: phone.calls_answered() == 1)
    """

    def __init__(
        self,
        folder: Path,
        *,
        user: str,
        password: str,
        registrar: Kamailio,
        auto_answer: bool = True,
        answer_after_s: float = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.password = password
        self.registrar = registrar
        self.auto_answer = auto_answer
        self.answer_after_s = answer_after_s
        self.env = env or {}  # added to the environment, e.g. a VirtualHandset's for its ALSA
        self.sip_port = free_port(socket.SOCK_DGRAM, socket.SOCK_STREAM)
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        self.log_path = self.folder / "baresip.log"
        self.uri = f"sip:{user}@{registrar.domain}"
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._replies: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._timers: list[threading.Timer] = []

    def _write_config(self) -> None:
        (self.folder / "config").write_text(
            _CONFIG.format(sip_port=self.sip_port, ctrl_port=self.ctrl_port)
        )
        # Delayed answers are baresip's manual mode plus an "accept" sent after the delay.
        mode = "auto" if self.auto_answer and not self.answer_after_s else "manual"
        outbound = f"sip:127.0.0.1:{self.registrar.udp_port};transport=udp"
        (self.folder / "accounts").write_text(
            f'<{self.uri}>;auth_pass={self.password};outbound="{outbound}"'
            f";regint=600;answermode={mode}\n"
        )

    def start(self) -> None:
        """Start baresip and return once Kamailio holds its registration."""
        if self._process is not None:
            return
        binary = shutil.which("baresip")
        if not binary:
            raise RuntimeError("baresip is missing; run make test to install baresip-core")
        try:
            for attempt in range(3):
                if self._launch(binary) or attempt == 2:
                    break
                # Another process took a port between free_port() and baresip's bind.
                self.stop()
                self.sip_port = free_port(socket.SOCK_DGRAM, socket.SOCK_STREAM)
                self.ctrl_port = free_port(socket.SOCK_STREAM)
            self._connect()
            self.wait_for(lambda: self.registrar.registered(self.user), timeout=10)
        except BaseException:
            self.stop()
            raise

    def _launch(self, binary: str) -> bool:
        """Start the process; False if a port was taken (baresip exits, or runs without ctrl)."""
        self._write_config()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "-4", "-f", str(self.folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + 10
        while True:
            output = self.log_path.read_bytes()[offset:]
            if b"module ctrl_tcp.so:" in output:
                return False
            if b"baresip is ready." in output:
                return True
            if self._process.poll() is not None:
                if b"Address already in use" in output:
                    return False
                self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"baresip did not start; log ends:\n{self._log_tail()}")
            time.sleep(0.02)

    def _connect(self) -> None:
        """Open the control connection and start reading events from it."""
        self._control = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5)
        self._control.settimeout(None)
        self._reader = threading.Thread(
            target=self._read, args=(self._control,), name=f"baresip-{self.user}", daemon=True
        )
        self._reader.start()

    def _read(self, control: socket.socket) -> None:
        """Split the control stream into netstrings ("len:json,") and file each message."""
        buffer = b""
        while True:
            try:
                chunk = control.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                length, _, rest = buffer.partition(b":")
                size = int(length)
                if len(rest) < size + 1:
                    break
                self._handle(json.loads(rest[:size]))
                buffer = rest[size + 1 :]

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("response"):
            reply = self._replies.get(str(message.get("token")))
            if reply is not None:
                reply.put(message)
            return
        with self._lock:
            self._events.append(message)
        if message.get("type") == "CALL_INCOMING" and self.auto_answer and self.answer_after_s:
            timer = threading.Timer(self.answer_after_s, self._answer)
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def _answer(self) -> None:
        """Answer the ringing call, if the caller has not given up in the meantime."""
        with contextlib.suppress(AssertionError):
            self._command("accept")

    def _command(self, command: str, params: str | None = None) -> str:
        """Run one baresip command over ctrl_tcp and return its output."""
        control = self._control
        if control is None:
            raise AssertionError("baresip is not running")
        token = str(next(self._tokens))
        reply: queue.Queue[dict[str, Any]] = queue.Queue()
        self._replies[token] = reply
        message: dict[str, str] = {"command": command, "token": token}
        if params is not None:
            message["params"] = params
        payload = json.dumps(message).encode()
        try:
            control.sendall(b"%d:%s," % (len(payload), payload))
            answer = reply.get(timeout=5)
        except (OSError, queue.Empty) as error:
            raise AssertionError(f"baresip did not answer {command!r}") from error
        finally:
            del self._replies[token]
        if not answer.get("ok"):
            raise AssertionError(f"baresip refused {command!r}: {answer.get('data')}")
        return str(answer.get("data", ""))

    def dial(self, uri: str) -> None:
        """Place a call to ``uri`` through the registrar."""
        self._command("dial", uri)

    def hangup(self) -> None:
        """Hang up the current call."""
        self._command("hangup")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """baresip's events so far (e.g. CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED)."""
        with self._lock:
            return [event for event in self._events if kind is None or event["type"] == kind]

    def calls_answered(self) -> int:
        """How many incoming calls were established."""
        return sum(
            event.get("direction") == "incoming" for event in self.events("CALL_ESTABLISHED")
        )

    def calls_ended(self) -> int:
        """How many calls, either way, have closed."""
        return len(self.events("CALL_CLOSED"))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Poll ``predicate`` until true; on timeout fail with baresip's events and log."""
        deadline = time.monotonic() + timeout
        while not predicate():
            self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {predicate!r}; "
                    f"baresip events: {self.events()}\nlog ends:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            raise AssertionError(f"baresip is not running; log ends:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop baresip (it unregisters first) and wait for it; safe to call twice."""
        for timer in self._timers:
            timer.cancel()
        process = self._process
        if process is not None:
            # The first SIGTERM unregisters and waits for the registrar's answer; a second
            # one quits at once, for when the registrar is down and would never answer.
            patience = 3 if self.registrar.running else 0.1
            for _ in range(2):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=patience)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            self._process = None
        if self._control is not None:
            # shutdown, unlike close, wakes the reader thread blocked in recv().
            with contextlib.suppress(OSError):
                self._control.shutdown(socket.SHUT_RDWR)
            self._control.close()
            self._control = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            assert not self._reader.is_alive(), "baresip's reader thread did not end"
            self._reader = None

    def __enter__(self) -> Baresip:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
