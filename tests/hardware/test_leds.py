"""The status LEDs and hang-up button, on gpiozero's mock pins (the real gpiozero code path)."""

import time

import pytest
from gpiozero import LED, Device

from hardware.exceptions import GpioError, HardwareError
from hardware.leds import BLINK, OFF, ON, CallStage, Mode, StatusLights, make_pin_factory
from hub.config import Pins

# One test times the blinking on the wall clock.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone

PINS = Pins(green=17, amber=27, red=22, hangup_button=23)
NO_BUTTON = Pins(green=17, amber=27, red=22, hangup_button=0)


@pytest.fixture
def make_lights():
    """Builds StatusLights on mock pins and closes every one after the test."""
    made = []

    def make(pins=PINS, pin_factory="mock", **kwargs):
        lights = StatusLights(pins, pin_factory, **kwargs)
        made.append(lights)
        return lights

    try:
        yield make
    finally:
        for lights in made:
            lights.close()


@pytest.fixture
def default_factory(monkeypatch):
    """gpiozero's own default factory, chosen as on a Pi by GPIOZERO_PIN_FACTORY, put back after."""
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    saved = Device.pin_factory
    Device.pin_factory = None
    try:
        yield
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.close()
        Device.pin_factory = saved


def show(lights, *, ready=True, call=CallStage.NONE, **kwargs):
    kwargs = {"recording": False, "fault": False, **kwargs}
    lights.show(ready=ready, call=call, **kwargs)


SETTING_UP, CONNECTED = CallStage.SETTING_UP, CallStage.CONNECTED


@pytest.mark.parametrize(
    ("state", "green", "amber", "red"),
    [
        pytest.param({}, ON, OFF, OFF, id="ready-idle"),
        pytest.param({"call": SETTING_UP}, ON, BLINK, OFF, id="dialling-or-ringing"),
        pytest.param({"call": CONNECTED}, ON, ON, OFF, id="connected"),
        pytest.param({"call": CONNECTED, "recording": True}, ON, ON, ON, id="recording"),
        pytest.param({"ready": False}, OFF, OFF, BLINK, id="not-ready"),
        pytest.param({"fault": True}, ON, OFF, BLINK, id="fault"),
        pytest.param({"fault": True, "recording": True}, ON, OFF, ON, id="recording-wins"),
        pytest.param(
            {"ready": False, "call": CONNECTED, "recording": True},
            OFF,
            ON,
            ON,
            id="recording-wins-not-ready",
        ),
    ],
)
def test_each_state_lights_its_leds(make_lights, state, green, amber, red):
    lights = make_lights()

    show(lights, **state)

    assert lights.showing() == {"green": green, "amber": amber, "red": red}
    words = {ON: "on", OFF: "off", BLINK: "blinking"}
    assert lights.describe() == {"green": words[green], "amber": words[amber], "red": words[red]}


def test_a_blink_is_about_two_hertz():
    assert (BLINK.on_s, BLINK.off_s, BLINK.hertz) == (0.25, 0.25, 2.0)
    assert [str(light) for light in (ON, OFF, BLINK)] == ["on", "off", "blinking at 2 Hz"]


def watch(lights, seconds):
    """Each LED's pin levels over ``seconds``: the level first seen, then (held, level) changes."""
    leds = {"green": lights.green, "amber": lights.amber, "red": lights.red}
    for led in leds.values():
        led.pin.clear_states()
    time.sleep(seconds)
    return {name: (led.pin.states[0][1], led.pin.states[1:]) for name, led in leds.items()}


def assert_pins_do(lights, seconds=1.5):
    """The pins really do what ``showing()`` says: steady at a level, or blinking at its rate."""
    showing = lights.showing()
    for name, (first, changes) in watch(lights, seconds).items():
        light = showing[name]
        if light.mode is Mode.BLINK:
            # Generous: a loaded machine makes gpiozero's blink thread late, never early.
            assert len(changes) >= 2, (name, changes)
            for held, _level in changes[1:]:
                assert 0.8 * min(light.on_s, light.off_s) < held < 4 * max(light.on_s, light.off_s)
        else:
            assert (first, changes) == (light.mode is Mode.ON, []), name


def test_what_the_lights_say_they_show_is_what_the_pins_do(make_lights):
    lights = make_lights()

    show(lights, call=SETTING_UP)
    assert_pins_do(lights)

    # A blink that stops is steady at once, and a new one starts.
    show(lights, call=CONNECTED, fault=True)
    assert_pins_do(lights)


@pytest.fixture
def blinks(monkeypatch):
    """Counts every LED.blink call; a restarted blink would stutter."""
    started = []
    blink = LED.blink

    def counting(led, *args, **kwargs):
        started.append(led.pin.info.name)
        return blink(led, *args, **kwargs)

    monkeypatch.setattr(LED, "blink", counting)
    return started


