"""A real-time virtual handset for the tests: PulseAudio behind ALSA's ``pulse`` PCM.

There is no sound card on a build machine, so the handset is made of a PulseAudio
server of the test's own (its own socket and runtime folder, nothing of the
machine's) with two null sinks: ``handset_speaker``, which the earpiece plays into
and whose monitor the test records with ``parec``, and ``handset_mic``, into which
the test plays the member of staff's voice with ``paplay`` and whose monitor is the
microphone. An ALSA configuration of the test's own (``ALSA_CONFIG_PATH``, never
the machine's /etc/asound.conf) names them as one PCM, ``handset``, with a hint so
that pjmedia lists it as ``aplay -L`` would. pjmedia's real ALSA code then runs in
real time, and unplugging the handset is unloading the two sinks.

    with VirtualHandset(tmp_path / "sound") as handset:
        line = make_line(kamailio, audio={"device": handset.device})
        line.start(env=handset.env())
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.processes import end

RATE = 16_000
DEVICE = "handset"
_SINKS = {"handset_speaker": "the earpiece", "handset_mic": "the microphone's feed"}


class VirtualHandset:
    """A PulseAudio server with a speaker sink and a microphone feed, as ALSA PCM "handset"."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # A Unix socket path must stay short; tmp_path can be long.
        self.runtime = Path(f"/tmp/phonehub-pulse-{os.getpid()}-{id(self):x}")
        self.socket = self.runtime / "native"
        self.device = DEVICE
        self.alsa_config = self.folder / "asound.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._recorders: list[subprocess.Popen[bytes]] = []
        self._ticker: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VirtualHandset:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to find the handset (and only it)."""
        return {
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.alsa_config}",
            "PULSE_SERVER": f"unix:{self.socket}",
            # PulseAudio's client library must not start or find another server.
            "PULSE_RUNTIME_PATH": str(self.runtime),
            "XDG_RUNTIME_DIR": str(self.runtime),
        }

    def start(self) -> None:
        """Start PulseAudio with the two sinks; return once it answers."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is missing: run make setup-test")
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        script = self.folder / "handset.pa"
        script.write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n"
            + "".join(self._sink_line(name) for name in _SINKS)
        )
        self.alsa_config.write_text(
            f"""# Written by tests/pulse.py for one test; never the machine's ALSA config.
pcm.{DEVICE} {{
    type asym
    playback.pcm {{ type pulse; server "unix:{self.socket}"; device "handset_speaker" }}
    capture.pcm {{ type pulse; server "unix:{self.socket}"; device "handset_mic.monitor" }}
    hint {{ show on; description "Virtual handset (tests)" }}
}}
ctl.{DEVICE} {{ type pulse; server "unix:{self.socket}" }}
"""
        )
        self._log = (self.folder / "pulseaudio.log").open("ab")
        self._process = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--system=no", "-n", "-F", str(script),
             "--exit-idle-time=-1", "--disallow-exit", "--disallow-module-loading=no",
             "--use-pid-file=no", "--log-target=stderr", "--log-level=warning"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env(), "HOME": str(self.folder)},
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while self._pactl("list", "short", "sinks", check=False).count("handset_") < 2:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PulseAudio did not start:\n{self.log()}")
            time.sleep(0.05)
        self._clock()

    def _clock(self) -> None:
        """Keep the earpiece's sink playing 20 ms at a time, as a USB handset's clock does.

        A null sink with nobody listening renders up to 2 s in one go; the line's
        playback then runs that far ahead of its microphone and starves it.
        """
        self._ticker = subprocess.Popen(
            ["parec", "--device=handset_speaker.monitor", "--latency-msec=20", "--raw"],
            env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _sink_line(self, name: str) -> str:
        return (
            f"load-module module-null-sink sink_name={name} rate={RATE} channels=1 "
            f"format=s16le sink_properties=device.description={name}\n"
        )

    def _pactl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["pactl", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def log(self) -> str:
        """What PulseAudio has printed."""
        path = self.folder / "pulseaudio.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- what the member of staff does -----------------------------------------

    def speak(self, wav: Path) -> subprocess.Popen[bytes]:
        """Play ``wav`` into the microphone, in real time; returns the player."""
        player = subprocess.Popen(
            ["paplay", "--device=handset_mic", str(wav)],
            env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._players.append(player)
        return player

    def listen(self, wav: Path) -> subprocess.Popen[bytes]:
        """Record what the earpiece plays into ``wav`` until ``stop_listening``."""
        recorder = subprocess.Popen(
            ["parec", "--device=handset_speaker.monitor", f"--rate={RATE}", "--channels=1",
             "--format=s16le", "--file-format=wav", "--latency-msec=20", str(wav)],
            env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._recorders.append(recorder)
        return recorder

    def stop_listening(self) -> None:
        """End every ``listen`` recording (parec writes the WAV header as it exits)."""
        for recorder in self._recorders:
            end(recorder, signal.SIGINT, timeout=5)
        self._recorders.clear()

    def unplug(self) -> None:
        """Pull the handset out: both sinks (and the microphone's source) go."""
        for index, name in self._modules():
            if name in _SINKS:
                self._pactl("unload-module", index)

    def plug_in(self) -> None:
        """Put the handset back: the two sinks return under the same names."""
        present = {name for _, name in self._modules()}
        for name in _SINKS:
            if name not in present:
                arguments = self._sink_line(name).split(" ", 1)[1].split()
                self._pactl("load-module", *arguments)

    def _modules(self) -> list[tuple[str, str]]:
        found = []
        for line in self._pactl("list", "short", "modules").splitlines():
            index, _, rest = line.partition("\t")
            if "sink_name=" in rest:
                found.append((index, rest.split("sink_name=")[1].split()[0]))
        return found

    def close(self) -> None:
        """Stop every player, recorder and the server; safe to call twice."""
        for player in self._players:
            end(player, timeout=5)
        self._players.clear()
        self.stop_listening()
        if self._ticker is not None:
            end(self._ticker, timeout=5)
            self._ticker = None
        if self._process is not None:
            end(self._process, timeout=5)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.runtime, ignore_errors=True)
