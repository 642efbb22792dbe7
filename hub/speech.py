"""Spoken prompts, rendered once by pyttsx3 (espeak-ng) into a cache of WAV files.

Each prompt is rendered in the format the pjsua2 conference bridge plays without
converting: 16-bit signed PCM, mono, 16000 Hz. A file is named for the sha256 of
everything that shapes its sound, so a changed text, voice or rate renders anew
and an unchanged one is never rendered twice.

    >>> cache = SpeechCache(Path("/var/lib/phonehub/speech"), voice="en-gb", rate=160)
    >>> cache.render("This call may be recorded.")  # doctest: +SKIP
    PosixPath('/var/lib/phonehub/speech/3f1c….wav')

Rendering runs ``python -m hub.speech`` in a short-lived child process rather than
in the caller, because pyttsx3 2.99's espeak driver is not safe to use inside the
long-running line daemon:

- ``save_to_file()`` then ``runAndWait()`` returns *before* the file is written:
  the driver starts espeak-ng in its asynchronous mode, and the WAV appears later,
  written from espeak-ng's own thread (a one-minute prompt is still missing when
  runAndWait returns).
- A voice that espeak-ng refuses (``"en-gb"`` is a language, not a voice file
  name) is reported only to ``connect("error")`` listeners; the engine silently
  keeps the previous voice, so after an "en-us" prompt an "en-gb" one comes out
  American.
- ``setProperty("rate", …)`` is lost now and then: see _synthesise().
- The engine is one per process (``pyttsx3.init()`` caches it and espeak-ng can
  be initialised only once), it prints "Audio saved to …" on stdout, and an error
  while writing the file is raised inside a ctypes callback, where it is lost.

A child process starts from clean espeak-ng state every time, can be killed after
a timeout so the daemon never wedges, and also keeps the pure-Python resampling
off the daemon's threads (on a Pi it holds the GIL for about half a second).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.exceptions import SpeechError

SAMPLE_RATE = 16000
CHANNELS = 1
SAMPLE_WIDTH = 2
FORMAT = f"pcm_s16le/{CHANNELS}ch/{SAMPLE_RATE}Hz"

# pyttsx3's espeak driver always labels its files 22050 Hz, 16-bit mono.
_ESPEAK_RATE = 22050
# espeak-ng renders about a hundred times faster than real time.
_SYNTH_TIMEOUT_S = 60
_CHILD_TIMEOUT_S = 90
# The exit status with which the child says its stderr is one sentence for the user.
_EXPLAINED = 3
_SUGGESTED_VOICES = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-rp", "cy")


class SpeechCache:
    """A folder of rendered prompts for one voice and speaking rate."""

    def __init__(self, folder: Path, voice: str = "en-gb", rate: int = 160) -> None:
        self.folder = Path(folder)
        self.voice = voice
        self.rate = rate

    def render(self, text: str) -> Path:
        """The WAV file that speaks ``text``, rendering it first if it is not cached."""
        if not text.strip():
            raise SpeechError("cannot speak an empty prompt; give some text to say")
        path = self.folder / f"{self._key(text)}.wav"
        if path.exists():
            return path
        # Mode 0700 like the rest of the hub's data: only the hub's own user reads it.
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".wav.tmp")
        os.close(handle)
        tmp = Path(name)
        try:
            _run_child(text, self.voice, self.rate, tmp)
            # Atomic: a reader sees no file or a whole one, even if we die mid-render.
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _key(self, text: str) -> str:
        key = json.dumps([text, self.voice, self.rate, FORMAT], ensure_ascii=False)
        return hashlib.sha256(key.encode("utf-8")).hexdigest()


def resample(samples: array, from_rate: int, to_rate: int) -> array:
    """``samples`` (array of 'h') at ``to_rate``, by linear interpolation."""
    # No low-pass first: the 8-11 kHz that folds down lands above 4 kHz, which the
    # narrowband codecs on the way to a parent's phone cut off anyway.
    count = len(samples) * to_rate // from_rate
    if count == 0:
        return array("h")
    step = from_rate / to_rate
    last = len(samples) - 1
    # Pad with the last sample so the interpolation below need not test j < last.
    padded = samples.tolist()
    padded.append(samples[last])
    out = []
    append = out.append
    for i in range(count):
        position = i * step
        j = int(position)
        a = padded[j]
        append(round(a + (padded[j + 1] - a) * (position - j)))
    return array("h", out)


def _run_child(text: str, voice: str, rate: int, output: Path) -> None:
    """Render ``text`` into ``output`` by running this module in a child process."""
    # The child must import this very hub package, whether installed or not.
    source_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "hub.speech", "--voice", voice, "--rate", str(rate)]
    try:
        done = subprocess.run(
            [*command, str(output)],
            input=text.encode("utf-8"),
            # stdout too: pyttsx3 prints "Audio saved to …" there, which nobody needs.
            capture_output=True,
            env=env,
            timeout=_CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SpeechError(
            f"espeak-ng took more than {_CHILD_TIMEOUT_S} s to render a prompt and was stopped"
        ) from None
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode == _EXPLAINED:
        raise SpeechError(message.splitlines()[-1])
    if done.returncode != 0:
        last = message.splitlines()[-1] if message else f"exit status {done.returncode}"
        raise SpeechError(f"the speech renderer failed: {last}")


def _synthesise(text: str, voice: str, rate: int, output: Path) -> None:
    """Speak ``text`` with pyttsx3 into ``output`` as 16 kHz mono 16-bit PCM (in the child)."""
    engine = _engine()
    voice_id = _find_voice(voice, engine.getProperty("voices"))
    finished = threading.Event()
    engine.connect("finished-utterance", lambda name, completed: finished.set())
    # Not engine.setProperty(): pyttsx3 queues it until runAndWait(), whose endLoop()
    # calls espeak_Cancel() if espeak-ng is still busy applying it, and espeak_Cancel()
    # puts the rate back to the previous utterance's (pyttsx3's 200), so about one
    # prompt in twenty came out too fast. Set on the driver, then let espeak-ng's own
    # queue drain, so runAndWait() finds it idle and cancels nothing.
    driver = engine.proxy._driver
    try:
        driver.setProperty("voice", voice_id)
        driver.setProperty("rate", rate)
    except ValueError as exc:
        raise SpeechError(f"espeak-ng refused voice {voice!r} at rate {rate}: {exc}") from None
    _espeak().Synchronize()
    raw = output.with_name(output.name + ".22k")
    try:
        engine.save_to_file(text, str(raw))
        engine.runAndWait()
        # runAndWait returns before espeak-ng's thread has written the file.
        if not finished.wait(_SYNTH_TIMEOUT_S):
            raise SpeechError(f"espeak-ng produced no audio within {_SYNTH_TIMEOUT_S} s")
        samples = _read_samples(raw)
    finally:
        raw.unlink(missing_ok=True)
    if not any(samples):
        raise SpeechError(
            f"espeak-ng produced no audio for {text.strip()!r}; give words it can say"
        )
    _write_samples(output, resample(samples, _ESPEAK_RATE, SAMPLE_RATE))


def _engine() -> Any:
    """The pyttsx3 espeak engine, or a SpeechError naming what to install."""
    try:
        import pyttsx3
    except ImportError:
        raise SpeechError("pyttsx3 is not installed; reinstall phonehub with pip") from None
    try:
        return pyttsx3.init("espeak")
    except (OSError, RuntimeError):
        raise SpeechError(
            "espeak-ng is not installed or cannot start; install the Debian package espeak-ng"
        ) from None


def _espeak() -> Any:
    """pyttsx3's ctypes binding of libespeak-ng, loaded by _engine()."""
    from pyttsx3.drivers import _espeak

    return _espeak


