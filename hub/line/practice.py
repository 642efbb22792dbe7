"""The practice line: a pretend parent's phone, part of the product.

It registers with a registrar as a given number (or just listens on an address),
rings for a while, answers, speaks a greeting, and records what it hears to a
WAV per call. Every INVITE it receives is logged in full, one JSON object per
line, with when each call is answered and confirmed (the caller's ACK), the keys
pressed at it (a menu would hear them), the calls' ends and recordings, so staff
training, ``phonehub demo`` and the tests can see exactly what a parent's phone
would have seen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pjsua2 as pj

from hub.line.call import DTMF_IS_UPDATE
from hub.line.sip import (
    Player,
    SipStack,
    StackSettings,
    audio_media,
    call_param,
    reason,
)

log = logging.getLogger(__name__)

GREETING = "Hello, you're through to the practice line. I'm a pretend parent. Go ahead."


@dataclass(frozen=True)
class PracticeSettings:
    """Who the practice line pretends to be and how it behaves."""

    number: str
    bind_host: str
    port: int
    rtp_ports: tuple[int, int]
    greeting: Path
    record_dir: Path
    log_path: Path | None = None
    registrar: str = ""
    password: str = ""
    domain: str = ""
    ring_s: float = 2.0
    answer: bool = True
    early_media: bool = False  # ring with audio (a 183), as many phone networks do
    transport: str = "udp"
    press: str = ""  # keys pressed once answered, as a member of staff's "1: put me through"
    press_after_s: float = 3.0


class _Call(pj.Call):
    def __init__(self, owner: PracticeLine, account: pj.Account, call_id: int, number: int) -> None:
        super().__init__(account, call_id)
        self.owner = owner
        self.number = number
        self.arrived = time.monotonic()
        self.answered = False
        self.answered_at = 0.0
        self.pressed = False
        self.finished = False
        self.player: Player | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.recording = owner.settings.record_dir / f"call-{number}.wav"

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            # The caller's ACK has come: from here on this phone takes what it sends in the
            # call (keys as SIP INFO, say), as a person who has picked up would.
            self.owner.record("confirmed", call=self.number)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.finished:
            self.finished = True
            self.owner.record(
                "ended",
                call=self.number,
                status=int(info.lastStatusCode),
                answered=self.answered,
                recording=str(self.recording) if self.recorder is not None else None,
            )
            self.owner.forget(self)

    def onDtmfEvent(self, prm: pj.OnDtmfEventParam) -> None:
        if prm.flags & DTMF_IS_UPDATE:  # the key already reported, held for longer
            return
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
        self.owner.record("dtmf", call=self.number, key=prm.digit, method=method)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        media = audio_media(self)
        if media is None or self.recorder is not None:
            return
        self.recorder = pj.AudioMediaRecorder()
        self.recorder.createRecorder(str(self.recording))
        media.startTransmit(self.recorder)
        self.player = Player(self.owner.settings.greeting, lambda: None)
        self.player.startTransmit(media)


class _Account(pj.Account):
    def __init__(self, owner: PracticeLine) -> None:
        super().__init__()
        self.owner = owner

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.owner.incoming(self, prm)

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.owner.record("registration", code=int(prm.code), expires=int(prm.expiration))


class PracticeLine:
    """Run ``run(stop)`` on one thread; it owns its own pjsua2 endpoint."""

    def __init__(self, settings: PracticeSettings) -> None:
        self.settings = settings
        self.calls: list[_Call] = []
        self.releasing: list[object] = []  # players and recorders, deleted next turn
        self.ending: list[tuple[int, Path]] = []  # recordings whose recorder goes next turn
        self.saving: list[tuple[int, Path]] = []  # recordings deleted, header due next turn
        self.count = 0
        self._log = settings.log_path.open("a", encoding="utf-8") if settings.log_path else None

    def record(self, event: str, **fields: Any) -> None:
        """Append one event to the log, at once (tests and trainers read it live)."""
        line = {"event": event, "at": datetime.now(UTC).isoformat(), **fields}
        log.info("%s", event)
        if self._log is not None:
            self._log.write(json.dumps(line) + "\n")
            self._log.flush()

    def incoming(self, account: pj.Account, prm: pj.OnIncomingCallParam) -> None:
        """Log the INVITE in full and start ringing."""
        self.count += 1
        call = _Call(self, account, prm.callId, self.count)
        self.calls.append(call)
        self.record(
            "invite", call=self.count, message=prm.rdata.wholeMsg, source=prm.rdata.srcAddress
        )
        try:
            call.answer(call_param(183 if self.settings.early_media else 180))
        except pj.Error as exc:
            log.warning("could not ring: %s", reason(exc))

    def run(self, stop: threading.Event, on_ready: Any = None) -> None:
        """Answer calls until ``stop`` is set."""
        settings = self.settings
        settings.record_dir.mkdir(parents=True, exist_ok=True)
        stack = SipStack(
            StackSettings(
                bind_host=settings.bind_host,
                bind_port=settings.port,
                transport=settings.transport,
                rtp_ports=settings.rtp_ports,
            )
        )
        account = _Account(self)
        try:
            config = pj.AccountConfig()
            domain = settings.domain or f"{settings.bind_host}:{settings.port}"
            config.idUri = f"sip:{settings.number}@{domain}"
            if settings.registrar:
                config.regConfig.registrarUri = stack.server_uri(settings.registrar)
                config.regConfig.timeoutSec = 300
                config.regConfig.retryIntervalSec = 2
                config.sipConfig.authCreds.append(
                    pj.AuthCredInfo("digest", "*", settings.number, 0, settings.password)
                )
            else:
                config.regConfig.registerOnAdd = False
            stack.media_config(config)
            account.create(config)
            self.record("listening", number=settings.number, port=settings.port)
            if on_ready is not None:
                on_ready()
            while not stop.is_set():
                stack.poll(20)
                self._turn()
        finally:
            for call in list(self.calls):  # a hang-up may end the call (and forget it) at once
                if not call.finished:
                    with contextlib.suppress(pj.Error):
                        call.hangup(call_param(603 if not call.answered else 0))
            deadline = time.monotonic() + 2
            while any(not c.finished for c in self.calls) and time.monotonic() < deadline:
                stack.poll(20)
            for call in list(self.calls):  # never disconnected: let them go now
                self.forget(call)
            for _ in range(3):
                self.releasing.clear()
                stack.poll(20)
            account.shutdown()
            del account
            stack.poll(50)
            stack.close()
            if self._log is not None:
                self._log.close()

    def _turn(self) -> None:
        for number, path in self.saving:
            self.record("saved", call=number, recording=str(path))
        self.saving, self.ending = self.ending, []
        self.releasing.clear()
        now = time.monotonic()
        for call in self.calls:
            if call.finished or not self.settings.answer:
                continue
            if call.answered:
                self._press(call, now)
                continue
            if now - call.arrived >= self.settings.ring_s:
                call.answered, call.answered_at = True, now
                try:
                    call.answer(call_param(200))
                    self.record("answered", call=call.number)
                except pj.Error as exc:
                    log.warning("could not answer: %s", reason(exc))

    def _press(self, call: _Call, now: float) -> None:
        """Press the keys the practice line was told to, once, a while after answering."""
        keys = self.settings.press
        if not keys or call.pressed or now - call.answered_at < self.settings.press_after_s:
            return
        call.pressed = True
        try:
            call.dialDtmf(keys)
            self.record("pressed", call=call.number, keys=keys)
        except pj.Error as exc:
            log.warning("could not press keys: %s", reason(exc))

    def forget(self, call: _Call) -> None:
        """Let go of a call as it disconnects, inside its callback, as pjsua2 advises.

        Its slot is free once the callback returns and the next INVITE may take it;
        a Call object deleted after that hangs up whichever call holds its slot.
        Its player and recorder are deleted on the next turn, outside any callback
        (deleting the recorder writes the WAV header; "saved" follows a turn later).
        """
        if call in self.calls:
            self.calls.remove(call)
        if call.answered:
            self.ending.append((call.number, call.recording))
        self.releasing.extend([call.player, call.recorder])
        call.player = call.recorder = None


def run_practice_line(settings: PracticeSettings) -> int:
    """Run the practice line in the foreground until SIGTERM or Ctrl-C."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    PracticeLine(settings).run(stop, on_ready=lambda: print("practice line ready", flush=True))
    return 0
