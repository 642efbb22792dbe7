"""What the control socket can ask of the line: status, dial, test call, hang up, message.

The panel and the CLI never hand the daemon a family's number: they ask it to
dial *attempt N*, and the daemon reads the number from the database itself,
through the dial guard. Only an admin's test call carries a typed-in number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import calls, guard, own_phone, spoken, users
from hub.config import Config
from hub.db import Database
from hub.exceptions import ControlError, DialRefused, LineError, SpeechError
from hub.line.commands import Dial, Hangup, Keys, Mute, Voicemail
from hub.line.keys import checked_keys
from hub.line.line import Line
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Guardian,
    PhoneNumber,
    StaffUser,
    utcnow,
)
from hub.numbers import format_for_trunk
from hub.speech import SpeechCache
from hub.spoken import Prompts

log = logging.getLogger(__name__)

# A spoken code's file outlives the code (10 minutes) by a little, then goes.
CODE_FILES_KEPT_S = 30 * 60


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

    def dial(self, attempt_id: int) -> dict[str, Any]:
        """Dial an attempt the panel created, if the dial guard allows it.

        An allowed call is dialled before anything is written: a commit waits for the
        disk, so the hub and the recording's path go in with the audit line after.
        """
        with self._session() as session:
            # Held here: the session itself keeps what it loaded only weakly.
            loaded = _with_what_the_guard_reads(session, attempt_id)
            attempt = loaded[0] if loaded else None
            if attempt is None:
                raise ControlError(f"There is no call attempt {attempt_id}.")
            calls.take_for_hub(attempt, self.hub_id)  # the guard counts the call against it
            try:
                with session.no_autoflush:  # reading only, so far
                    number = guard.check_attempt(session, self.plan, attempt)
                    entry = attempt.entry
                    recording = entry is not None and entry.campaign.recording
                    prompts = self._family_prompts(session, attempt.household_id)
            except DialRefused:
                session.commit()  # the guard's audit line and closed attempt
                raise
            path = self.recordings / f"attempt-{attempt.id}.wav" if recording else None
            # End the reading without writing; the hub is written after the INVITE.
            session.expunge(attempt)
            session.commit()
            session.add(attempt)
            dial = Dial(attempt_id, self._callee(number.e164), path, prompts=prompts)
            self._place(session, attempt, dial)
        return {"attempt": attempt_id}

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
        """The code as the hub says it, twice, in a file that is gone within the hour."""
        folder = Path(self.config.hub.data_dir) / "codes"
        cutoff = time.time() - CODE_FILES_KEPT_S
        for old in folder.glob("*.wav") if folder.exists() else ():
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        digits = ", ".join(code)
        text = (f"This is {self.config.school.name}'s phone hub. Your code is {digits}. "
                f"Once more: {digits}.")  # fmt: skip
        wav = SpeechCache(folder, self.config.speech.voice, self.config.speech.rate).render(text)
        return Prompts(wav, wav)

    def practice_call(self, as_email: str) -> dict[str, Any]:
        """Ring the practice line, for staff to try the desk without a family."""
        callee = self.config.line.practice_number
        if not callee:
            raise ControlError("No practice line is set up ([line] practice_number).")
        with self._session() as session:
            staff = users.find(session, as_email)
            if staff is None or not staff.active:
                raise ControlError(f"There is no active account for {as_email}.")
            attempt = self._new_attempt(session, staff)
            self._place(session, attempt, Dial(attempt.id, callee), action="call.practice")
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
                      action=action)  # fmt: skip
        session.commit()

    def hangup(self) -> dict[str, Any]:
        """End the current call."""
        self.line.submit(Hangup())
        return {}

    def voicemail(self) -> dict[str, Any]:
        """Play the school's message into the answering machine, then hang up."""
        self.line.submit(Voicemail())
        return {}

    def mute(self, on: bool) -> dict[str, Any]:
        """Stop (or restart) sending the handset's microphone to the family."""
        self.line.submit(Mute(on))
        return {"muted": on}

    def keys(self, keys: str) -> dict[str, Any]:
        """Send keys into the answered call (a menu's choice, an extension, a PIN)."""
        checked = checked_keys(keys)
        self.line.submit(Keys(checked))
        return {"sent": len(checked)}


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
