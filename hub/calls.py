"""A call attempt's record, from the click to the outcome: the only code that writes it.

Every ``call_attempts`` row is made and changed here, so each step of a call is
written (and audited) one way whoever takes it — the panel asking for a call, the
dial guard refusing it, the line daemon placing it and reporting its states, a
restart finding it interrupted, the member of staff recording how it went — and
what people are shown about a call is worked out once, by ``shown``.

    attempt = calls.request(session, staff, entry, number_id, hub_id=hub_id)
    ...  # the line dials; its events arrive
    calls.apply_event(session, event, hub_id=hub_id)
    ...
    calls.record_outcome(session, attempt, Outcome.NO_ANSWER, staff=staff, now=utcnow())
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit, positive, queues
from hub.db import take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    CampaignEntry,
    EndReason,
    Household,
    Outcome,
    Role,
    StaffUser,
    utcnow,
)
from hub.school_days import DEFAULT_NATION


class Stage(enum.StrEnum):
    """Where a call is, as the member of staff sees it."""

    DIALLING = "dialling"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


# The line's event names for each stage (docs/control-protocol.md).
EVENT_STAGES = {"dialling": Stage.DIALLING, "ringing": Stage.RINGING,
                "answered": Stage.CONNECTED, "connected": Stage.CONNECTED,
                "ended": Stage.ENDED}  # fmt: skip
ENDINGS = {
    EndReason.COMPLETED: "call ended",
    EndReason.CANCELLED: "you hung up before an answer",
    EndReason.NO_ANSWER: "no answer",
    EndReason.BUSY: "the line was busy",
    EndReason.REJECTED: "the call was declined",
    EndReason.FAILED: "the call could not be connected",
    EndReason.DROPPED: "the call dropped (no sound)",
    EndReason.REFUSED: "the hub would not dial this number",
    EndReason.INTERRUPTED: "the hub stopped during the call",
}
HANDSET_UNPLUGGED = "the handset was unplugged; plug it back in and call again"
NO_RESPONSE = "the phone system did not respond, so the call could not be placed"
MESSAGE_LEFT = "the school's message was left"
# A call from a member of staff's own phone that ended before the family was rung.
NOT_RUNG = {
    "staff_phone": "your phone was busy or did not answer, so the family was not rung",
    "staff": "you hung up before the family was rung",
    "not_accepted": "1 was not pressed on your phone (a voicemail may have answered it), "
    "so the family was not rung",
}
# Calls that end needing no outcome (see outcome_needed).
NO_OUTCOME = frozenset({EndReason.REFUSED, EndReason.INTERRUPTED})
# What was saved, as a confirmation or a list of calls says it.
SAID = {
    Outcome.SPOKE_TO_PARENT: "spoke to a parent or carer",
    Outcome.SPOKE_TO_PUPIL: "spoke to the pupil",
    Outcome.NO_ANSWER: "no answer",
    Outcome.VOICEMAIL: "left a voicemail",
    Outcome.WRONG_NUMBER: "wrong number",
    Outcome.DECLINED: "declined to talk",
    Outcome.CONCERN: "safeguarding concern",
}


@dataclass(frozen=True)
class Shown:
    """A call as a member of staff is shown it: where it is, since when, how it ended."""

    attempt: int
    stage: Stage
    at: datetime | None
    answered_at: datetime | None
    ended: str | None  # in words, once it has ended


def stage(*, ended: bool, answered: bool, ringing: bool) -> Stage:
    """The stage of a call from what has happened to it so far."""
    if ended:
        return Stage.ENDED
    if answered:
        return Stage.CONNECTED
    return Stage.RINGING if ringing else Stage.DIALLING


def ending_words(end_reason: EndReason | None, ended_by: str | None) -> str | None:
    """How a call ended, from the line's reason and who ended it, in words for staff."""
    if end_reason is EndReason.INTERRUPTED and ended_by == "handset":
        return HANDSET_UNPLUGGED
    if end_reason is EndReason.INTERRUPTED and ended_by in NOT_RUNG:
        return NOT_RUNG[ended_by]
    if end_reason is EndReason.COMPLETED and ended_by == "hub":
        return MESSAGE_LEFT  # the line hangs up once the school's message has played
    if end_reason is EndReason.FAILED and ended_by == "timeout":
        return NO_RESPONSE  # the trunk never answered the INVITE at all
    return ENDINGS.get(end_reason) if end_reason else None


def shown(attempt: CallAttempt) -> Shown:
    """What the member of staff is shown about a call, as its row has it."""
    ended = attempt.ended_at is not None
    answered, ringing = attempt.answered_at is not None, attempt.ringing_at is not None
    return Shown(
        attempt=attempt.id,
        stage=stage(ended=ended, answered=answered, ringing=ringing),
        at=attempt.ended_at or attempt.answered_at or attempt.ringing_at or attempt.requested_at,
        answered_at=attempt.answered_at,
        ended=ending_words(attempt.end_reason, attempt.ended_by) if ended else None,
    )


