"""Mouth-to-ear delay each way, and CPU, of the line daemon on a handset beside baresip's.

Everything is real and on 127.0.0.1: the tests' Kamailio, the line daemon
(``phonehub line``) on ALSA PCM "handset", Debian's baresip (its ``alsa`` module) as
the comparison on the same PCM, and a second baresip on PCM "family" as the
family's phone, answering at once, with its smallest buffers so that it adds as
little as it can, and on the real-time scheduler (where allowed) so that a busy
machine breaks up the near end's sound rather than the family's. Every call is
PCMA/8000 in 20 ms packets. The sound card is tests/pulse.py's: one PulseAudio whose
sinks are the channels of one null sink (the bus, without rewinds, so every sample
is played once and in real time, 20 ms at a time), so one recording holds both
mouths and both ears on one clock.

* Delay: in each call a 100 ms chirp (300–3,400 Hz) is said into one end's
  microphone every second, the other end's half a second later; each one's delay is
  where it correlates best in the other end's earpiece. ``CALLS`` calls of ``CHIRPS``
  chirps each way per near end; a figure is the median of all of them, the note
  gives the spread of the per-call medians (a jitter buffer settles differently in
  each call). The hub as shipped, baresip as Debian ships it and baresip with its
  smallest buffers take turns on the handset, calling the same family.
* Split: each near end also calls a mirror (``bench.sipcallee --echo``) that sends
  its audio straight back, noting when each packet arrived; a chirp's trip from the
  handset's microphone back to its earpiece is split where it met the network. The
  recording's blocks are stamped as they arrive, which puts the bus on the monotonic
  clock; a sample counts as said when the bus plays it, so a chirp waits for the
  rest of its 20 ms block, as it would for a sound card's period. That is the near
  end's own share of each direction, the family's phone left out.
* Buffers: for each ``[audio] capture_buffer_ms``/``playback_buffer_ms`` pair in
  ``BUFFERS`` (echo cancellation off, as its noise suppressor fades a steady tone):
  the delay each way; glitches in a steady tone said both ways for ``TONE_S`` s, cut
  in 10 ms windows, each fitted with the tone's sine (a window that is not the sine,
  a gap, click or jump of phase, or is 6 dB down, is a glitch); and the daemon
  frozen (SIGSTOP) for ``FREEZES_MS`` in turn, the longest freeze after which the
  earpiece (the family saying a tone) and what reached the network (staff saying
  one, in a call to the mirror) stayed whole.
* CPU: % of one core, of the line daemon (as shipped) and of baresip, in a call with
  speech-like bursts of tone both ways for ``CPU_S`` s, and idle; and of the line
  daemon without a handset (``device = "null"``): the difference is what keeping the
  sound device open costs.
* Method check: before any call, a PulseAudio loopback of known latency from the
  handset's microphone to the family's earpiece is measured as the calls are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.calls import CALLEE_PASSWORD, Callee
from bench.common import Figure, cpu_seconds
from bench.daemon import HubCaller
from bench.sipcallee import read_echo_log
from hub.db import open_database
from tests.audio import write_tone, write_wav
from tests.baresip import Baresip
from tests.kamailio import Kamailio
from tests.line.conftest import Family, LineProcess
from tests.pulse import BUS, RATE, VirtualHandset, sinks

log = logging.getLogger(__name__)

HANDSET, FAMILY = "handset", "family"
# Ofcom's drama range: the family's phone, and the mirror.
FAMILY_NUMBER, MIRROR_NUMBER = "07700900123", "07700900124"
NEAR_USER, PHONE_PASSWORD = "07700900200", "bench-voice-secret"
CALLS = 3  # per set-up: a jitter buffer settles differently in each call
BUFFER_CALLS = 2  # per buffer setting, each call with a tone and freezes both ways
CHIRPS = 6  # each way, per call
CHIRP_S, CHIRP_EVERY_S = 0.1, 1.0
MAX_DELAY_S = 0.8  # a chirp is looked for this long after it was said
SETTLE_S = 1.5  # after the answer, before anything is said
TONE_S = 10.0
CPU_S = 20.0
IDLE_S = 10.0
WAIT_S = 10.0
LOOPBACK_MS = 100
TARGET_MS = 150  # ITU-T G.114: one way, for good conversation
TARGET_RATIO = 1.1
# capture, playback ms; the last is pjmedia's own default
BUFFERS = ((20, 40), (40, 60), (100, 60), (60, 100), (100, 140))
FREEZES_MS = (20, 40, 60, 80, 100, 120)  # the line daemon frozen this long (SIGSTOP)
FREEZE_EVERY_S = 1.5
# 10 ms windows a freeze may leave wrong and count as ridden out: a jitter buffer
# dropping one 20 ms frame to catch up spoils one or two; an underrun is silence for
# a 20 ms block of the card and the splice after it, three or more.
RIDDEN_OUT = 2
STAFF_HZ, FAMILY_HZ = 1003.0, 797.0  # never a whole number of cycles in any block size
DIALPLAN = {"per_staff_per_hour": 1000, "per_number_per_day": 1000, "per_hub_per_day": 1000}
# baresip's smallest buffers: a frame in the jitter buffer, 20 ms ahead of the device.
LEAN = "jitter_buffer_delay\t1-10\naudio_buffer\t\t20-60\n"


# --- the signals ------------------------------------------------------------------


def chirp(rate: int = RATE) -> np.ndarray:
    """A 100 ms linear chirp over the telephone band, faded in and out."""
    t = np.arange(int(CHIRP_S * rate)) / rate
    low, high = 300.0, 3400.0
    phase = 2 * np.pi * (low * t + (high - low) / (2 * CHIRP_S) * t * t)
    return 0.5 * np.sin(phase) * np.hanning(t.size)


def chirps(first_s: float, count: int) -> np.ndarray:
    """``count`` chirps a second apart, the first at ``first_s``."""
    signal = np.zeros(int((first_s + count * CHIRP_EVERY_S + 0.5) * RATE))
    one = chirp()
    for index in range(count):
        at = int((first_s + index * CHIRP_EVERY_S) * RATE)
        signal[at : at + one.size] += one
    return signal


def correlate(signal: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Cross-correlation of ``template`` along ``signal`` (index: where it starts)."""
    size = 1 << int(np.ceil(np.log2(signal.size + template.size)))
    spectrum = np.fft.rfft(signal, size) * np.conj(np.fft.rfft(template, size))
    return np.fft.irfft(spectrum, size)[: signal.size]


