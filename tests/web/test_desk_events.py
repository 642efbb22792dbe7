"""The desk's live call state, pushed by Server-Sent Events, in headless Chromium.

The line daemon, Kamailio and the practice line are real, as is the panel behind
HTTPS (restarted on purpose to drop every desk's connection mid-call).
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from hub import users
from hub.db import open_database
from hub.models import Role
from tests.line.conftest import PHONEHUB, LineProcess, free_port, wait_until
from tests.web.conftest import answers
from tests.web.test_browser_flow import PASSWORD, sign_in
from tests.web.test_desk_live import STAFF, hub_line  # noqa: F401 (a fixture)

COLLEAGUE = "kim@school.example"
# Every text the call's state line shows, in order, however briefly.
RECORD_STATES = """() => {
  window.seenStates = [];
  const state = document.querySelector(".call-panel .state");
  new MutationObserver(() => window.seenStates.push(state.textContent))
    .observe(state, { childList: true, characterData: true, subtree: true });
}"""
# A stream of one's own, opened on any page, keeping every message it brings.
LISTEN = """() => {
  window.heard = [];
  new EventSource("/desk/events").onmessage = (m) => window.heard.push(JSON.parse(m.data));
}"""


class Panel:
    """``phonehub web`` over HTTPS on the line's config, stopped and started at will."""

    def __init__(self, line: LineProcess) -> None:
        self.line = line
        port = free_port()
        with line.config_path.open("a") as config:
            config.write(f'\n[web]\nbind = "127.0.0.1"\nport = {port}\n')
        self.url = f"https://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        log = (self.line.folder / "web.log").open("ab")
        self.process = subprocess.Popen([*PHONEHUB, "--config", str(self.line.config_path), "web"],
                                        stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        certificate = self.line.folder / "tls" / "panel.pem"
        wait_until(lambda: certificate.exists() and answers(self.url, certificate), timeout=20,
                   what="the panel")  # fmt: skip

    def stop(self) -> None:
        """Stop it as systemd would (SIGTERM); safe to call twice."""
        if self.process is not None:
            self.process.terminate()
            assert self.process.wait(10) == 0  # the open desks did not hold it up
            self.process = None


@pytest.fixture
def panel(hub_line: LineProcess) -> Iterator[Panel]:  # noqa: F811 (the fixture imported above)
    """The panel, with Kim, a second member of staff, beside Sam."""
    with open_database(hub_line.database_url) as database, database.session() as session:
        users.add(session, COLLEAGUE, "Kim Colleague", Role.STAFF, PASSWORD, actor="test",
                  opted_in=True)  # fmt: skip
    running = Panel(hub_line)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def open_desk(browser: Browser, panel: Panel, requests: list[str]) -> Page:
    """Sam Teacher's card for the O'Briens, every request the page makes kept in ``requests``."""
    page = browser.new_context(ignore_https_errors=True).new_page()
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, panel.url, STAFF)
    page.get_by_role("link", name="Call desk").click()
    page.get_by_role("link", name="Autumn welfare").click()
    expect(page.get_by_role("heading", name="Zoë O'Brien")).to_be_visible()
    page.wait_for_load_state()  # desk.js has run: its buttons do something
    page.evaluate(RECORD_STATES)
    return page