def outcome_needed(end_reason: EndReason | None) -> bool:
    """Whether staff must say how a call went: not if it was refused or never got going.

    A refused dial never rang; an interrupted call (the hub stopped, the handset was
    unplugged, the member of staff's own phone did not answer) leaves the family on the
    card to call again.
    """
    return end_reason not in NO_OUTCOME


def family_name(household: Household) -> str:
    """'the Nowak family', or the pupils' names when they have different surnames."""
    surnames = {pupil.surname for pupil in household.pupils}
    if len(surnames) == 1:
        return f"the {surnames.pop()} family"
    names = [pupil.name for pupil in household.pupils]
    if not names:
        return "this family"
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    return f"the family of {listed}"


def may_control(attempt: CallAttempt, staff: StaffUser) -> bool:
    """Whether ``staff`` may end, mute or leave a message on the call: only its maker may."""
    return attempt.staff_id in (None, staff.id)


def request(
    session: Session, staff: StaffUser, entry: CampaignEntry, number_id: int, *,
    hub_id: int | None,
) -> CallAttempt:  # fmt: skip
    """A member of staff asks for a family call; the line reads the attempt to dial it.

    It is this hub's from the start, so if the line dies mid-dial its restart closes it.
    """
    attempt = CallAttempt(staff_id=staff.id, entry_id=entry.id, household_id=entry.household_id,
                          phone_number_id=number_id, hub_id=hub_id)  # fmt: skip
    session.add(attempt)
    session.flush()
    return attempt


def request_test(session: Session, staff: StaffUser, *, hub_id: int) -> CallAttempt:
    """An admin's test call or a practice call: no family, no outcome to record."""
    attempt = CallAttempt(staff_id=staff.id, hub_id=hub_id, test_call=True)
    session.add(attempt)
    session.flush()
    return attempt


def record_past(
    session: Session, entry: CampaignEntry, staff: StaffUser, *, number_id: int | None,
    at: datetime, end_reason: EndReason | None, outcome: Outcome | None = None, notes: str = "",
) -> CallAttempt:  # fmt: skip
    """A call made at ``at``, for the demo school's history (and tests' and the bench's).

    It ended then for ``end_reason``; with no reason it is still open, as a hub that
    lost power would leave it. ``outcome`` is written as given, not by the queue's rules.
    """
    attempt = CallAttempt(entry_id=entry.id, household_id=entry.household_id, staff_id=staff.id,
                          phone_number_id=number_id, requested_at=at,
                          ended_at=at if end_reason else None, end_reason=end_reason,
                          outcome=outcome, notes=notes)  # fmt: skip
    session.add(attempt)
    return attempt


def take_for_hub(attempt: CallAttempt, hub_id: int) -> None:
    """The hub about to dial an open attempt counts it as its own (rate limits, restarts)."""
    if attempt.ended_at is None:
        attempt.hub_id = hub_id


def refused(attempt: CallAttempt, now: datetime) -> None:
    """The dial guard would not dial it (the guard audits why).

    An attempt that had already ended keeps the record of how it really ended.
    """
    if attempt.ended_at is None:
        _end(attempt, now, EndReason.REFUSED, "system")


def dialled(
    session: Session, attempt: CallAttempt, *, hub_id: int, recording: Path | None,
    action: str | None = None, own_phone: bool = False,
) -> None:  # fmt: skip
    """The INVITE has gone: the attempt is this hub's, and the dial is audited.

    ``own_phone``: the first INVITE went to the member of staff's own phone, and the
    family's follows once they answer.
    """
    attempt.hub_id = hub_id
    if recording is not None:
        attempt.recording_path = str(recording)
    detail: audit.Detail = {"attempt": attempt.id, "phone_number": attempt.phone_number_id}
    if own_phone:
        detail["via"] = "own_phone"
    audit.record(
        session,
        action or ("call.test_dialled" if attempt.test_call else "call.dialled"),
        actor=_actor(session, attempt),
        target_type="household" if attempt.household_id else "call_attempt",
        target_id=attempt.household_id or attempt.id,
        hub_id=hub_id,
        detail=detail,
    )


def failed(session: Session, attempt: CallAttempt, reason: str, *, hub_id: int | None) -> None:
    """The line could not place the call (it was down or refused the request); audited."""
    if attempt.ended_at is not None:
        return
    if hub_id is not None:
        attempt.hub_id = hub_id
    _end(attempt, utcnow(), EndReason.FAILED, "system")
    audit.record(session, "call.failed", actor=_actor(session, attempt),
                 target_type="call_attempt", target_id=attempt.id,
                 hub_id=attempt.hub_id, detail={"reason": reason})  # fmt: skip


def apply_event(session: Session, event: dict[str, Any], *, hub_id: int) -> None:
    """One of the line's call events (ringing, answered, ended) written to its attempt."""
    attempt = session.get(CallAttempt, event["attempt"])
    if attempt is None:
        return
    at = datetime.fromisoformat(event["at"])
    attempt.hub_id = hub_id
    state = event["state"]
    if state == "ringing":
        attempt.ringing_at = at
    elif state == "answered":
        attempt.answered_at = at
    elif state == "ended":
        attempt.sip_status = event.get("sip_status")
        _end(attempt, at, EndReason(event["end_reason"]), event.get("ended_by"))
        if attempt.end_reason is EndReason.INTERRUPTED:
            audit.record(session, "call.interrupted", actor="line",
                         target_type="call_attempt", target_id=attempt.id,
                         hub_id=hub_id, detail={"by": attempt.ended_by})  # fmt: skip