def said(mouth: np.ndarray, template: np.ndarray) -> list[int]:
    """Where each chirp starts in a microphone's feed."""
    score = correlate(mouth, template)
    threshold = 0.5 * float(score.max(initial=0))
    found: list[int] = []
    for index in np.flatnonzero(score > threshold):
        if not found or index > found[-1] + template.size:
            found.append(int(index))
        elif score[index] > score[found[-1]]:
            found[-1] = int(index)
    return found


def heard(mouth: np.ndarray, ear: np.ndarray, start: int) -> int | None:
    """Samples after ``start`` that the chirp said there reached the ear (None: it didn't)."""
    segment = mouth[start : start + int(CHIRP_S * RATE)]
    window = ear[start : start + int(MAX_DELAY_S * RATE) + segment.size]
    if window.size < segment.size or not segment.any():
        return None
    score = np.correlate(window, segment, "valid")
    best = int(np.argmax(score))
    energy = np.linalg.norm(segment) * np.linalg.norm(window[best : best + segment.size])
    # Below this the best match is not the chirp (echo cancellation may thin it a little).
    return best if energy and score[best] / energy > 0.5 else None


def glitches(ear: np.ndarray, hertz: float, sent_s: float) -> tuple[int, float]:
    """Glitches in a steady tone heard at ``ear``, and how much longer (ms) it came out."""
    windows = windows_of(ear)
    levels = np.sqrt((windows**2).mean(axis=1))
    present = np.flatnonzero(levels > 10 ** (-40 / 20))
    if present.size == 0:
        return len(windows), -sent_s * 1000
    first, last = int(present[0]), int(present[-1])
    length_ms = (last - first + 1) * 10
    inner = windows[first + 2 : last - 1]  # the fades at either end are not glitches
    bad = broken(inner, hertz, float(np.median(levels[first + 2 : last - 1])))
    return int(bad.sum()), length_ms - sent_s * 1000


