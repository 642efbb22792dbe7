"""Whether the handset is plugged in, asked of ALSA itself, and a thread that keeps asking.

pjmedia cannot tell: when a USB handset is pulled out mid-call its ALSA threads
get an error on every read and write and go on spinning, and it offers no event
for it. So a watcher opens the configured devices the way pjmedia would (open,
set the format, prepare: a PulseAudio-backed device only fails at the last step)
once a second, and reports when the answer changes. A device that is busy is
plugged in: it is the line's own call holding it.

    watch = HandsetWatch("plughw:CARD=Device,DEV=0", "plughw:CARD=Device,DEV=0", print)
    print(watch.start())  # None: plugged in; later changes are printed as they happen
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
_PLAYBACK, _CAPTURE = 0, 1
_NONBLOCK = 1
_ACCESS_RW_INTERLEAVED = 3
_FORMAT_S16_LE = 2
_RATE = 16_000


NOT_PLUGGED_IN = (
    "The handset is not plugged in, so the call would have no sound; "
    "plug it into the hub and try again."
)


def handset_state(headless: bool, problem: str | None) -> str:
    """What the status says of the handset: "none" configured, "connected" or "unplugged"."""
    if headless:
        return "none"
    return "connected" if problem is None else "unplugged"


class Alsa:
    """The few calls of libasound the check needs."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("asound") or "libasound.so.2"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as exc:
            raise OSError(f"ALSA's library (libasound2) is missing: {exc}") from exc
        lib = self.lib
        lib.snd_strerror.restype = ctypes.c_char_p
        lib.snd_strerror.argtypes = [ctypes.c_int]
        lib.snd_pcm_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                     ctypes.c_int, ctypes.c_int]  # fmt: skip
        for function in ("snd_pcm_close", "snd_pcm_prepare"):
            getattr(lib, function).argtypes = [ctypes.c_void_p]
        lib.snd_pcm_hw_params_malloc.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.snd_pcm_hw_params_free.argtypes = [ctypes.c_void_p]
        lib.snd_pcm_hw_params_free.restype = None
        lib.snd_pcm_hw_params_any.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.snd_pcm_hw_params.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        for function in ("access", "format", "channels"):
            getattr(lib, f"snd_pcm_hw_params_set_{function}").argtypes = [
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]  # fmt: skip
        lib.snd_pcm_hw_params_set_rate_near.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint),
            ctypes.POINTER(ctypes.c_int)]  # fmt: skip

    def problem(self, device: str, *, capture: bool) -> str | None:
        """Why ``device`` can't be used now, or None when it can (or the line holds it)."""
        lib = self.lib
        pcm = ctypes.c_void_p()
        result = lib.snd_pcm_open(ctypes.byref(pcm), device.encode(),
                                  _CAPTURE if capture else _PLAYBACK, _NONBLOCK)  # fmt: skip
        if result == -errno.EBUSY:
            return None
        if result < 0:
            return self._text(result)
        params = ctypes.c_void_p()
        try:
            if lib.snd_pcm_hw_params_malloc(ctypes.byref(params)) < 0:
                return None  # out of memory says nothing about the handset
            rate, direction = ctypes.c_uint(_RATE), ctypes.c_int(0)
            for step in (
                lambda: lib.snd_pcm_hw_params_any(pcm, params),
                lambda: lib.snd_pcm_hw_params_set_access(pcm, params, _ACCESS_RW_INTERLEAVED),
                lambda: lib.snd_pcm_hw_params_set_format(pcm, params, _FORMAT_S16_LE),
                lambda: lib.snd_pcm_hw_params_set_channels(pcm, params, 1),
                lambda: lib.snd_pcm_hw_params_set_rate_near(
                    pcm, params, ctypes.byref(rate), ctypes.byref(direction)
                ),
                lambda: lib.snd_pcm_hw_params(pcm, params),
                lambda: lib.snd_pcm_prepare(pcm),
            ):
                result = step()
                if result == -errno.EBUSY:
                    return None
                if result < 0:
                    return self._text(result)
            return None
        finally:
            if params:
                lib.snd_pcm_hw_params_free(params)
            lib.snd_pcm_close(pcm)

    def _text(self, result: int) -> str:
        text = self.lib.snd_strerror(result)
        return text.decode(errors="replace") if text else f"error {result}"


class HandsetWatch:
    """Checks the handset's devices every second; ``on_change(problem)`` when it changes.

    ``problem`` is None once the handset is usable, else what is wrong, e.g.
    ``'the microphone "plughw:CARD=Device,DEV=0" cannot be opened (No such device)'``.
    ``start`` returns the first verdict; later ones go to ``on_change`` from the
    watch's own thread, which never touches pjsua2.
    """

    def __init__(
        self,
        capture: str,
        playback: str,
        on_change: Callable[[str | None], None],
        every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.devices = [(capture, True), (playback, False)]
        self.on_change = on_change
        self.every_s = every_s
        self._alsa = Alsa()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="handset-watch", daemon=True)
        self._last: str | None = None

    def check(self) -> str | None:
        """What is wrong with the handset now (None: nothing)."""
        for device, capture in self.devices:
            problem = self._alsa.problem(device, capture=capture)
            if problem is not None:
                part = "microphone" if capture else "speaker"
                return f'the {part} "{device}" cannot be opened ({problem})'
        return None

    def start(self) -> str | None:
        """Check now and go on checking in the background; what is wrong now, or None."""
        self._last = first = self.check()
        self._thread.start()
        return first

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self._report(self.check())
            except Exception:  # a check must never end the watch
                log.exception("checking the handset failed")

    def _report(self, problem: str | None) -> None:
        if problem != self._last:
            self._last = problem
            self.on_change(problem)

    def close(self) -> None:
        """Stop checking; calling it again does nothing."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.every_s + 1)
            if self._thread.is_alive():
                log.error("the handset watch did not stop; a check of the sound devices hangs")