def _find_voice(wanted: str, voices: Sequence[Any]) -> str:
    """The id of the espeak-ng voice called ``wanted`` by id, file, language or name."""
    # espeak-ng itself accepts only ids, file names and names ("en-gb" is a language of
    # the voice gmw/en, and SetVoiceByName("en-gb") fails), so the id is what we set.
    key = wanted.strip().lower()
    names: dict[str, str] = {}
    languages: dict[str, str] = {}
    for voice in voices:
        names.setdefault(voice.id.lower(), voice.id)
        languages.setdefault(voice.id.rpartition("/")[2].lower(), voice.id)
        for language in voice.languages or []:
            languages.setdefault(str(language).lower(), voice.id)
    # An exact id or name beats a language code spelt the same way.
    for voice in voices:
        names.setdefault(voice.name.lower(), voice.id)
    if key in names or key in languages:
        return names.get(key) or languages[key]
    close = difflib.get_close_matches(key, languages, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    examples = [name for name in _SUGGESTED_VOICES if name in languages] or sorted(languages)[:5]
    raise SpeechError(
        f"{wanted!r} is not an espeak-ng voice{hint}; try one of {', '.join(examples)}, "
        'or run "espeak-ng --voices" to list them all'
    )


def _read_samples(path: Path) -> array:
    """The 16-bit samples of the mono WAV file at ``path`` (empty if there is none)."""
    try:
        with wave.open(str(path), "rb") as wav:
            data = wav.readframes(wav.getnframes())
    except (FileNotFoundError, EOFError, wave.Error):
        return array("h")
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    return samples


def _write_samples(path: Path, samples: array) -> None:
    """Write ``samples`` to ``path`` as a WAV file, flushed to the disk."""
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    with open(path, "wb") as file:
        with wave.open(file, "wb") as wav:
            wav.setnchannels(CHANNELS)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(samples.tobytes())
        file.flush()
        # The parent renames this into place; a power cut must not leave it empty.
        os.fsync(file.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Render the text on stdin into a WAV file: the child process SpeechCache runs."""
    parser = argparse.ArgumentParser(prog="python -m hub.speech", description=main.__doc__)
    parser.add_argument("--voice", default="en-gb", help="espeak-ng voice (default: en-gb)")
    parser.add_argument("--rate", type=int, default=160, help="words per minute (default: 160)")
    parser.add_argument("output", type=Path, help="the WAV file to write")
    args = parser.parse_args(argv)
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        _synthesise(text, args.voice, args.rate, args.output)
    except SpeechError as exc:
        print(exc, file=sys.stderr)
        return _EXPLAINED
    return 0


if __name__ == "__main__":
    sys.exit(main())