def windows_of(signal: np.ndarray, rate: int = RATE) -> np.ndarray:
    """``signal`` cut into 10 ms windows, one per row."""
    size = rate // 100
    return signal[: signal.size // size * size].reshape(-1, size)


def broken(windows: np.ndarray, hertz: float, level: float, rate: int = RATE) -> np.ndarray:
    """Which 10 ms windows of a steady tone are not it: off its sine, or 6 dB below ``level``."""
    t = np.arange(windows.shape[1]) / rate
    basis = np.stack([np.sin(2 * np.pi * hertz * t), np.cos(2 * np.pi * hertz * t)], axis=1)
    fitted = np.linalg.lstsq(basis, windows.T, rcond=None)[0].T @ basis.T
    residual = ((windows - fitted) ** 2).sum(axis=1) / ((windows**2).sum(axis=1) + 1e-20)
    levels = np.sqrt((windows**2).mean(axis=1))
    return (residual > 10 ** (-20 / 10)) | (levels < level / 2)


# --- the recording ------------------------------------------------------------------


@dataclass
class Recording:
    """The bus's channels, and when each block of samples reached the recorder."""

    channels: dict[str, np.ndarray]
    block_ends: np.ndarray  # sample index just past each block
    block_ns: np.ndarray  # when that block arrived (monotonic ns)

    def ns(self, index: int) -> int:
        """When sample ``index`` was played, on the monotonic clock.

        The bus plays in real time, so its clock is the monotonic clock plus an offset:
        each block is stamped no earlier than it was played, and late only by how long
        the recorder took to be woken, so the earliest block gives the offset.
        """
        return self._offset() + int(index * 1e9 / RATE)

    def index(self, ns: int) -> int:
        """The sample played at ``ns`` on the monotonic clock."""
        return int((ns - self._offset()) * RATE / 1e9)

    def _offset(self) -> int:
        return int((self.block_ns - self.block_ends * 1e9 / RATE).min())


class Tap:
    """Records every channel of the bus, stamping each block as it arrives."""

    def __init__(self, sound: VirtualHandset) -> None:
        self.names = list(sound.channels)
        layout = ",".join(f"aux{index}" for index in range(len(self.names)))
        self.process = subprocess.Popen(
            ["parec", f"--device={BUS}.monitor", "--raw", f"--rate={RATE}",
             f"--channels={len(self.names)}", f"--channel-map={layout}", "--format=s16le",
             "--latency-msec=20"],
            env={**os.environ, **sound.env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.blocks: list[tuple[int, bytes]] = []
        self.reader = threading.Thread(target=self._read, name="bench-tap", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        source = self.process.stdout.fileno()
        while block := os.read(source, 1 << 16):
            self.blocks.append((time.monotonic_ns(), block))

    def stop(self) -> Recording:
        """End the recording; what it holds."""
        self.process.terminate()
        self.process.wait(10)
        self.reader.join(10)
        frame = 2 * len(self.names)
        data = b"".join(block for _, block in self.blocks)
        usable = len(data) // frame * frame
        samples = np.frombuffer(data[:usable], "<i2").reshape(-1, len(self.names)) / 32768
        ends = np.cumsum([len(block) for _, block in self.blocks]) // frame
        return Recording(
            {name: samples[:, index] for index, name in enumerate(self.names)},
            ends,
            np.array([stamp for stamp, _ in self.blocks]),
        )


# --- the phones ---------------------------------------------------------------------


class AlsaPhone(Baresip):
    """The tests' baresip with its ALSA module on a virtual device, speaking PCMA only."""

    def __init__(self, folder: Path, *, device: str, settings: str = "", **options: Any) -> None:
        self.device = device
        self.settings = settings
        super().__init__(folder, **options)

    def _write_config(self) -> None:
        super()._write_config()
        config = self.folder / "config"
        config.write_text(
            config.read_text()
            + f"module\t\t\talsa.so\naudio_player\t\talsa,{self.device}\n"
            + f"audio_source\t\talsa,{self.device}\n"
            # No ausrc_srate/auplay_srate: baresip 1.0's own resampler cuts the band
            # above 1.5 kHz; at the codec's 8 kHz PulseAudio resamples, as it would.
            + self.settings
        )
        accounts = self.folder / "accounts"
        accounts.write_text(accounts.read_text().rstrip("\n") + ";audio_codecs=PCMA;ptime=20\n")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def keep_time(self) -> None:
        """Put every thread (its sound device's, made for each call, too) on the real-time
        scheduler, as a phone's audio keeps time, so that a busy machine breaks up the
        near end's sound, not the family's. Does nothing without the privilege."""
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                os.sched_setscheduler(int(task.name), os.SCHED_RR, os.sched_param(10))


class HubEnd:
    """The line daemon on the handset; calls placed as the call desk places them."""

    def __init__(self, folder: Path, kamailio: Kamailio, sound: VirtualHandset,
                 audio: dict[str, Any]) -> None:  # fmt: skip
        self.line = LineProcess(folder, kamailio, dialplan=DIALPLAN,
                                audio={"device": HANDSET, **audio})  # fmt: skip
        self.line.start(env=sound.env())
        self.parts = ExitStack()
        self.parts.callback(self.line.stop)
        database = self.parts.enter_context(open_database(self.line.database_url))
        rows = Family(database)
        self.callers = {number: HubCaller(self.line, rows, rows.number("+44" + number[1:]))
                        for number in (FAMILY_NUMBER, MIRROR_NUMBER)}  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.line.process is not None
        return self.line.process.pid

    @contextmanager
    def call(self, number: str) -> Iterator[None]:
        caller = self.callers[number]
        attempt = caller.dial()
        try:
            yield
        finally:
            caller.hang_up(attempt)

    def close(self) -> None:
        self.parts.close()


class BaresipEnd:
    """baresip on the handset; calls placed over ctrl_tcp."""

    def __init__(self, folder: Path, kamailio: Kamailio, sound: VirtualHandset,
                 settings: str) -> None:  # fmt: skip
        self.phone = AlsaPhone(
            folder, device=HANDSET, settings=settings, user=NEAR_USER,
            password=PHONE_PASSWORD, registrar=kamailio, env=sound.env(),
        )  # fmt: skip
        self.domain = kamailio.domain
        self.phone.start()

    @property
    def pid(self) -> int:
        return self.phone.pid

    @contextmanager
    def call(self, number: str) -> Iterator[None]:
        answered, ended = len(self.phone.events("CALL_ESTABLISHED")), self.phone.calls_ended()
        self.phone.dial(f"sip:{number}@{self.domain}")
        self.phone.wait_for(lambda: len(self.phone.events("CALL_ESTABLISHED")) > answered)
        try:
            yield
        finally:
            self.phone.hangup()
            self.phone.wait_for(lambda: self.phone.calls_ended() > ended)

    def close(self) -> None:
        self.phone.stop()


End = HubEnd | BaresipEnd


@dataclass
class Setup:
    """One near end as measured: how it is made, and what is asked of it."""

    key: str
    label: str
    make: Callable[[Path], End]
    mirror: bool = False  # also split its delay at the network
    tone: bool = False  # check the audio stays whole, and through freezes
    cpu: bool = False  # CPU in a call
    calls: int = CALLS
    delays: dict[str, list[list[float]]] = field(default_factory=dict)  # direction → per call
    split: dict[str, list[float]] = field(default_factory=dict)
    tones: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    freezes: dict[str, list[dict[int, int]]] = field(default_factory=dict)  # per call
    cpu_call: list[float] = field(default_factory=list)


DIRECTIONS = {  # direction: (mouth, ear)
    "staff_to_family": (sinks(HANDSET)[1], sinks(FAMILY)[0]),
    "family_to_staff": (sinks(FAMILY)[1], sinks(HANDSET)[0]),
}


# --- the run ------------------------------------------------------------------------


def run() -> list[Figure]:
    """Every set-up in one PulseAudio, one Kamailio, one family's phone and one mirror."""
    folder = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    load = os.getloadavg()[0]
    try:
        with ExitStack() as parts:
            sound = parts.enter_context(
                VirtualHandset(folder / "sound", devices=(HANDSET, FAMILY), bus=True)
            )
            kamailio = parts.enter_context(Kamailio(folder / "kamailio"))
            kamailio.start()
            for user in (FAMILY_NUMBER, NEAR_USER):
                kamailio.add_user(user, PHONE_PASSWORD)
            kamailio.add_user(MIRROR_NUMBER, CALLEE_PASSWORD)
            family = parts.enter_context(
                AlsaPhone(folder / "family", device=FAMILY, settings=LEAN, user=FAMILY_NUMBER,
                          password=PHONE_PASSWORD, registrar=kamailio, env=sound.env())
            )  # fmt: skip
            family.start()
            echo_log = folder / "mirror.rtp"
            mirror = Callee(folder, kamailio, [MIRROR_NUMBER], busy=False, echo=echo_log)
            parts.callback(mirror.stop)
            check = _loopback(sound, folder)
            idle = _idle(folder, kamailio, sound)
            setups = _setups(folder, kamailio, sound)
            for round_ in range(CALLS):
                for setup in (s for s in setups if round_ < s.calls):
                    where = folder / f"{setup.key}-{round_}"
                    _measure(setup, where, sound, family, echo_log)
            figures = _figures(setups, idle, check)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_note = f"load average {load:.1f} → {os.getloadavg()[0]:.1f} over the run"
    return [Figure(f.key, f.label, f.value, f.unit, f.target, f.lower_is_better,
                   f"{f.note}; {load_note}" if f.key.endswith(".ratio") else f.note)
            for f in figures]  # fmt: skip


def _setups(folder: Path, kamailio: Kamailio, sound: VirtualHandset) -> list[Setup]:
    def hub(**audio: Any) -> Callable[[Path], End]:
        return lambda where: HubEnd(where, kamailio, sound, audio)

    def baresip(settings: str) -> Callable[[Path], End]:
        return lambda where: BaresipEnd(where, kamailio, sound, settings)

    setups = [
        Setup("hub", "hub (as shipped)", hub(), mirror=True, cpu=True),
        Setup("baresip", "baresip (as Debian ships it)", baresip(""), mirror=True, cpu=True),
        Setup("baresip_lean", "baresip, smallest buffers", baresip(LEAN), mirror=True),
    ]
    for capture, playback in BUFFERS:
        setups.append(Setup(
            f"buffers_{capture}_{playback}", f"hub, buffers {capture}/{playback} ms, no AEC",
            hub(echo_cancellation=False, capture_buffer_ms=capture,
                playback_buffer_ms=playback),
            tone=True, calls=BUFFER_CALLS,
        ))  # fmt: skip
    return setups


def _measure(setup: Setup, where: Path, sound: VirtualHandset, family: AlsaPhone,
             echo_log: Path) -> None:  # fmt: skip
    """One call to the family (and one to the mirror) from this set-up's near end."""
    where.mkdir(parents=True)
    end = setup.make(where / "near")
    try:
        with end.call(FAMILY_NUMBER):
            family.keep_time()
            time.sleep(SETTLE_S)
            for direction, found in _chirp_both_ways(sound, where).items():
                setup.delays.setdefault(direction, []).append(found)
            if setup.tone:
                for direction, result in _tones(sound, where).items():
                    setup.tones.setdefault(direction, []).append(result)
                heard_ = _freezes_heard(end.pid, sound, where)
                setup.freezes.setdefault("heard", []).append(heard_)
            if setup.cpu:
                setup.cpu_call.append(_cpu_in_call(end.pid, sound, where))
        _hung_up(family)
        if setup.mirror or setup.tone:
            with end.call(MIRROR_NUMBER):
                time.sleep(SETTLE_S)
                if setup.mirror:
                    for part, found in _mirrored(sound, where, echo_log).items():
                        setup.split.setdefault(part, []).extend(found)
                if setup.tone:
                    sent = _freezes_sent(end.pid, sound, where, echo_log)
                    setup.freezes.setdefault("sent", []).append(sent)
    finally:
        end.close()


def _hung_up(family: AlsaPhone) -> None:
    """Return once the family's phone has closed the call, so the next one is answered.

    A phone still in a call rings for the next instead of answering it. If the near
    end's BYE has not arrived in WAIT_S (once seen under heavy load), the family hangs up.
    """

    def idle() -> bool:
        return family.calls_ended() >= len(family.events("CALL_ESTABLISHED"))

    try:
        family.wait_for(idle, timeout=WAIT_S)
    except AssertionError:
        log.warning("the family's phone was still in the call %.0f s after the hang-up", WAIT_S)
        family.hangup()
        family.wait_for(idle, timeout=WAIT_S)


def _say(sound: VirtualHandset, signals: dict[str, np.ndarray], where: Path) -> Recording:
    """Record the bus while each device's microphone says its signal; what was recorded."""
    tap = Tap(sound)
    time.sleep(0.3)  # the recording is running before anything is said
    players = []
    for device, words in signals.items():
        wav = where / f"{device}-says.wav"
        write_wav(wav, words)
        players.append(sound.speak(wav, device))
    for player in players:
        player.wait(60)
    time.sleep(MAX_DELAY_S)
    return tap.stop()


def _chirp_both_ways(sound: VirtualHandset, where: Path) -> dict[str, list[float]]:
    signals = {HANDSET: chirps(0.2, CHIRPS), FAMILY: chirps(0.2 + CHIRP_EVERY_S / 2, CHIRPS)}
    recording = _say(sound, signals, where)
    found: dict[str, list[float]] = {}
    for direction, (mouth, ear) in DIRECTIONS.items():
        found[direction] = _delays(recording, mouth, ear)
    return found


def _delays(recording: Recording, mouth: str, ear: str) -> list[float]:
    """Each chirp's delay (ms) from the ``mouth`` channel to the ``ear`` channel."""
    said_at = recording.channels[mouth]
    found = []
    for start in said(said_at, chirp()):
        lag = heard(said_at, recording.channels[ear], start)
        if lag is not None:
            found.append(lag / RATE * 1000)
    return found


def _tones(sound: VirtualHandset, where: Path) -> dict[str, tuple[int, float]]:
    """A steady tone each way at once: (glitches, ms longer than said) per direction."""
    t = np.arange(int(TONE_S * RATE)) / RATE
    ramp = np.minimum(1, np.minimum(t, TONE_S - t) / 0.01)  # no click at either end
    signals = {HANDSET: 0.25 * np.sin(2 * np.pi * STAFF_HZ * t) * ramp,
               FAMILY: 0.25 * np.sin(2 * np.pi * FAMILY_HZ * t) * ramp}  # fmt: skip
    recording = _say(sound, signals, where)
    return {
        "staff_to_family": glitches(recording.channels[sinks(FAMILY)[0]], STAFF_HZ, TONE_S),
        "family_to_staff": glitches(recording.channels[sinks(HANDSET)[0]], FAMILY_HZ, TONE_S),
    }


def _freeze(pid: int, sound: VirtualHandset, where: Path, device: str,
            hertz: float) -> tuple[Recording, list[int]]:  # fmt: skip
    """Freeze the line daemon (SIGSTOP) for each of FREEZES_MS in turn while ``device``
    says a steady tone; the recording, and when each freeze began."""
    length = FREEZE_EVERY_S * (len(FREEZES_MS) + 1)
    t = np.arange(int(length * RATE)) / RATE
    ramp = np.minimum(1, np.minimum(t, length - t) / 0.01)
    wav = where / f"{device}-steady.wav"
    write_wav(wav, 0.25 * np.sin(2 * np.pi * hertz * t) * ramp)
    tap = Tap(sound)
    time.sleep(0.3)
    player = sound.speak(wav, device)
    frozen = []
    try:
        for freeze_ms in FREEZES_MS:
            time.sleep(FREEZE_EVERY_S)
            frozen.append(time.monotonic_ns())
            os.kill(pid, signal.SIGSTOP)
            time.sleep(freeze_ms / 1000)
            os.kill(pid, signal.SIGCONT)
    finally:
        os.kill(pid, signal.SIGCONT)
    player.wait(60)
    time.sleep(MAX_DELAY_S)
    return tap.stop(), frozen


def _freezes_heard(pid: int, sound: VirtualHandset, where: Path) -> dict[int, int]:
    """Freezes while the family speaks: 10 ms windows of the earpiece wrong after each."""
    recording, frozen = _freeze(pid, sound, where, FAMILY, FAMILY_HZ)
    ear = windows_of(recording.channels[sinks(HANDSET)[0]])
    level = float(np.median(np.sqrt((ear**2).mean(axis=1))))
    found = {}
    for freeze_ms, at in zip(FREEZES_MS, frozen, strict=True):
        first = recording.index(at) // (RATE // 100)
        after = ear[first : first + int(FREEZE_EVERY_S * 100) - 10]
        found[freeze_ms] = int(broken(after, FAMILY_HZ, level).sum())
    return found


def _freezes_sent(pid: int, sound: VirtualHandset, where: Path, echo_log: Path
                  ) -> dict[int, int]:  # fmt: skip
    """Freezes while staff speak, in a call to the mirror: 10 ms windows of what reached
    the network wrong after each (audio the microphone lost, or the bridge mangled)."""
    recording, frozen = _freeze(pid, sound, where, HANDSET, STAFF_HZ)
    sent = _network_signal(echo_log, int(recording.block_ns[0]), int(recording.block_ns[-1]))
    if sent is None:
        raise RuntimeError("no audio reached the mirror")
    network, arrivals = sent
    windows = windows_of(network, 8000)
    level = float(np.median(np.sqrt((windows**2).mean(axis=1))))
    found = {}
    for freeze_ms, at in zip(FREEZES_MS, frozen, strict=True):
        # What was said as the daemon froze reaches the network only after it resumes.
        first, last = np.searchsorted(arrivals, [at, at + int(FREEZE_EVERY_S * 1e9) - 10**8])
        found[freeze_ms] = int(broken(windows[first // 80 : last // 80], STAFF_HZ, level,
                                      8000).sum())  # fmt: skip
    return found


def _cpu_in_call(pid: int, sound: VirtualHandset, where: Path) -> float:
    """% of one core over CPU_S of speech-like tone bursts both ways."""
    players = [
        sound.speak(write_tone(where / "staff-cpu.wav", STAFF_HZ, CPU_S + 2), HANDSET),
        sound.speak(write_tone(where / "family-cpu.wav", FAMILY_HZ, CPU_S + 2), FAMILY),
    ]
    time.sleep(1)
    used = _cpu(pid, CPU_S)
    for player in players:
        player.wait(30)
    return used


def _cpu(pid: int, seconds: float) -> float:
    first, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - first) / (time.monotonic() - started) * 100


def _mirrored(sound: VirtualHandset, where: Path, echo_log: Path) -> dict[str, list[float]]:
    """Each chirp's trip handset → mirror → handset, split where it met the network (ms)."""
    recording = _say(sound, {HANDSET: chirps(0.2, CHIRPS)}, where)
    mouth, ear = recording.channels[sinks(HANDSET)[1]], recording.channels[sinks(HANDSET)[0]]
    sent = _network_signal(echo_log, int(recording.block_ns[0]), int(recording.block_ns[-1]))
    found: dict[str, list[float]] = {"out": [], "back": [], "round_trip": []}
    if sent is None:
        return found
    network, arrivals = sent
    narrow = chirp(8000)
    for start in said(mouth, chirp()):
        lag = heard(mouth, ear, start)
        if lag is None:
            continue
        said_ns = recording.ns(start)
        # The chirp in the packets, looked for after it was said (the mirror's clock).
        after = int(np.searchsorted(arrivals, said_ns))
        span = network[after : after + int(MAX_DELAY_S * 8000)]
        if span.size < narrow.size:
            continue
        at = after + int(np.argmax(correlate(span, narrow)))
        out_ms = (arrivals[at] - said_ns) / 1e6
        total_ms = lag / RATE * 1000
        found["out"].append(out_ms)
        found["back"].append(total_ms - out_ms)
        found["round_trip"].append(total_ms)
    return found


def _network_signal(
    log: Path, since_ns: int, until_ns: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """What reached the mirror between two moments: 8 kHz samples, each one's arrival."""
    packets = [(t, p) for t, p in read_echo_log(log) if since_ns <= t <= until_ns]
    if not packets:
        return None
    first_ts = None
    pieces: dict[int, tuple[int, np.ndarray]] = {}
    for arrived, packet in packets:
        header = 12 + 4 * (packet[0] & 0x0F)
        if packet[0] & 0x10:  # an extension header
            header += 4 + 4 * int.from_bytes(packet[header + 2 : header + 4], "big")
        timestamp = int.from_bytes(packet[4:8], "big")
        first_ts = timestamp if first_ts is None else first_ts
        pieces[(timestamp - first_ts) % (1 << 32)] = (arrived, alaw(packet[header:]))
    length = max(offset + samples.size for offset, (_, samples) in pieces.items())
    signal, arrivals = np.zeros(length), np.zeros(length, dtype=np.int64)
    for offset, (arrived, samples) in pieces.items():
        signal[offset : offset + samples.size] = samples
        arrivals[offset : offset + samples.size] = arrived
    # Samples of lost packets take the next packet's arrival, keeping ``arrivals`` rising.
    arrivals = np.minimum.accumulate(np.where(arrivals == 0, arrivals.max(), arrivals)[::-1])[::-1]
    return signal, arrivals


def alaw(payload: bytes) -> np.ndarray:
    """G.711 A-law bytes as samples from -1 to 1."""
    code = np.frombuffer(payload, np.uint8) ^ 0x55
    exponent, mantissa = (code >> 4) & 7, (code & 15).astype(np.int32)
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))  # fmt: skip
    return np.where(code & 0x80, magnitude, -magnitude) / 32768


def _loopback(sound: VirtualHandset, folder: Path) -> float:
    """The measured delay of a PulseAudio loopback whose latency is LOOPBACK_MS."""
    module = sound.pactl(
        "load-module", "module-loopback", f"source={sinks(HANDSET)[1]}.monitor",
        f"sink={sinks(FAMILY)[0]}", f"latency_msec={LOOPBACK_MS}",
    ).strip()  # fmt: skip
    try:
        time.sleep(2)  # the loopback settles on its latency
        where = folder / "loopback"
        where.mkdir()
        recording = _say(sound, {HANDSET: chirps(0.2, CHIRPS)}, where)
        return statistics.median(_delays(recording, *DIRECTIONS["staff_to_family"]))
    finally:
        sound.pactl("unload-module", module)


def _idle(folder: Path, kamailio: Kamailio, sound: VirtualHandset) -> dict[str, float]:
    """% of one core used while registered and idle: the hub with and without a handset."""
    idle = {}
    for key, make in (
        ("hub", lambda: HubEnd(folder / "idle-hub", kamailio, sound, {})),
        ("hub_headless", lambda: HubEnd(folder / "idle-headless", kamailio, sound,
                                        {"device": "null"})),
        ("baresip", lambda: BaresipEnd(folder / "idle-baresip", kamailio, sound, "")),
    ):  # fmt: skip
        end = make()
        try:
            time.sleep(3)  # past start-up
            idle[key] = _cpu(end.pid, IDLE_S)
        finally:
            end.close()
    return idle


# --- the figures --------------------------------------------------------------------


def _figures(setups: list[Setup], idle: dict[str, float], check: float) -> list[Figure]:
    by = {setup.key: setup for setup in setups}
    figures = [
        Figure("voice.check.loopback", f"Method check: a {LOOPBACK_MS} ms loopback measures",
               check, "ms", note="module-loopback latency_msec from the handset's microphone"
               " to the family's earpiece, found as the calls' chirps are"),
    ]  # fmt: skip
    names = {"staff_to_family": "staff → family", "family_to_staff": "family → staff"}
    for direction, name in names.items():
        hub, baresip = _median(by["hub"], direction), _median(by["baresip"], direction)
        figures += [
            Figure(f"voice.{direction}.hub", f"Mouth to ear, {name}, hub", hub, "ms",
                   target=TARGET_MS, note=_spread(by["hub"], direction)),
            Figure(f"voice.{direction}.baresip", f"Mouth to ear, {name}, baresip", baresip,
                   "ms", note=_spread(by["baresip"], direction)),
            Figure(f"voice.{direction}.ratio", f"Mouth to ear, {name}, hub ÷ baresip",
                   hub / baresip, "×", target=TARGET_RATIO,
                   note="medians; the family's phone is baresip with its smallest buffers"),
            Figure(f"voice.{direction}.baresip_lean", f"Mouth to ear, {name}, baresip with"
                   " its smallest buffers", _median(by["baresip_lean"], direction), "ms",
                   note=_spread(by["baresip_lean"], direction)),
        ]  # fmt: skip
    for key, label in (("hub", "hub"), ("baresip", "baresip"), ("baresip_lean", "baresip lean")):
        split = by[key].split
        figures += [
            Figure(f"voice.split.{key}.out", f"Own share, microphone → network, {label}",
                   _middle(split.get("out", []), f"{label}'s split"), "ms",
                   note="median over the calls to the mirror"),
            Figure(f"voice.split.{key}.back", f"Own share, network → earpiece, {label}",
                   _middle(split.get("back", []), f"{label}'s split"), "ms",
                   note="median over the calls to the mirror"),
        ]  # fmt: skip
    for capture, playback in BUFFERS:
        setup = by[f"buffers_{capture}_{playback}"]
        counts = {d: [count for count, _ in results] for d, results in setup.tones.items()}
        stretch = max((abs(ms) for results in setup.tones.values() for _, ms in results),
                      default=0.0)  # fmt: skip
        for direction, name in names.items():
            figures.append(Figure(
                f"voice.buffers.{capture}_{playback}.{direction}",
                f"Buffers {capture}/{playback} ms, {name}", _median(setup, direction), "ms",
                note=_spread(setup, direction) + "; echo cancellation off"))  # fmt: skip
        for part, what in (("heard", "earpiece"), ("sent", "microphone → network")):
            calls = setup.freezes.get(part, [])
            worst = {ms: max((found[ms] for found in calls), default=0) for ms in FREEZES_MS}
            survived = 0
            for freeze_ms in FREEZES_MS:
                if worst[freeze_ms] > RIDDEN_OUT:
                    break
                survived = freeze_ms
            tally = ", ".join(f"{ms} ms: {worst[ms] * 10}" for ms in FREEZES_MS)
            figures.append(Figure(
                f"voice.buffers.{capture}_{playback}.freeze.{part}",
                f"Buffers {capture}/{playback} ms, longest freeze ridden out, {what}",
                survived, "ms", lower_is_better=False,
                note=f"the daemon stopped (SIGSTOP) during a steady tone; ridden out: at most"
                f" {RIDDEN_OUT * 10} ms of it wrong after, in each of {len(calls)} calls;"
                f" worst call's wrong ms after each freeze: {tally}"))  # fmt: skip
        per_call = "; ".join(f"{names[d]} {'+'.join(map(str, c))}" for d, c in counts.items())
        figures.append(Figure(
            f"voice.buffers.{capture}_{playback}.glitches",
            f"Buffers {capture}/{playback} ms, glitches in {2 * setup.calls} × {TONE_S:.0f} s"
            " of tone",
            sum(sum(c) for c in counts.values()), "", target=0,
            note=f"per call: {per_call}; the tone's length came out within"
            f" {stretch:.0f} ms"))  # fmt: skip
    cpu_note = f"% of one core over {CPU_S:.0f} s of tone bursts both ways; median of {CALLS} calls"
    figures += [
        Figure("voice.cpu.hub.call", "Line daemon CPU, in a call on the handset",
               _middle(by["hub"].cpu_call, "the hub's CPU"), "%", note=cpu_note),
        Figure("voice.cpu.baresip.call", "baresip CPU, in a call on the handset",
               _middle(by["baresip"].cpu_call, "baresip's CPU"), "%", note=cpu_note),
        Figure("voice.cpu.hub.idle", "Line daemon CPU, idle with the handset open",
               idle["hub"], "%", note=f"% of one core over {IDLE_S:.0f} s"),
        Figure("voice.cpu.hub.idle_headless", "Line daemon CPU, idle without a handset",
               idle["hub_headless"], "%", note='[audio] device = "null"'),
        Figure("voice.cpu.baresip.idle", "baresip CPU, idle (its device opens for a call)",
               idle["baresip"], "%", note=f"% of one core over {IDLE_S:.0f} s"),
    ]  # fmt: skip
    return figures


def _all(setup: Setup, direction: str) -> list[float]:
    return [ms for call in setup.delays.get(direction, []) for ms in call]


def _median(setup: Setup, direction: str) -> float:
    return _middle(_all(setup, direction), f"{setup.label}, {direction}")


def _middle(values: list[float], what: str) -> float:
    """The median; a run that measured nothing is an error, not a figure."""
    if not values:
        raise RuntimeError(f"nothing was measured for {what}: no chirp was heard")
    return statistics.median(values)


def _spread(setup: Setup, direction: str) -> str:
    calls = [statistics.median(call) for call in setup.delays.get(direction, []) if call]
    heard_count = len(_all(setup, direction))
    said_count = CHIRPS * len(setup.delays.get(direction, []))
    if not calls:
        return f"no chirp heard of {said_count}"
    return (f"per-call medians {min(calls):.0f}–{max(calls):.0f} ms over {len(calls)} calls;"
            f" {heard_count} of {said_count} chirps heard")  # fmt: skip