def test_showing_the_same_state_again_does_not_restart_the_blink(make_lights, blinks):
    lights = make_lights()
    # The line daemon reports every state change, far more often than the blink.
    for _ in range(50):
        show(lights, call=SETTING_UP, fault=True)

    assert sorted(blinks) == sorted([lights.amber.pin.info.name, lights.red.pin.info.name])
    assert lights.showing() == {"green": ON, "amber": BLINK, "red": BLINK}


def test_a_change_to_another_led_leaves_a_blink_alone(make_lights, blinks):
    lights = make_lights()
    show(lights, call=SETTING_UP)

    for recording in [True, False] * 20:
        show(lights, call=SETTING_UP, recording=recording)

    assert blinks == [lights.amber.pin.info.name]
    assert lights.showing()["amber"] == BLINK


def test_a_blink_stops_steady_when_the_call_connects(make_lights):
    lights = make_lights()
    show(lights, call=SETTING_UP)
    time.sleep(0.3)

    show(lights, call=CONNECTED)

    assert lights.showing()["amber"] == ON
    assert lights.amber.pin.state is True


def test_pressing_the_button_hangs_up(make_lights):
    presses = []
    lights = make_lights(on_hangup=lambda: presses.append(time.monotonic()))
    button = lights.button.pin

    assert button.state is True  # held high by the pull-up until pressed
    button.drive_low()
    button.drive_high()
    button.drive_low()

    assert len(presses) == 2


def test_a_failing_hangup_handler_is_logged_and_the_button_keeps_working(make_lights, caplog):
    calls = []

    def hang_up():
        calls.append(1)
        raise RuntimeError("no call to hang up")

    lights = make_lights(on_hangup=hang_up)
    lights.button.pin.drive_low()
    lights.button.pin.drive_high()
    lights.button.pin.drive_low()

    assert len(calls) == 2
    assert "hang-up button" in caplog.text


def test_a_button_without_a_handler_is_harmless(make_lights):
    lights = make_lights()

    lights.button.pin.drive_low()


def test_pin_zero_means_no_button(make_lights):
    lights = make_lights(NO_BUTTON, on_hangup=lambda: None)

    assert lights.button is None


def test_close_twice_and_show_after_close_are_harmless(make_lights):
    lights = make_lights()
    show(lights, call=SETTING_UP, fault=True)

    lights.close()
    lights.close()
    show(lights, call=CONNECTED)

    assert lights.amber.closed and lights.red.closed and lights.button.closed


def test_the_context_manager_closes(make_lights):
    with make_lights() as lights:
        show(lights)

    assert lights.green.closed


@pytest.mark.usefixtures("default_factory")
def test_an_empty_factory_name_uses_gpiozero_default_and_close_frees_the_pins():
    with StatusLights(PINS) as lights:
        show(lights, call=CONNECTED)
        assert lights.amber.pin.state is True

    assert lights.green.closed
    with StatusLights(PINS) as again:
        assert type(again.green.pin_factory).__name__ == "MockFactory"


@pytest.mark.usefixtures("default_factory")
def test_a_pin_in_use_is_one_sentence_and_frees_what_was_taken():
    with StatusLights(PINS):
        clash = Pins(green=5, amber=6, red=22, hangup_button=0)
        with pytest.raises(GpioError) as caught:
            StatusLights(clash)

        message = str(caught.value)
        assert message.startswith("cannot use GPIO 22 for the status lights (")
        assert 'set gpio.pin_factory = "mock"' in message
        assert "\n" not in message
        # GPIO 5 and 6 were let go again when GPIO 22 failed.
        StatusLights(Pins(green=5, amber=6, red=13, hangup_button=0)).close()


def test_make_pin_factory_names():
    assert make_pin_factory("") is None
    factory = make_pin_factory("mock")
    try:
        assert type(factory).__name__ == "MockFactory"
    finally:
        factory.close()


def test_an_unknown_factory_name_is_one_sentence():
    with pytest.raises(GpioError) as caught:
        make_pin_factory("lgpoi")

    assert str(caught.value) == (
        "unknown pin factory 'lgpoi' (did you mean lgpio?); "
        'use one of mock, lgpio, rpigpio, pigpio, native or ""'
    )
    assert isinstance(caught.value, HardwareError)


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("lgpio", "install python3-lgpio"),
        ("rpigpio", "install python3-rpi.gpio"),
        ("pigpio", "systemctl enable --now pigpiod"),
        ("native", 'use "lgpio" instead'),
    ],
)
def test_a_factory_that_cannot_load_names_the_fix(name, fix):
    try:
        factory = make_pin_factory(name)
    except GpioError as exc:
        message = str(exc)
    else:
        factory.close()
        pytest.skip(f"the {name} pin factory works on this machine")

    assert message.startswith(f"cannot load the {name} pin factory (")
    assert fix in message
    assert "\n" not in message


def test_lights_on_a_factory_that_cannot_load_fail_before_touching_a_pin():
    with pytest.raises(GpioError, match=r"^unknown pin factory 'gpio'"):
        StatusLights(PINS, "gpio")
