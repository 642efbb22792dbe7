"""``phonehub line``: the line daemon, its parts started in order and stopped in reverse.

Start: database (migrated), this hub's row, speech prompts, status lights, the
database writer, the SIP stack (on the main thread, which then runs its loop), and
once that is up the control socket and systemd's READY=1. SIGTERM or Ctrl-C ends
the loop: the call is hung up, the account unregistered, and everything stopped
in reverse order, well within systemd's 10 s.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from hardware.leds import StatusLights
from hub import spoken
from hub.config import Config
from hub.db import open_database
from hub.exceptions import LineError
from hub.line.attempts import (
    AttemptWriter,
    machine_id,
    recover_interrupted,
    register_hub,
)
from hub.line.commands import Hangup
from hub.line.control import ControlServer
from hub.line.events import EventBus
from hub.line.journal import Journal
from hub.line.lights import LineLights, show
from hub.line.line import Line
from hub.line.safe_mode import ADVICE, SafeModeService, start_flag
from hub.line.service import LineService
from hub.line.states import LineState, Registration
from hub.spoken import Prompts
from hub.systemd import Notifier

log = logging.getLogger(__name__)


def render_prompts(config: Config) -> Prompts:
    """Render (or find in the cache) the recording notice and the voicemail message."""
    return spoken.english(config)


def _check(config: Config) -> None:
    if not config.school.number:
        raise LineError(
            "[school] number is not set; put the school's phone number in the config "
            "so parents see who is calling."
        )
    if not config.sip.effective_domain:
        raise LineError(
            "[sip] domain is not set; give the trunk's or PBX's address there (or a registrar)."
        )


def run_line(config: Config) -> int:
    """Run the line daemon until SIGTERM or Ctrl-C; returns the exit status."""
    _check(config)
    os.umask(0o027)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    notifier = Notifier()
    flag = start_flag(config.hub.data_dir)
    if flag.exists():
        return _run_safe_mode(config, flag, stop, notifier)
    flag.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    flag.write_text("started\n")
    with ExitStack() as parts:
        database = parts.enter_context(open_database(config.database.url))
        hub_id = register_hub(database, config.hub.name, machine_id(config.hub.data_dir))
        # Events kept while the database was away, before anything else: how the calls
        # really ended, rather than "interrupted".
        journal = Journal(config.hub.data_dir)
        if len(journal):
            log.info("writing %d call event(s) kept while the database was away", len(journal))
            journal.replay(database, hub_id)
        interrupted = recover_interrupted(database, hub_id)
        if interrupted:
            log.warning("closed %d call(s) left open when the line last stopped", interrupted)
        prompts = render_prompts(config)
        status_lights = parts.enter_context(
            StatusLights(
                config.gpio.pins,
                config.gpio.pin_factory,
                on_hangup=lambda: line.commands.put(Hangup()),
            )
        )
        lights = LineLights(status_lights)
        events = EventBus()
        writer = AttemptWriter(database, events, hub_id, lights.database_fault, journal)
        writer.start()
        writer.subscribed.wait(5)
        parts.callback(writer.stop)
        line = Line(config, events, prompts, on_change=lights.line_changed)
        service = LineService(config, database, line, hub_id, status_lights.describe,
                              lights.database_fault, writer.problem)  # fmt: skip
        control = ControlServer(Path(config.line.control_socket), service, events)
        parts.callback(control.close)

        def ready() -> None:
            control.start()
            flag.unlink(missing_ok=True)  # this start worked
            notifier.notify("READY=1")
            log.info("line ready on %s (%s)", config.sip.bind, config.sip.transport)

        try:
            line.run(stop, ready, notifier.ping)
        finally:
            notifier.notify("STOPPING=1")
    log.info("line stopped")
    return 0


def _run_safe_mode(config: Config, flag: Path, stop: threading.Event,
                   notifier: Notifier) -> int:  # fmt: skip
    """Serve status and blink the fault LED, without the SIP stack, until stopped."""
    log.error("the last start of the line never finished; starting in safe mode")
    with ExitStack() as parts:
        lights = parts.enter_context(StatusLights(config.gpio.pins, config.gpio.pin_factory))
        show(lights, registration=Registration.UNREGISTERED, line=LineState.IDLE,
             recording=False, fault=True)  # fmt: skip
        service = SafeModeService(config.hub.name, lights.describe)
        control = ControlServer(Path(config.line.control_socket), service, EventBus())
        parts.callback(control.close)
        control.start()
        # The next (re)start tries the full line again.
        flag.unlink(missing_ok=True)
        notifier.notify("READY=1")
        notifier.notify(f"STATUS={ADVICE}")
        while not stop.wait(1):
            notifier.ping()
    return 0
