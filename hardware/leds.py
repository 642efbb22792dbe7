"""The hub's three status LEDs and its optional hang-up button, driven by gpiozero.

The pin factory is a config value (``[gpio] pin_factory``): "" lets gpiozero choose
(``GPIOZERO_PIN_FACTORY``, else the first library that loads), "mock" drives
gpiozero's simulated pins, so a machine without lights and the tests run the same
code as the Pi. Wiring and what each light means: hardware/README.md.

Pins are taken as any object with green, amber, red and hangup_button (the hub's
``config.Pins`` is one), and the line's state as plain values (ready, the call's
stage, recording, fault) that the line maps its own states onto, so that
hardware/ never imports the hub.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import gpiozero
from gpiozero import LED, Button

from hardware.exceptions import GpioError

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


class CallStage(enum.Enum):
    """How far the current call has got, as the amber LED shows it."""

    NONE = "none"
    # Dialling or ringing: the call is being set up.
    SETTING_UP = "setting_up"
    CONNECTED = "connected"


class Mode(enum.Enum):
    """What an LED does: the words are those of the control socket's ``lights``."""

    OFF = "off"
    ON = "on"
    BLINK = "blinking"


@dataclass(frozen=True)
class Light:
    """What one LED is doing: steady off, steady on, or blinking ``on_s`` on, ``off_s`` off."""

    mode: Mode
    on_s: float = 0.0
    off_s: float = 0.0

    @property
    def hertz(self) -> float:
        """Blinks a second; 0 for a steady light."""
        return 1 / (self.on_s + self.off_s) if self.mode is Mode.BLINK else 0.0

    def __str__(self) -> str:
        if self.mode is Mode.BLINK:
            return f"blinking at {self.hertz:g} Hz"
        return self.mode.value


OFF = Light(Mode.OFF)
ON = Light(Mode.ON)
BLINK = Light(Mode.BLINK, BLINK_ON_S, BLINK_OFF_S)

_AMBER = {CallStage.NONE: OFF, CallStage.SETTING_UP: BLINK, CallStage.CONNECTED: ON}
_NAMES = ("green", "amber", "red")


class StatusLights:
    """The green, amber and red status LEDs and the optional hang-up button.

    Wire each LED's long leg (anode) to its GPIO pin through a 330 Ω resistor and
    its short leg (cathode) to a ground pin; wire the button between its GPIO pin
    and ground (the Pi's internal pull-up holds the pin high until it is pressed).
    Pins are BCM numbers; a hang-up button on pin 0 means none is fitted::

        pins = Pins(green=17, amber=27, red=22, hangup_button=0)  # from hub.config
        with StatusLights(pins, on_hangup=hang_up) as lights:
            lights.show(ready=True, call=CallStage.SETTING_UP, recording=False, fault=False)
            print(lights.showing())  # {"green": ON, "amber": BLINK, "red": OFF}

    Green is lit while calls can be placed (``ready``: registered, or a trunk that
    needs no registration). Amber blinks while a call is being set up (dialling or
    ringing), is steady while it is connected and off when there is none. Red is
    steady while recording, blinks on a fault (not ready, or ``fault``) and is off
    otherwise.

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
        self._lights = dict.fromkeys(_NAMES, OFF)
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

    def show(self, *, ready: bool, call: CallStage, recording: bool, fault: bool) -> None:
        """Light the LEDs for this state; an LED already showing its part is left alone."""
        # Recording wins over a fault: whoever is on the call must know it is recorded.
        if recording:
            red = ON
        elif fault or not ready:
            red = BLINK
        else:
            red = OFF
        with self._lock:
            # The daemon may report a last state while it is shutting down.
            if self._closed:
                return
            self._set(self.green, "green", ON if ready else OFF)
            self._set(self.amber, "amber", _AMBER[call])
            self._set(self.red, "red", red)

    def showing(self) -> dict[str, Light]:
        """What each LED is doing now, by name; nothing once closed."""
        with self._lock:
            return {} if self._closed else dict(self._lights)

    def describe(self) -> dict[str, str]:
        """What each LED is doing now in a word (on, off or blinking), for the control socket."""
        return {name: light.mode.value for name, light in self.showing().items()}

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

    def _set(self, led: LED, name: str, light: Light) -> None:
        """Make ``led`` show ``light`` unless it already does, so a blink is never restarted."""
        if self._lights[name] == light:
            return
        self._lights[name] = light
        if light.mode is Mode.BLINK:
            led.blink(on_time=light.on_s, off_time=light.off_s)
        elif light.mode is Mode.ON:
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