def test_a_calls_states_reach_the_desk_pushed_never_polled(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    requests: list[str] = []
    desk = open_desk(browser, panel, requests)
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    status = desk.get_by_role("status")
    expect(status).to_have_text("Ringing…", timeout=10_000)  # the practice line rings 2 s
    expect(status).to_have_text(re.compile(r"Connected 0:0[2-9]"), timeout=20_000)  # it counts
    desk.get_by_role("button", name="Hang up").click()
    expect(status).to_have_text("Ended: call ended", timeout=15_000)

    seen = desk.evaluate("window.seenStates")
    shown = [text for i, text in enumerate(seen) if i == 0 or text != seen[i - 1]]
    connected = [i for i, text in enumerate(shown) if text.startswith("Connected")]
    assert (
        shown.index("Ringing…") < connected[0] < connected[-1] < shown.index("Ended: call ended")
    ), shown
    assert len({text for text in shown if text.startswith("Connected")}) >= 3  # the timer ran
    assert any(url.endswith("/desk/events") for url in requests)
    assert not [url for url in requests if "/desk/attempts/" in url]
    assert desk.get_by_text("Reconnecting…").is_hidden()


def test_a_desk_whose_connection_dropped_shows_the_call_as_it_is_now(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    desk = open_desk(browser, panel, [])
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    status = desk.get_by_role("status")
    expect(status).to_have_text(re.compile("Connected"), timeout=20_000)

    # The panel restarts mid-call: every desk's connection drops, and while it is down
    # the call ends. The desk says it is reconnecting, then shows the call has ended.
    panel.stop()
    expect(desk.get_by_text("Reconnecting…")).to_be_visible(timeout=5_000)
    hub_line.client.request("hangup")
    wait_until(lambda: hub_line.status()["call"] is None, what="the call to end")
    expect(status).to_have_text(re.compile("Connected"))  # nothing told it otherwise yet
    panel.start()
    expect(status).to_have_text("Ended: call ended", timeout=10_000)
    expect(desk.get_by_text("Reconnecting…")).to_be_hidden()
    expect(desk.get_by_role("button", name=re.compile("Practice call"))).to_be_enabled()


def test_a_colleagues_stream_never_carries_your_call(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    colleague = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(colleague, panel.url, COLLEAGUE)
    colleague.evaluate(LISTEN)
    desk = open_desk(browser, panel, [])
    desk.evaluate(LISTEN)

    desk.get_by_role("button", name=re.compile("Practice call")).click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)
    desk.get_by_role("button", name="Hang up").click()
    expect(desk.get_by_role("status")).to_have_text("Ended: call ended", timeout=15_000)
    sams = {message["attempt"] for message in desk.evaluate("window.heard")}
    assert len(sams) == 1

    # Kim's own practice call reaches her stream, so it was listening all along.
    token = colleague.locator('meta[name="csrf-token"]').get_attribute("content")
    kims = colleague.evaluate(
        """async (token) => (await (await fetch("/desk/practice", {method: "POST",
             headers: {"Content-Type": "application/json", "X-CSRFToken": token},
             body: "{}"})).json()).attempt""",
        token,
    )
    wait_until(lambda: "connected" in [m["state"] for m in colleague.evaluate("window.heard")],
               timeout=20, what="Kim's call to connect on her stream")  # fmt: skip
    hub_line.client.request("hangup")
    heard = colleague.evaluate("window.heard")
    assert {message["attempt"] for message in heard} == {kims}
    assert kims not in {message["attempt"] for message in desk.evaluate("window.heard")}


def test_the_school_message_playing_and_left_is_pushed_to_the_desk(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    desk = open_desk(browser, panel, [])
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    status = desk.get_by_role("status")
    expect(status).to_have_text(re.compile("Connected"), timeout=20_000)
    desk.get_by_role("button", name="Leave the school's message").click()
    expect(status).to_have_text("Leaving the school's message…")
    # The line hangs up by itself once the message has played.
    expect(status).to_have_text("Ended: the school's message was left", timeout=60_000)
    expect(desk.get_by_role("button", name=re.compile("Practice call"))).to_be_focused()


def test_a_colleague_cannot_end_mute_or_message_your_call(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    desk = open_desk(browser, panel, [])
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    expect(desk.get_by_role("status")).to_have_text(re.compile("Connected"), timeout=20_000)

    colleague = browser.new_context(ignore_https_errors=True).new_page()
    sign_in(colleague, panel.url, COLLEAGUE)
    token = colleague.locator('meta[name="csrf-token"]').get_attribute("content")
    attempt = hub_line.status()["call"]["attempt"]
    # Whether the colleague's page names the call or not (the desk names its own).
    for command, named in itertools.product(("hangup", "mute", "voicemail", "keys"),
                                            (None, attempt)):  # fmt: skip
        answer = colleague.evaluate(
            """async ([command, token, attempt]) => {
                 const r = await fetch("/desk/" + command, {method: "POST",
                   headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                   body: JSON.stringify({on: true, keys: "1", attempt})});
                 return [r.status, (await r.json()).error];
               }""",
            [command, token, named],
        )
        assert answer == [403, "The call on this hub's line is a colleague's; only they can "
                               "end or change it."], (command, answer)  # fmt: skip
    status = hub_line.status()
    assert status["call"]["state"] == "connected" and status["muted"] is False
    desk.get_by_role("button", name="Hang up").click()
    expect(desk.get_by_role("status")).to_have_text("Ended: call ended", timeout=15_000)


VISIBILITY = """hidden => {
  Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_hidden_desk_lets_go_of_its_stream_and_catches_up_when_shown(
    browser: Browser,
    panel: Panel,
    hub_line: LineProcess,  # noqa: F811 (the fixture imported above)
):
    requests: list[str] = []
    desk = open_desk(browser, panel, requests)

    def streams() -> int:
        return sum(url.endswith("/desk/events") for url in requests)

    assert streams() == 1
    desk.evaluate(VISIBILITY, True)  # another tab in front: six would stall the browser
    desk.wait_for_timeout(500)  # (Playwright hands over requests only while it waits)
    assert streams() == 1
    with desk.expect_request(lambda request: request.url.endswith("/desk/events")):
        desk.evaluate(VISIBILITY, False)
    assert streams() == 2
    desk.get_by_role("button", name=re.compile("Practice call")).click()
    status = desk.get_by_role("status")
    expect(status).to_have_text(re.compile("Connected"), timeout=20_000)
    desk.get_by_role("button", name="Hang up").click()
    expect(status).to_have_text("Ended: call ended", timeout=15_000)
