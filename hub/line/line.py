"""The hub's line: one SIP account and its calls, run by the SIP thread.

One call at a time on the hub's handset (``call``), and beside it up to
``[line] max_calls`` in all through staff members' own phones (``bridges``,
hub.line.bridge), each call known by its attempt.

Other threads never touch pjsua2: they ``submit`` a command and wait on its
future, and read ``status()``, a snapshot the SIP thread keeps up to date. Call
states are published on the EventBus as they happen; ``hub.line.attempts``
writes them to the database. When to keep the registration alive, or register
again, is ``hub.line.registration``'s decision; the Line carries it out.

Every INVITE presents the school: From is the school's name and number, with a
P-Asserted-Identity or P-Preferred-Identity as the trunk wants, and never a
Privacy header. Nothing about the member of staff is in any SIP message.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from hub.config import Config
from hub.exceptions import LineError
from hub.line.account import HubAccount, account_config, invite_param
from hub.line.audio import CallAudio
from hub.line.bridge import Bridge, Bridges
from hub.line.call import HubCall, Leg, call_event, remote_ending, timed_out
from hub.line.commands import Command, Dial, HandsetChanged
from hub.line.controls import CallControls
from hub.line.events import EventBus
from hub.line.handset import NOT_PLUGGED_IN, HandsetWatch, handset_state
from hub.line.refusals import Refusals
from hub.line.registration import Binding
from hub.line.settings import sound_settings, stack_settings
from hub.line.shutdown import poll_until, refuse_waiting, turn_until_released, unregister
from hub.line.sip import (
    POLL_MS,
    SipStack,
    call_param,
    display_name,
    reason,
    release_free_memory,
)
from hub.line.states import Registration
from hub.line.status import StatusBoard
from hub.line.waker import WAKE, make_waker
from hub.models import EndReason
from hub.numbers import format_for_trunk
from hub.spoken import Prompts

log = logging.getLogger(__name__)

# pjsip frees a call's dialog when its INVITE transactions time out (Timer D, 32 s on
# UDP); once the line has been idle that long, what was freed goes back to the system.
TRIM_AFTER_CALL_S = 35.0


class Line:
    """The SIP side of the hub; ``run`` on one thread, ``submit`` from any."""

    def __init__(
        self,
        config: Config,
        events: EventBus,
        prompts: Prompts,
        *,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self.commands: queue.Queue[Command] = queue.Queue()
        self.board = StatusBoard(on_change)
        self.stack: SipStack | None = None
        self.account: HubAccount | None = None
        self.call: HubCall | None = None
        self._interrupting: list[HubCall] = []  # calls that lost the handset, ended next turn
        self.refusals = Refusals(self.publish)
        self.audio = CallAudio(self, prompts)
        self.bridges = Bridges(self, self.audio)
        self.controls = CallControls(self)
        self._outbox: list[dict[str, Any]] = []  # events held back until the poll returns
        self.binding = Binding(self, config.sip.reregister_s)
        self._trim_at: float | None = None
        self._stopping = False
        self._waker: socket.socket | None = None
        self.sound = sound_settings(config.audio)
        # What is wrong with the handset (None: nothing, or there is none to have).
        self.handset_problem: str | None = None
        self._watch: HandsetWatch | None = None
        sip = config.sip
        school_user = format_for_trunk(config.school.number, sip.dial_format)
        self.domain = sip.effective_domain
        self.school_uri = f"sip:{school_user}@{self.domain}"
        self.school_name = display_name(config.school.name)

    # --- other threads -------------------------------------------------

    def submit(self, command: Command, timeout: float = 10.0) -> None:
        """Queue ``command`` for the SIP thread and wait for it to be carried out."""
        if self._stopping:
            raise LineError("The line is shutting down.")
        self.commands.put(command)
        self._wake()
        try:
            command.done.result(timeout)
        except TimeoutError:
            raise LineError("The line did not respond in time; try again in a moment.") from None

    def status(self) -> dict[str, Any]:
        """Registration and call state as the SIP thread last saw them."""
        return self.board.snapshot()

    def _wake(self) -> None:
        """Cut the SIP thread's poll short, so a command waits microseconds, not POLL_MS."""
        waker = self._waker
        if waker is not None:
            with contextlib.suppress(OSError):
                waker.send(WAKE)

    # --- the SIP thread ---------------------------------------------

    def run(
        self, stop: threading.Event, on_ready: Callable[[], None], on_turn: Callable[[], None]
    ) -> None:
        """Own pjsua2 from creation to destruction; returns after a clean shutdown."""
        self.stack = SipStack(
            stack_settings(self.config.sip, self.sound, self.config.line.max_calls)
        )
        try:
            self._create_account()
            self._waker = make_waker(self.stack)
            self._watch_handset()
            on_ready()
            while not stop.is_set():
                self.stack.poll(POLL_MS)
                self._turn()
                on_turn()
        finally:
            self._shutdown()

    def _watch_handset(self) -> None:
        """Open the handset if it is there, and watch for it coming and going."""
        if self.sound.headless:
            self.show()
            return

        def report(problem: str | None) -> None:  # on the watch's thread
            self.commands.put(HandsetChanged(problem))
            self._wake()

        self._watch = HandsetWatch(self.sound.capture, self.sound.playback, report)
        self._handset_changed(self._watch.start())

    def _create_account(self) -> None:
        assert self.stack is not None
        sip = self.config.sip
        config = account_config(sip, self.stack, self.school_name, self.school_uri)
        self.account = HubAccount(self)
        self.account.create(config)
        if not sip.registrar:
            self.binding.set_registration(Registration.NOT_NEEDED, 0)

    def publish(self, event: dict[str, Any]) -> None:
        """Publish ``event`` once the current poll (or, from ``_turn``, the next one) returns.

        Each event wakes the threads that write it to the database. Held back, they
        start after pjsip has handled what else had arrived (the 200 OK behind a 180,
        the 407 after an INVITE), so a call is set up without them competing for the
        CPU and the GIL. Their order is kept, and the status is never behind them.
        """
        self._outbox.append(event)

    def _flush_events(self) -> None:
        if self.board.lights_due:
            self.show()  # the LEDs first, so whoever hears an event sees them agree
        outbox, self._outbox = self._outbox, []
        for event in outbox:
            self.events.publish(event)

    def _turn(self) -> None:
        """Work that may not happen inside a pjsua2 callback, once per loop."""
        self._flush_events()
        self.audio.turn()
        self.refusals.decline()
        interrupting, self._interrupting = self._interrupting, []
        for call in interrupting:
            self.hang_up(call, EndReason.INTERRUPTED, "handset")
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            try:
                self._carry_out(command)
            except LineError as exc:
                # A fresh one: the caught one's traceback holds this thread's calls.
                command.done.set_exception(LineError(str(exc)))
            else:
                command.done.set_result(None)
        self.bridges.turn()
        for call in self.calls_up():
            self._watch_call(call)
        if self.config.sip.registrar and self.account is not None:
            self.binding.keepalive()
        self.refusals.report(self.stack.refused if self.stack is not None else 0, time.monotonic())
        idle = not self.calls_up()
        if self._trim_at is not None and idle and time.monotonic() >= self._trim_at:
            self._trim_at = None
            release_free_memory()

    def calls_up(self) -> list[HubCall]:
        """Every call up: the handset's, and each leg of each bridge."""
        legs = [leg for bridge in self.bridges.every() for leg in bridge.legs()
                if leg is not self.call]  # fmt: skip
        return legs if self.call is None else [self.call, *legs]

    def _carry_out(self, command: Command) -> None:
        if isinstance(command, Dial):
            if command.own_phone is not None:
                self._dial_bridge(command)
            else:
                self._dial(command)
        elif isinstance(command, HandsetChanged):
            self._handset_changed(command.problem)
        else:
            self.controls.carry_out(command)

    def _handset_changed(self, problem: str | None) -> None:
        """The handset came or went: open or close it, and end a call that lost it."""
        assert self.stack is not None
        if problem is None:
            problem = self.stack.use_handset()
        else:
            self.stack.drop_handset()
            if self.call is not None and not self.call.play_message:
                self.hang_up(self.call, EndReason.INTERRUPTED, "handset")
        if problem == self.handset_problem and not self.board.starting:
            return
        self.handset_problem = problem
        if problem is None:
            log.info("handset connected")
        else:
            log.warning("handset unplugged: %s", problem)
        self.show()
        state = handset_state(self.sound.headless, problem)
        self.publish({"event": "handset", "state": state, "problem": problem})

    def _may_dial(self) -> None:
        """LineError if the line cannot take one more call now."""
        if self._registration not in (Registration.REGISTERED, Registration.NOT_NEEDED):
            raise LineError(
                "The line is not connected to the phone system, so it cannot call; "
                "check the trunk settings or ask IT."
            )
        most = self.config.line.max_calls
        if len(self.bridges) + (self.call is not None) >= most:
            raise LineError(f"This hub is already carrying as many calls as it can ({most}); "
                            "try again when one ends.")  # fmt: skip

    def _dial(self, command: Dial) -> None:
        if self.call is not None:
            raise LineError("The hub's handset is already in a call; hang up first.")
        self._may_dial()
        if self.handset_problem is not None and not command.play_message:
            raise LineError(NOT_PLUGGED_IN)
        assert self.account is not None
        call = HubCall(self, self.account, command.attempt_id)
        call.recording_path = command.recording
        call.play_message = command.play_message
        call.prompts = command.prompts
        try:
            self.place(call, command.callee)
        except LineError:
            self.publish(call_event(call, "ended", end_reason=EndReason.FAILED, ended_by="system"))
            raise
        self.call = call
        # Starting the amber blink takes a thread; the 407 and its INVITE go first.
        self.show(lights=False)
        self.publish(call_event(call, "dialling"))

    def _dial_bridge(self, command: Dial) -> None:
        """Call from the member of staff's own phone: theirs rings first (hub.line.bridge)."""
        if command.attempt_id in self.bridges.by_attempt:
            raise LineError("That call is already being made.")
        self._may_dial()
        self.bridges.start(command)
        self.show(lights=False)

    def new_call(self, attempt_id: int | None, *, leg: Leg, bridge: Bridge) -> HubCall:
        """A call on the hub's account, one leg of ``bridge``, not yet placed."""
        assert self.account is not None
        return HubCall(self, self.account, attempt_id, leg=leg, bridge=bridge)

    def place(self, call: HubCall, callee: str) -> None:
        """Send ``call``'s INVITE to ``callee`` (a dial string) presenting the school."""
        assert self.stack is not None
        school = f"{self.school_name} <{self.school_uri}>"
        param = invite_param(self.config.sip.caller_id, school)
        try:
            call.makeCall(f"sip:{callee}@{self.domain}{self.stack.uri_params()}", param)
        except pj.Error as exc:
            raise LineError(f"The call could not be placed: {reason(exc)}.") from exc

    def hang_up(self, call: HubCall, end_reason: EndReason, ended_by: str) -> None:
        """End ``call`` (once), saying it was ``ended_by`` for ``end_reason``."""
        if call.finished or call.hangup_as is not None:
            return
        call.hangup_as = (end_reason, ended_by)
        try:
            call.hangup(call_param(603 if call.answered_at is None else 0))
        except pj.Error as exc:
            log.warning("hang-up failed: %s", reason(exc))

    def _watch_call(self, call: HubCall) -> None:
        now = time.monotonic()
        self.audio.finish_playing(call)
        if call.finished:
            return
        line = self.config.line
        overdue = timed_out(call, now, ring_s=line.ring_timeout_s, silent_s=line.rtp_timeout_s)
        if overdue is not None:
            self.hang_up(call, overdue, "timeout")

    # --- pjsua2 callbacks (SIP thread, inside poll) ---------------------

    def on_call_state(self, call: HubCall) -> None:
        """A call's INVITE session changed state."""
        info = call.getInfo()
        state = info.state
        status = int(info.lastStatusCode)
        if call.leg is not Leg.FAMILY:
            self.bridges.leg_state(call, state, status)
            self.show()
            return
        # State first (LEDs, status), then the events, so a listener sees them agree.
        events: list[dict[str, Any]] = []
        if state == pj.PJSIP_INV_STATE_EARLY and not call.ringing:
            call.ringing = True
            events.append(call_event(call, "ringing", sip_status=status))
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and call.answered_at is None:
            call.answered_at = call.rx_changed = time.monotonic()
            events.append(call_event(call, "answered", sip_status=status))
            self.audio.answered(call)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not call.finished:
            call.finished = True
            end_reason, ended_by = call.hangup_as or remote_ending(status, call.answered_at)
            # pjsua reports the code the hub hung up with (603) when the trunk said nothing.
            heard = status if call.responded or call.hangup_as is None else None
            if call.attempt_id is not None:
                events.append(
                    call_event(
                        call, "ended", sip_status=heard, end_reason=end_reason, ended_by=ended_by
                    )
                )
            self._let_go(call)
            self._trim_at = time.monotonic() + TRIM_AFTER_CALL_S
        self.show()
        for event in events:
            self.publish(event)
        if call.finished and call.bridge is not None:
            self.bridges.family_gone(call.bridge)  # after the family's own ending is said

    def on_call_media(self, call: HubCall) -> None:
        """A call's media changed: connect its audio to the handset, or to its bridge."""
        if call.leg is not Leg.FAMILY:
            self.bridges.leg_media(call)
        elif call.bridge is not None:
            self.bridges.family_media(call.bridge)
            self.audio.join(call.bridge)
            self.audio.answered(call)
        elif not self.audio.connect(call) and not call.play_message:
            self._interrupting.append(call)  # ended on the next turn

    def on_call_key(self, call: HubCall, key: str) -> None:
        """A key pressed at the far end: the member of staff's 1 puts them through."""
        if call.leg is Leg.STAFF:
            self.bridges.staff_key(call, key)

    def _let_go(self, call: HubCall) -> None:
        """Drop every reference to a call as it disconnects, inside its callback.

        pjsua2 deletes a Call object with its last reference and advises doing it here:
        once this callback returns the call's slot is free for the next call, and a Call
        object deleted after that hangs up whichever call holds its slot by then. Its
        player and recorder go on the next turn, outside any callback.
        """
        self.audio.let_go(call)
        self.refusals.forget(call)
        self.bridges.forget(call)
        self._interrupting = [c for c in self._interrupting if c is not call]
        if call is self.call:
            self.call = None

    def refuse_inbound(self, call_id: int) -> None:
        """pjsua offers an inbound call: decline it on the next turn."""
        assert self.account is not None
        self.refusals.refuse(HubCall(self, self.account, None, call_id))

    # --- the account the registration keeps up (SIP thread) ---------------

    @property
    def _registration(self) -> Registration:
        """The registration's state, as the binding keeps it."""
        return self.binding.state

    def send_keepalive(self) -> str | None:
        """Ask the registrar OPTIONS; why it could not be sent, or None."""
        assert self.account is not None
        assert self.stack is not None
        return self.account.send_options(self.stack.server_uri(self.config.sip.registrar))

    def register(self) -> str | None:
        """REGISTER now; why it could not be started, or None."""
        assert self.account is not None
        return self.account.register_now()

    def registration_set(self, state: Registration, code: int, *, changed: bool) -> None:
        """Say a new registration state, and show it."""
        if changed:
            self.publish({"event": "registration", "state": state.value, "code": code})
        self.show()

    def stack_params(self) -> str:
        """The transport parameter for URIs the hub builds."""
        return self.stack.uri_params() if self.stack is not None else ""

    # --- shared state -----------------------------------------------------

    def show(self, *, lights: bool = True) -> None:
        """Update the status snapshot and the LEDs (``lights=False``: the LEDs after the poll)."""
        handset = handset_state(self.sound.headless, self.handset_problem)
        self.board.show(self.call, self._registration, handset, self.handset_problem,
                        lights=lights, binding=self.binding,
                        bridges=list(self.bridges))  # fmt: skip

    # --- shutdown -----------------------------------------------------------

    def _shutdown(self) -> None:
        """Hang up, unregister, release every pjsua2 object, then destroy the stack."""
        stack = self.stack
        if stack is None:
            return
        self._stopping = True
        if self._watch is not None:
            self._watch.close()
        waker, self._waker = self._waker, None
        if waker is not None:
            waker.close()
        refuse_waiting(self.commands)
        try:
            if self.call is not None:
                self.hang_up(self.call, EndReason.INTERRUPTED, "system")
            self.bridges.interrupt_all()
            poll_until(lambda: not self.calls_up(), stack, self._flush_events)
            unregister(self.account, self.binding, stack, self._flush_events)
            turn_until_released(stack, self.audio, self.refusals.retired)
            if self.account is not None:
                self.account.shutdown()
                self.account = None
            stack.poll(50)
        finally:
            self._flush_events()
            self.refusals.retired.clear()
            self.audio.release()
            self.call = None
            self.bridges.forget_all()
            self.account = None
            stack.close()
            self.stack = None
