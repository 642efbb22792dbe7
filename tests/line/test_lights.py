"""The line's states on the status LEDs, through the driver on gpiozero's mock pins."""

import pytest

from hardware.leds import BLINK, OFF, ON, StatusLights
from hub.config import Pins
from hub.line.lights import LineLights
from hub.line.states import LineState, Registration

PINS = Pins(green=17, amber=27, red=22, hangup_button=0)
R, NOT_NEEDED = Registration, Registration.NOT_NEEDED
DIALLING, RINGING, CONNECTED = LineState.DIALLING, LineState.RINGING, LineState.CONNECTED


@pytest.fixture
def lights():
    with StatusLights(PINS, "mock") as status_lights:
        yield status_lights


def show(lights, *, registration=Registration.REGISTERED, line=LineState.IDLE, **kwargs):
    state = {"recording": False, "handset_missing": False, **kwargs}
    fault = state.pop("fault", False)
    line_lights = LineLights(lights)
    line_lights.database_fault(fault)
    line_lights.line_changed({"registration": registration, "line": line, **state})


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
        pytest.param({"handset_missing": True}, ON, OFF, BLINK, id="handset-unplugged"),
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
def test_each_line_state_lights_its_leds(lights, state, green, amber, red):
    show(lights, **state)

    assert lights.showing() == {"green": green, "amber": amber, "red": red}
