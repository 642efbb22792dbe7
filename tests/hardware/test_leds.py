"""The status LEDs and hang-up button, on gpiozero's mock pins (the real gpiozero code path)."""

import time

import pytest
from gpiozero import Device

from hardware.leds import (
    BLINK_OFF_S,
    BLINK_ON_S,
    LineState,
    Registration,
    StatusLights,
    make_pin_factory,
)
from hub.config import Pins
from hub.exceptions import GpioError, PhoneHubError

PINS = Pins(green=17, amber=27, red=22, hangup_button=23)
NO_BUTTON = Pins(green=17, amber=27, red=22, hangup_button=0)
ON, OFF, BLINK = "on", "off", "blink"


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


def show(lights, *, registration=Registration.REGISTERED, line=LineState.IDLE, **kwargs):
    kwargs = {"recording": False, "fault": False, **kwargs}
    lights.show(registration=registration, line=line, **kwargs)


def changes(led, seconds):
    """The pin levels ``led`` changed to in ``seconds``, with the time each was held before."""
    led.pin.clear_states()
    time.sleep(seconds)
    return led.pin.states[1:]


def lit(lights):
    """ON, OFF or BLINK for each LED, from watching them all for a little over one blink."""
    leds = {"green": lights.green, "amber": lights.amber, "red": lights.red}
    for led in leds.values():
        led.pin.clear_states()
    time.sleep(BLINK_ON_S + BLINK_OFF_S + 0.15)
    return {
        name: BLINK if len(led.pin.states) > 2 else ON if led.pin.state else OFF
        for name, led in leds.items()
    }


R, NOT_NEEDED = Registration, Registration.NOT_NEEDED
DIALLING, RINGING, CONNECTED = LineState.DIALLING, LineState.RINGING, LineState.CONNECTED


@pytest.mark.parametrize(
    ("state", "green", "amber", "red"),
    [
        pytest.param({}, ON, OFF, OFF, id="registered-idle"),
        pytest.param({"registration": NOT_NEEDED}, ON, OFF, OFF, id="ip-trunk-idle"),
        pytest.param({"line": DIALLING}, ON, BLINK, OFF, id="dialling"),
        pytest.param({"line": RINGING}, ON, BLINK, OFF, id="ringing"),
        pytest.param({"line": CONNECTED}, ON, ON, OFF, id="connected"),
        pytest.param({"line": CONNECTED, "recording": True}, ON, ON, ON, id="recording"),
        pytest.param({"registration": R.UNREGISTERED}, OFF, OFF, BLINK, id="unregistered"),
        pytest.param({"registration": R.CREDENTIALS_REJECTED}, OFF, OFF, BLINK, id="rejected"),
        pytest.param({"fault": True}, ON, OFF, BLINK, id="fault"),
        pytest.param({"fault": True, "recording": True}, ON, OFF, ON, id="recording-wins"),
        pytest.param(
            {"registration": R.UNREGISTERED, "line": CONNECTED, "recording": True},
            OFF,
            ON,
            ON,
            id="recording-wins-unregistered",
        ),
    ],
)
def test_each_state_lights_its_leds(make_lights, state, green, amber, red):
    lights = make_lights()

    show(lights, **state)

    assert lit(lights) == {"green": green, "amber": amber, "red": red}


def test_a_blink_is_about_two_hertz(make_lights):
    lights = make_lights()
    show(lights, line=LineState.RINGING)

    seen = changes(lights.amber, 1.1)

    assert 3 <= len(seen) <= 6
    # Each level after the first change was held for about a quarter of a second.
    assert all(0.15 < held < 0.4 for held, _ in seen[1:])


def test_showing_the_same_state_again_does_not_restart_the_blink(make_lights):
    lights = make_lights()
    show(lights, line=LineState.RINGING, fault=True)
    lights.amber.pin.clear_states()
    lights.red.pin.clear_states()

    # The line daemon reports every state change, far more often than the blink.
    deadline = time.monotonic() + 1.1
    while time.monotonic() < deadline:
        show(lights, line=LineState.RINGING, fault=True)
        time.sleep(0.02)

    for led in (lights.amber, lights.red):
        seen = led.pin.states[1:]
        assert 3 <= len(seen) <= 6
        assert all(0.15 < held < 0.4 for held, _ in seen[1:])


def test_a_change_to_another_led_leaves_a_blink_alone(make_lights):
    lights = make_lights()
    show(lights, line=LineState.DIALLING)
    lights.amber.pin.clear_states()

    deadline = time.monotonic() + 1.1
    recording = False
    while time.monotonic() < deadline:
        recording = not recording
        show(lights, line=LineState.RINGING, recording=recording)
        time.sleep(0.03)

    seen = lights.amber.pin.states[1:]
    assert 3 <= len(seen) <= 6
    assert all(0.15 < held < 0.4 for held, _ in seen[1:])


def test_a_blink_stops_steady_when_the_call_connects(make_lights):
    lights = make_lights()
    show(lights, line=LineState.RINGING)
    time.sleep(0.3)

    show(lights, line=LineState.CONNECTED)

    assert changes(lights.amber, 0.6) == []
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
    show(lights, line=LineState.RINGING, fault=True)

    lights.close()
    lights.close()
    show(lights, line=LineState.CONNECTED)

    assert lights.amber.closed and lights.red.closed and lights.button.closed


def test_the_context_manager_closes(make_lights):
    with make_lights() as lights:
        show(lights)

    assert lights.green.closed


@pytest.mark.usefixtures("default_factory")
def test_an_empty_factory_name_uses_gpiozero_default_and_close_frees_the_pins():
    with StatusLights(PINS) as lights:
        show(lights, line=LineState.CONNECTED)
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
    assert isinstance(caught.value, PhoneHubError)


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
