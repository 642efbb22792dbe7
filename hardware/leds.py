"""The hub's three status LEDs and its optional hang-up button, driven by gpiozero.

The pin factory is a config value (``[gpio] pin_factory``): "" lets gpiozero choose
(``GPIOZERO_PIN_FACTORY``, else the first library that loads), "mock" drives
gpiozero's simulated pins, so a machine without lights and the tests run the same
code as the Pi. Wiring and what each light means: hardware/README.md.

Pins are taken as any object with green, amber, red and hangup_button (the hub's
``config.Pins`` is one) so that hardware/ does not import the hub's config.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import logging
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

import gpiozero
from gpiozero import LED, Button

# Only the leaf exceptions module: the hub's CLI reports any PhoneHubError as one line.
from hub.exceptions import GpioError

log = logging.getLogger(__name__)
_D = TypeVar("_D", bound=gpiozero.Device)

# About 2 Hz: quick enough to catch the eye across a room, slow enough to count.
BLINK_ON_S = 0.25
BLINK_OFF_S = 0.25
# Long enough to ignore a mechanical button's bounce, short enough to feel instant.
BOUNCE_S = 0.05

# name: (module, class, how to make it work)
_FACTORIES = {
    "lgpio": (
        "gpiozero.pins.lgpio",
        "LGPIOFactory",
        "install python3-lgpio (Raspberry Pi OS has it) or pip install lgpio, "
        "and add the hub's user to the gpio group",
    ),
    "rpigpio": (
        "gpiozero.pins.rpigpio",
        "RPiGPIOFactory",
        'install python3-rpi.gpio or pip install RPi.GPIO (a Pi 5 needs "lgpio" instead)',
    ),
    "pigpio": (
        "gpiozero.pins.pigpio",
        "PiGPIOFactory",
        "install python3-pigpio and start its daemon with systemctl enable --now pigpiod",
    ),
    "native": (
        "gpiozero.pins.native",
        "NativeFactory",
        'it works only on a Raspberry Pi 4 or older, so use "lgpio" instead',
    ),
}


class PinLayout(Protocol):
    """The BCM pin of each part, as ``hub.config.Pins`` holds them (hangup_button 0: none)."""

    @property
    def green(self) -> int: ...
    @property
    def amber(self) -> int: ...
    @property
    def red(self) -> int: ...
    @property
    def hangup_button(self) -> int: ...


class LineState(enum.StrEnum):
    """What the phone line is doing."""

    IDLE = "idle"
    DIALLING = "dialling"
    RINGING = "ringing"
    CONNECTED = "connected"


class Registration(enum.StrEnum):
    """Whether the hub may place calls through the trunk or PBX."""

    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    CREDENTIALS_REJECTED = "credentials_rejected"
    # An IP-authenticated trunk takes calls without registering: the line is ready.
    NOT_NEEDED = "not_needed"


class _Mode(enum.Enum):
    OFF = "off"
    ON = "on"
    BLINK = "blink"


_AMBER = {
    LineState.IDLE: _Mode.OFF,
    LineState.DIALLING: _Mode.BLINK,
    LineState.RINGING: _Mode.BLINK,
    LineState.CONNECTED: _Mode.ON,
}


class StatusLights:
    """The green, amber and red status LEDs and the optional hang-up button.

    Wire each LED's long leg (anode) to its GPIO pin through a 330 Ω resistor and
    its short leg (cathode) to a ground pin; wire the button between its GPIO pin
    and ground (the Pi's internal pull-up holds the pin high until it is pressed).
    Pins are BCM numbers; a hang-up button on pin 0 means none is fitted::

        pins = Pins(green=17, amber=27, red=22, hangup_button=0)  # from hub.config
        with StatusLights(pins, on_hangup=hang_up) as lights:
            lights.show(registration=Registration.REGISTERED, line=LineState.RINGING,
                        recording=False, fault=False)

    Green is lit while calls can be placed (registered, or a trunk that needs no
    registration). Amber blinks while dialling or ringing, is steady while a call
    is connected and off when idle. Red is steady while recording, blinks on a fault
    (not registered, credentials rejected, or ``fault``) and is off otherwise.

    ``on_hangup`` runs on gpiozero's event thread, so it should only hand the
    request to the line daemon's queue.
    """

    def __init__(
        self,
        pins: PinLayout,
        pin_factory: str = "",
        on_hangup: Callable[[], None] | None = None,
    ) -> None:
        factory = make_pin_factory(pin_factory)
        # A factory made here is ours to close; gpiozero's default one is shared.
        self._factory = factory
        self._lock = threading.Lock()
        self._closed = False
        self._modes: dict[str, _Mode] = {}
        self._on_hangup = on_hangup
        self.button: Button | None = None
        self._devices: list[gpiozero.Device] = []
        try:
            self.green = self._add(LED, pins.green, factory)
            self.amber = self._add(LED, pins.amber, factory)
            self.red = self._add(LED, pins.red, factory)
            if pins.hangup_button:
                self.button = self._add(
                    Button, pins.hangup_button, factory, pull_up=True, bounce_time=BOUNCE_S
                )
                self.button.when_pressed = self._pressed
        except BaseException:
            self.close()
            raise

    def show(
        self, *, registration: Registration, line: LineState, recording: bool, fault: bool
    ) -> None:
        """Light the LEDs for this state; an LED already showing its part is left alone."""
        ready = registration in (Registration.REGISTERED, Registration.NOT_NEEDED)
        amber = _AMBER[line]
        # Recording wins over a fault: whoever is on the call must know it is recorded.
        if recording:
            red = _Mode.ON
        elif fault or not ready:
            red = _Mode.BLINK
        else:
            red = _Mode.OFF
        with self._lock:
            # The daemon may report a last state while it is shutting down.
            if self._closed:
                return
            self._set(self.green, "green", _Mode.ON if ready else _Mode.OFF)
            self._set(self.amber, "amber", amber)
            self._set(self.red, "red", red)

    def describe(self) -> dict[str, str]:
        """What each LED is doing right now, read from the devices: on, off or blinking."""
        with self._lock:
            if self._closed:
                return {}
            return {
                name: "blinking"
                if getattr(led, "_blink_thread", None) is not None
                else ("on" if led.is_lit else "off")
                for name, led in (("green", self.green), ("amber", self.amber), ("red", self.red))
            }

    def close(self) -> None:
        """Turn the LEDs off and release the pins; calling it again does nothing."""
        with self._lock:
            self._closed = True
            devices, self._devices = self._devices, []
            factory, self._factory = self._factory, None
        # Reverse order, so the button stops calling back before the LEDs go.
        for device in reversed(devices):
            device.close()
        if factory is not None:
            factory.close()

    def __enter__(self) -> StatusLights:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _add(
        self, kind: type[_D], pin: int, factory: gpiozero.Factory | None, **kwargs: object
    ) -> _D:
        """A ``kind`` on BCM ``pin``, kept for close(); GpioError if it cannot be had."""
        try:
            device = kind(pin, pin_factory=factory, **kwargs)
        # A pin in use, not on this board, or refused by the library (lgpio.error…).
        except Exception as exc:
            raise GpioError(
                f"cannot use GPIO {pin} for the status lights ({exc}); check [gpio] in the "
                'config, or set gpio.pin_factory = "mock" on a machine without lights'
            ) from None
        self._devices.append(device)
        return device

    def _set(self, led: LED, name: str, mode: _Mode) -> None:
        """Put ``led`` in ``mode`` unless it already is, so a blink is never restarted."""
        if self._modes.get(name) == mode:
            return
        self._modes[name] = mode
        if mode is _Mode.BLINK:
            led.blink(on_time=BLINK_ON_S, off_time=BLINK_OFF_S)
        elif mode is _Mode.ON:
            led.on()
        else:
            led.off()

    def _pressed(self) -> None:
        """Hang up; a failing callback is logged so the button keeps working."""
        if self._on_hangup is None:
            return
        try:
            self._on_hangup()
        except Exception:
            log.exception("the hang-up button's handler failed")


def make_pin_factory(name: str) -> gpiozero.Factory | None:
    """The gpiozero pin factory called ``name`` ("" for gpiozero's own choice)."""
    if name == "":
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name not in _FACTORIES:
        known = ["mock", *_FACTORIES]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise GpioError(f'unknown pin factory {name!r}{hint}; use one of {", ".join(known)} or ""')
    module, cls, fix = _FACTORIES[name]
    try:
        return getattr(importlib.import_module(module), cls)()
    # Each library fails its own way (ImportError, OSError, lgpio.error, PinError…).
    except Exception as exc:
        raise GpioError(f"cannot load the {name} pin factory ({exc}); {fix}") from None