def recover_interrupted(session: Session, hub_id: int, *, now: datetime | None = None) -> int:
    """Close calls this hub left open when it stopped without warning (power cut, kill).

    Nobody knows how they ended, so each family goes back in its queue by the
    queue's own rule. Returns how many calls were closed.
    """
    now = now or utcnow()
    open_calls = session.scalars(
        select(CallAttempt).where(CallAttempt.hub_id == hub_id, CallAttempt.ended_at.is_(None))
    ).all()
    for attempt in open_calls:
        _end(attempt, now, EndReason.INTERRUPTED, "system")
        audit.record(session, "call.interrupted", actor="line", target_type="call_attempt",
                     target_id=attempt.id, hub_id=hub_id)  # fmt: skip
        if attempt.entry is not None:
            queues.release_interrupted(session, attempt.entry, attempt.staff_id, now=now)
    return len(open_calls)


def record_outcome(
    session: Session,
    attempt: CallAttempt,
    outcome: Outcome,
    *,
    staff: StaffUser,
    now: datetime,
    notes: str = "",
    call_back_at: datetime | None = None,
    meeting: bool = False,
    zone: ZoneInfo = queues.SCHOOL_ZONE,
    nation: str = DEFAULT_NATION,
) -> CampaignEntry:
    """Record how a call went and move its household on in the queue; once per call.

    ``meeting``: the parent wants a meeting, so the call back at ``call_back_at`` (to
    book it) is the caller's own follow-up.
    """
    now = queues.as_utc(now)
    entry = attempt.entry
    if entry is None:
        raise QueueError("This call is not from a campaign, so it has no outcome to record.")
    if not staff.active or (attempt.staff_id != staff.id and staff.role == Role.STAFF):
        raise QueueError("Only the member of staff who made this call can record how it went.")
    if call_back_at is not None:
        call_back_at = queues.as_utc(call_back_at)
        if outcome == Outcome.CONCERN:
            raise QueueError("A concern goes to the DSL, so it cannot also be a call back.")
        if call_back_at <= now:
            raise QueueError("Choose a call-back time later than now.")
    if meeting and (outcome != Outcome.SPOKE_TO_PARENT or call_back_at is None):
        raise QueueError("A meeting is booked with a parent you spoke to, at a time to ring back.")
    notes = notes.strip()
    if outcome == Outcome.CONCERN and not notes:
        raise QueueError("Say what the concern is; only the DSL will read it.")
    if (problem := audit.contact_details_in(notes)) is not None:
        raise QueueError(problem)
    take_write_lock(session)
    # A concern's note lives only in the Concern row, so no page that shows
    # call notes can show it to anyone but the DSL.
    stored_notes = "" if outcome == Outcome.CONCERN else notes
    # Conditional, so a double click (or two tabs) records one outcome, one concern.
    result = session.execute(
        update(CallAttempt)
        .where(CallAttempt.id == attempt.id, CallAttempt.outcome.is_(None))
        .values(outcome=outcome, notes=stored_notes, meeting_wanted=meeting)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise QueueError("This call's outcome has already been recorded.")
    session.expire(attempt, ["outcome", "notes", "meeting_wanted"])
    if outcome in queues.CONTACT:
        positive.read_out(session, attempt, now=now)  # a nominated pupil's notes were heard
    entry = queues.outcome_recorded(session, attempt, outcome, staff=staff, now=now,
                                    notes=notes, call_back_at=call_back_at, meeting=meeting,
                                    zone=zone, nation=nation)  # fmt: skip
    if outcome in queues.CONTACT:
        positive.notes_left_after(session, entry, now=now)
    return entry


def forget_recordings(session: Session, paths: Iterable[Path]) -> None:
    """Recordings deleted for their age: the calls they were of no longer point at them."""
    session.execute(
        update(CallAttempt)
        .where(CallAttempt.recording_path.in_([str(path) for path in paths]))
        .values(recording_path=None)
    )


def forget_household(session: Session, household_id: int) -> None:
    """A family erased: its calls stay in the school's figures, with nothing of whose they were.

    The recordings themselves are deleted by the erasure, which calls this.
    """
    session.execute(
        update(CallAttempt)
        .where(CallAttempt.household_id == household_id)
        .values(
            household_id=None, phone_number_id=None, entry_id=None, notes="", recording_path=None
        )
        .execution_options(synchronize_session=False)
    )


def _end(attempt: CallAttempt, at: datetime, reason: EndReason, by: str | None) -> None:
    attempt.ended_at = at
    attempt.end_reason = reason
    attempt.ended_by = by


def _actor(session: Session, attempt: CallAttempt) -> StaffUser | str:
    staff = session.get(StaffUser, attempt.staff_id) if attempt.staff_id else None
    return staff if staff is not None else "line"
