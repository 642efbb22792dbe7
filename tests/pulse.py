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

More than one device (a far end's phone beside the handset) each get a PCM and a
pair of sinks named after them. With ``bus=True`` every sink is one channel of a
single null sink, ``bus``, so one recording of its monitor holds every mouth and
every ear sample-aligned on one clock (what a mouth-to-ear delay is measured on);
the bus never rewinds, so each sample reaches its monitor once, in real time:

    with VirtualHandset(folder, devices=("handset", "family"), bus=True) as sound:
        sound.speak(wav, "family")  # parec --device=bus.monitor hears sound.channels
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.processes import end

RATE = 16_000
DEVICE = "handset"
BUS = "bus"


def sinks(device: str) -> tuple[str, str]:
    """A device's two sinks: its earpiece, and its microphone's feed (whose monitor it hears)."""
    return f"{device}_speaker", f"{device}_mic"


class VirtualHandset:
    """A PulseAudio server with a speaker sink and a microphone feed, as ALSA PCM "handset".

    ``devices`` names the PCMs (the first is the handset); ``bus`` puts every sink on
    one channel of a shared null sink, recorded whole by ``record``.
    """

    def __init__(self, folder: Path, *, devices: Sequence[str] = (DEVICE,),
                 bus: bool = False) -> None:  # fmt: skip
        self.devices = tuple(devices)
        self.bus = bus
        # The bus's channels, in order: each device's earpiece, then its microphone.
        self.channels = [sink for device in self.devices for sink in sinks(device)]
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # A Unix socket path must stay short; tmp_path can be long.
        self.runtime = Path(f"/tmp/phonehub-pulse-{os.getpid()}-{id(self):x}")
        self.socket = self.runtime / "native"
        self.device = self.devices[0]
        self.alsa_config = self.folder / "asound.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._recorders: list[subprocess.Popen[bytes]] = []
        self._tickers: list[subprocess.Popen[bytes]] = []

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
        """Start PulseAudio with the sinks; return once it answers."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is missing: run make setup-test")
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        script = self.folder / "handset.pa"
        script.write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n"
            + (self._bus_line() if self.bus else "")
            + "".join(f"load-module {' '.join(self._sink_module(name))}\n"
                      for name in self.channels)
        )  # fmt: skip
        self.alsa_config.write_text(
            "# Written by tests/pulse.py for one test; never the machine's ALSA config.\n"
            + "".join(self._pcm(device) for device in self.devices)
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
        while not self._has_sinks():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PulseAudio did not start:\n{self.log()}")
            time.sleep(0.05)
        self._clock()

    def _pcm(self, device: str) -> str:
        speaker, mic = sinks(device)
        return f"""pcm.{device} {{
    type asym
    playback.pcm {{ type pulse; server "unix:{self.socket}"; device "{speaker}" }}
    capture.pcm {{ type pulse; server "unix:{self.socket}"; device "{mic}.monitor" }}
    hint {{ show on; description "Virtual {device} (tests)" }}
}}
ctl.{device} {{ type pulse; server "unix:{self.socket}" }}
"""

    def _has_sinks(self) -> bool:
        listed = self.pactl("list", "short", "sinks", check=False).splitlines()
        present = {line.split("\t")[1] for line in listed if "\t" in line}
        return present >= set(self.channels)

    def _clock(self) -> None:
        """Keep the earpiece's sink playing 20 ms at a time, as a USB handset's clock does.

        A null sink with nobody listening renders up to 2 s in one go; the line's
        playback then runs that far ahead of its microphone and starves it. On a bus
        one tick drives every device.
        """
        monitors = [BUS] if self.bus else [sinks(device)[0] for device in self.devices]
        for sink in monitors:
            self._tickers.append(subprocess.Popen(
                ["parec", f"--device={sink}.monitor", "--latency-msec=20", "--raw"],
                env={**os.environ, **self.env()},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ))  # fmt: skip

    def _bus_line(self) -> str:
        aux = ",".join(f"aux{index}" for index in range(len(self.channels)))
        return (
            f"load-module module-null-sink sink_name={BUS} rate={RATE}"
            f" channels={len(self.channels)} channel_map={aux} format=s16le"
            # Rewound, a null sink plays part of a block again and its monitor's
            # recorders get those samples twice: a clock that runs fast (2% was seen).
            f" norewinds=1 sink_properties=device.description={BUS}\n"
        )

    def _sink_module(self, name: str) -> list[str]:
        """The module and arguments that make the sink ``name``."""
        if self.bus:
            # One channel of the bus, untouched by any up- or down-mixing.
            return ["module-remap-sink", f"sink_name={name}", f"master={BUS}", "channels=1",
                    "channel_map=mono", f"master_channel_map=aux{self.channels.index(name)}",
                    "remix=no", f"sink_properties=device.description={name}"]  # fmt: skip
        # No rewinds here either: a rewound sink gives its monitor part of a block twice,
        # and a recording of the earpiece then holds more tone than was played.
        return ["module-null-sink", f"sink_name={name}", f"rate={RATE}", "channels=1",
                "format=s16le", "norewinds=1",
                f"sink_properties=device.description={name}"]  # fmt: skip

    def pactl(self, *args: str, check: bool = True) -> str:
        """Run ``pactl`` on this server; its output (RuntimeError if it fails and ``check``)."""
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

    def speak(self, wav: Path, device: str | None = None) -> subprocess.Popen[bytes]:
        """Play ``wav`` into the microphone (of ``device``, else the handset's); the player."""
        player = subprocess.Popen(
            ["paplay", f"--device={sinks(device or self.device)[1]}", str(wav)],
            env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._players.append(player)
        return player

    def listen(self, wav: Path, device: str | None = None) -> subprocess.Popen[bytes]:
        """Record what the earpiece (of ``device``) plays into ``wav`` until ``stop_listening``."""
        recorder = subprocess.Popen(
            ["parec", f"--device={sinks(device or self.device)[0]}.monitor", f"--rate={RATE}",
             "--channels=1", "--format=s16le", "--file-format=wav", "--latency-msec=20",
             str(wav)],
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
            if name in sinks(self.device):
                self.pactl("unload-module", index)

    def plug_in(self) -> None:
        """Put the handset back: the two sinks return under the same names."""
        present = {name for _, name in self._modules()}
        for name in sinks(self.device):
            if name not in present:
                self.pactl("load-module", *self._sink_module(name))

    def _modules(self) -> list[tuple[str, str]]:
        found = []
        for line in self.pactl("list", "short", "modules").splitlines():
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
        for ticker in self._tickers:
            end(ticker, timeout=5)
        self._tickers.clear()
        if self._process is not None:
            end(self._process, timeout=5)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.runtime, ignore_errors=True)
