"""Test sounds and what a recording holds: tones made here, found again by their frequency.

A voice is stood in for by bursts of a tone (speech processing such as echo
cancellation and noise suppression leaves a steady tone alone only for a while, a
burst pattern it keeps): 200 ms on, 100 ms off. A recording is cut into 20 ms
windows; a window "holds" a tone when the band around its frequency carries most of
the window's energy and the window is well above silence.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16_000
WINDOW_S = 0.02
SILENCE_DBFS = -50.0  # below this a 20 ms window is silence


def write_tone(path: Path, hertz: float, seconds: float, *, level_dbfs: float = -12,
               on_s: float = 0.2, off_s: float = 0.1) -> Path:  # fmt: skip
    """A mono 16 kHz WAV of ``hertz`` in bursts (``off_s`` 0: continuous)."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.sin(2 * np.pi * hertz * t) * 10 ** (level_dbfs / 20)
    if off_s:
        signal *= (t % (on_s + off_s)) < on_s
    write_wav(path, signal)
    return path


def write_wav(path: Path, signal: np.ndarray, rate: int = RATE) -> None:
    """``signal`` (floats from -1 to 1) as a mono 16-bit WAV."""
    samples = np.clip(signal * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A WAV's first channel as floats from -1 to 1, and its sample rate."""
    with wave.open(str(path), "rb") as source:
        rate, channels = source.getframerate(), source.getnchannels()
        assert source.getsampwidth() == 2, f"{path} is not 16-bit"
        raw = source.readframes(source.getnframes())
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768
    return samples[::channels], rate


@dataclass(frozen=True)
class Heard:
    """What a recording holds: its length, and when a given tone was in it."""

    duration_s: float
    windows: np.ndarray  # True for each 20 ms window holding the tone
    levels_dbfs: np.ndarray  # each window's level

    @property
    def tone_s(self) -> float:
        """Seconds of windows holding the tone."""
        return float(self.windows.sum() * WINDOW_S)

    def tone_between(self, start_s: float, end_s: float) -> float:
        """Seconds holding the tone between ``start_s`` and ``end_s``."""
        first, last = int(start_s / WINDOW_S), int(end_s / WINDOW_S)
        return float(self.windows[first:last].sum() * WINDOW_S)

    def first_tone_s(self) -> float | None:
        """When the tone is first heard, or None."""
        found = np.flatnonzero(self.windows)
        return float(found[0] * WINDOW_S) if found.size else None

    def loudest_dbfs(self) -> float:
        """The level of the loudest window."""
        return float(self.levels_dbfs.max()) if self.levels_dbfs.size else -120.0

    def sound_s(self, start_s: float = 0, end_s: float | None = None) -> float:
        """Seconds of anything above silence (speech, say) between the two times."""
        first = int(start_s / WINDOW_S)
        last = None if end_s is None else int(end_s / WINDOW_S)
        return float((self.levels_dbfs[first:last] > SILENCE_DBFS).sum() * WINDOW_S)


def listen_for(path: Path, hertz: float, *, band_hz: float = 60) -> Heard:
    """Where in the WAV at ``path`` the tone ``hertz`` can be heard."""
    samples, rate = read_wav(path)
    size = int(WINDOW_S * rate)
    count = len(samples) // size
    frames = samples[: count * size].reshape(count, size) * np.hanning(size)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    bins = np.fft.rfftfreq(size, 1 / rate)
    band = np.abs(bins - hertz) <= band_hz
    total = spectrum.sum(axis=1) + 1e-20
    share = spectrum[:, band].sum(axis=1) / total
    rms = np.sqrt((samples[: count * size].reshape(count, size) ** 2).mean(axis=1))
    levels = 20 * np.log10(rms + 1e-12)
    return Heard(len(samples) / rate, (share > 0.6) & (levels > SILENCE_DBFS + 10), levels)


def share(path: Path, hertz: float, *, band_hz: float = 30) -> float:
    """How much of a WAV's energy is at ``hertz``: for recordings where several talk at once."""
    samples, rate = read_wav(path)
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    bins = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[np.abs(bins - hertz) <= band_hz].sum() / (spectrum.sum() + 1e-20))
