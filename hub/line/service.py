"""What the control socket can ask of the line: status, dial, test call, hang up, message.

The panel and the CLI never hand the daemon a family's number: they ask it to
dial *attempt N*, and the daemon reads the number from the database itself,
through the dial guard. Only an admin's test call carries a typed-in number.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, calls, guard, own_phone, spoken, users
from hub.config import Config
from hub.db import Database
from hub.exceptions import ControlError, DialRefused, LineError, SpeechError
from hub.line.commands import Dial, Hangup, Interpreter, Keys, Mute, Voicemail
from hub.line.keys import checked_keys
from hub.line.line import Line
from hub.maintenance import SAID_KEPT
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Guardian,
    Household,
    PhoneNumber,
    StaffUser,
    utcnow,
)
from hub.numbers import format_for_trunk
from hub.speech import SpeechCache
from hub.spoken import Prompts

log = logging.getLogger(__name__)

# After the whisper, on the member of staff's phone: a voicemail never presses 1.
PRESS_1 = "Press 1 to be put through."


class LineService:
    """Carries out control requests; called from the control socket's threads."""

    def __init__(
        self,
        config: Config,
        database: Database,
        line: Line,
        hub_id: int,
        lights: Callable[[], dict[str, str]] = dict,
        on_fault: Callable[[bool], None] = lambda _fault: None,
        database_problem: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.config = config
        self.lights = lights
        self.on_fault = on_fault
        self.database_problem = database_problem
        self.fault: str | None = None
        self.database = database
        self.line = line
        self.hub_id = hub_id
        self.plan = guard.DialPlan.from_config(config)
        self.recordings = Path(config.hub.data_dir) / "recordings"

    def status(self) -> dict[str, Any]:
        """Registration and call state."""
        return {"hub": self.config.hub.name, **self.line.status(), "lights": self.lights(),
                "fault": self.fault, "database": self.database_problem()}  # fmt: skip

    def report_fault(self, message: str) -> dict[str, Any]:
        """Another part of the hub (nightly maintenance) found something wrong: red LED."""
        self.fault = message
        self.on_fault(True)
        return {}

    def dial(self, attempt_id: int, via: str = "handset") -> dict[str, Any]:
        """Dial an attempt the panel created, if the dial guard allows it.

        ``via`` "own_phone": the member of staff talks on their own phone, which the hub
        rings first, showing the school, and tells who is being called
        (hub.line.bridge). An allowed call is dialled before anything is written: a
        commit waits for the disk, so the hub and the recording's path go in with the
        audit line after.
        """
        if via not in ("handset", "own_phone"):
            raise ControlError('"via" is "handset" or "own_phone".')
        through_own_phone = via == "own_phone"
        with self._session() as session:
            # Held here: the session itself keeps what it loaded only weakly.
            loaded = _with_what_the_guard_reads(session, attempt_id)
            attempt = loaded[0] if loaded else None
            if attempt is None:
                raise ControlError(f"There is no call attempt {attempt_id}.")
            calls.take_for_hub(attempt, self.hub_id)  # the guard counts the call against it
            try:
                with session.no_autoflush:  # reading only, so far
                    number = guard.check_attempt(session, self.plan, attempt,
                                                 own_phone=through_own_phone)  # fmt: skip
                    entry = attempt.entry
                    recording = entry is not None and entry.campaign.recording
                    prompts = self._family_prompts(session, attempt.household_id)
                    if through_own_phone:
                        own, whisper = self._own_phone_and_whisper(session, attempt)
            except DialRefused:
                session.commit()  # the guard's audit line and closed attempt
                raise
            path = self.recordings / f"attempt-{attempt.id}.wav" if recording else None
            # End the reading without writing; the hub is written after the INVITE.
            session.expunge(attempt)
            session.commit()
            session.add(attempt)
            dial = Dial(attempt_id, self._callee(number.e164), path, prompts=prompts)
            if through_own_phone:
                dial.own_phone, dial.whisper = own, whisper
            self._place(session, attempt, dial)
        return {"attempt": attempt_id}

    def _own_phone_and_whisper(
        self, session: Session, attempt: CallAttempt
    ) -> tuple[str, Path | None]:
        """The member of staff's phone as the trunk dials it, and who they will be told of.

        The whisper names the family and the campaign, never a number. If it cannot be
        said (espeak-ng missing), the call goes ahead without it, and the log says so.
        """
        staff = session.get(StaffUser, attempt.staff_id)
        assert staff is not None  # the guard refused an attempt without a confirmed phone
        household = session.get(Household, attempt.household_id)
        family = calls.family_name(household) if household is not None else "the family"
        campaign = attempt.entry.campaign.name if attempt.entry is not None else ""
        text = f"Connecting you to {family}{', ' + campaign if campaign else ''}. {PRESS_1}"
        return self._own_dial_string(staff), self._whisper(text)

    def _own_dial_string(self, staff: StaffUser) -> str:
        """The member of staff's own phone as the trunk dials it."""
        own = staff.own_phone
        return self._callee(own) if own.startswith("+") else own

    def _whisper(self, text: str) -> Path | None:
        """What the member of staff hears on answering; None (and a log line) if unsayable."""
        try:
            return self._said_once(text)
        except SpeechError as exc:
            log.warning("the whisper could not be said (%s); the call goes on without it", exc)
            return None

    def _family_prompts(self, session: Session, household_id: int | None) -> Prompts | None:
        """The messages in the family's home language, if the school has written them."""
        try:
            return spoken.for_household(session, self.config, household_id)
        except SpeechError as exc:
            log.warning("the family's language could not be spoken (%s); English instead", exc)
            return None

    def test_call(self, number_text: str, as_email: str) -> dict[str, Any]:
        """An admin's test call to a number typed in, e.g. IT's own mobile."""
        with self._session() as session:
            staff = users.find(session, as_email)
            if staff is None:
                raise ControlError(f"There is no account for {as_email}.")
            try:
                number = guard.check_test_call(
                    session, self.plan, staff, number_text, hub_id=self.hub_id
                )
            except DialRefused:
                session.commit()  # the guard's audit line
                raise
            attempt = self._new_attempt(session, staff)
            command = Dial(attempt.id, self._callee(number.e164), play_message=True)
            self._place(session, attempt, command)
        return {"attempt": attempt.id}

    def own_phone_code(self, as_email: str) -> dict[str, Any]:
        """Ring a member of staff's own phone, showing the school, and speak its code."""
        with self._session() as session:
            staff = users.find(session, as_email)
            if staff is None:
                raise ControlError(f"There is no account for {as_email}.")
            try:
                guard.check_own_phone_code(session, self.plan, staff, hub_id=self.hub_id)
            except DialRefused:
                session.commit()  # the guard's audit line
                raise
            code = own_phone.new_code(staff, utcnow())
            try:
                said = self._spoken_code(code)
            except SpeechError as exc:
                raise ControlError(f"The hub could not say the code: {exc}.") from exc
            callee = staff.own_phone
            if callee.startswith("+"):
                callee = self._callee(callee)
            attempt = self._new_attempt(session, staff)  # commits the code's hash too
            dial = Dial(attempt.id, callee, play_message=True, prompts=said)
            self._place(session, attempt, dial, action="call.own_phone_code")
        return {"attempt": attempt.id}

    def _spoken_code(self, code: str) -> Prompts:
        """The code as the hub says it, twice."""
        digits = ", ".join(code)
        wav = self._said_once(f"This is {self.config.school.name}'s phone hub. "
                              f"Your code is {digits}. Once more: {digits}.")  # fmt: skip
        return Prompts(wav, wav)

    def _said_once(self, text: str) -> Path:
        """``text`` spoken for one call (a code, a family's name): gone within the hour."""
        folder = Path(self.config.hub.data_dir) / "said"
        cutoff = time.time() - SAID_KEPT.total_seconds()
        for old in folder.glob("*.wav") if folder.exists() else ():
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        said = SpeechCache(folder, self.config.speech.voice, self.config.speech.rate).render(text)
        os.utime(said)  # said again now: kept its half hour from now, not from its first time
        return said

    def practice_call(self, as_email: str, via: str = "handset") -> dict[str, Any]:
        """Ring the practice line, for staff to try the desk without a family.

        ``via`` "own_phone": through the member of staff's own confirmed phone, as a
        family call from home would go.
        """
        callee = self.config.line.practice_number
        if not callee:
            raise ControlError("No practice line is set up ([line] practice_number).")
        with self._session() as session:
            staff = users.find(session, as_email)
            if staff is None or not staff.active:
                raise ControlError(f"There is no active account for {as_email}.")
            dial = Dial(0, callee)
            if via == "own_phone":
                if not own_phone.ready(staff):
                    raise ControlError(guard.NO_OWN_PHONE)
                dial.own_phone = self._own_dial_string(staff)
                dial.whisper = self._whisper(f"Connecting you to the practice line. {PRESS_1}")
            attempt = self._new_attempt(session, staff)
            dial.attempt_id = attempt.id
            self._place(session, attempt, dial, action="call.practice")
        return {"attempt": attempt.id}

    def _session(self) -> Session:
        """A session whose objects outlive a commit, for ``_place``.

        What was read before the INVITE is not read again for the audit line after it,
        so less work competes with the SIP thread while the call is being set up.
        """
        return self.database.sessions(expire_on_commit=False)

    def _new_attempt(self, session: Session, staff: StaffUser) -> CallAttempt:
        attempt = calls.request_test(session, staff, hub_id=self.hub_id)
        session.commit()  # the line's events for it are written from another session
        return attempt

    def _callee(self, e164: str) -> str:
        return format_for_trunk(e164, self.config.sip.dial_format)

    def _place(self, session: Session, attempt: CallAttempt, command: Dial,
               action: str | None = None) -> None:  # fmt: skip
        """Send the INVITE; then commit the attempt's hub and path with the audit line."""
        try:
            self.line.submit(command)
        except LineError as exc:
            calls.failed(session, attempt, str(exc), hub_id=self.hub_id)
            session.commit()
            raise
        calls.dialled(session, attempt, hub_id=self.hub_id, recording=command.recording,
                      action=action, own_phone=command.own_phone is not None)  # fmt: skip
        session.commit()

    def hangup(self, attempt: int | None = None) -> dict[str, Any]:
        """End a call (``attempt``; None: the handset's)."""
        self.line.submit(Hangup(attempt))
        return {}

    def voicemail(self, attempt: int | None = None) -> dict[str, Any]:
        """Play the school's message into the answering machine, then hang up."""
        self.line.submit(Voicemail(attempt))
        return {}

    def mute(self, on: bool, attempt: int | None = None) -> dict[str, Any]:
        """Stop (or restart) sending the member of staff's voice to the family."""
        self.line.submit(Mute(on, attempt))
        return {"muted": on}

    def keys(self, keys: str, attempt: int | None = None, to: str = "family"
             ) -> dict[str, Any]:  # fmt: skip
        """Send keys into the answered call (a menu's choice, an extension, a PIN).

        ``to`` "interpreter": to the interpreting service on the call (its PIN, a language).
        """
        checked = checked_keys(keys)
        self.line.submit(Keys(checked, attempt, to_interpreter=to == "interpreter"))
        return {"sent": len(checked)}

    def interpreter(self, on: bool, attempt: int | None = None) -> dict[str, Any]:
        """Join the school's interpreting service to the answered call, or drop it (``on``)."""
        callee = self.config.line.interpreter_number
        if on and not callee:
            raise ControlError("No interpreting service is set up ([line] interpreter_number).")
        if attempt is None:
            handset = self.line.status().get("call")
            attempt = handset["attempt"] if handset else None
        with self._session() as session:
            row = session.get(CallAttempt, attempt) if attempt is not None else None
            if row is None:
                raise LineError("There is no call to add an interpreter to.")
            staff = session.get(StaffUser, row.staff_id) if row.staff_id is not None else None
            if on:
                try:
                    guard.check_interpreter(session, staff, callee, hub_id=self.hub_id,
                                            attempt_id=row.id)  # fmt: skip
                except DialRefused:
                    session.commit()  # the guard's audit line
                    raise
            dial = self._callee(callee) if callee.startswith("+") else callee
            self.line.submit(Interpreter(row.id, dial if on else None))
            audit.record(session, "call.interpreter_added" if on else "call.interpreter_dropped",
                         actor=staff or "system", target_type="call_attempt", target_id=row.id,
                         hub_id=self.hub_id)  # fmt: skip
            session.commit()
        return {"interpreter": on}


def _with_what_the_guard_reads(session: Session, attempt_id: int) -> tuple[Any, ...] | None:
    """The attempt, with its member of staff, number, contact, entry and campaign.

    One query instead of one each: the dial guard then finds them in the session,
    and every query before the INVITE is time the member of staff waits.
    """
    row = session.execute(
        select(CallAttempt, StaffUser, PhoneNumber, Guardian, CampaignEntry, Campaign)
        .outerjoin(StaffUser, StaffUser.id == CallAttempt.staff_id)
        .outerjoin(PhoneNumber, PhoneNumber.id == CallAttempt.phone_number_id)
        .outerjoin(Guardian, Guardian.id == PhoneNumber.guardian_id)
        .outerjoin(CampaignEntry, CampaignEntry.id == CallAttempt.entry_id)
        .outerjoin(Campaign, Campaign.id == CampaignEntry.campaign_id)
        .where(CallAttempt.id == attempt_id)
    ).first()
    return None if row is None else tuple(row)
