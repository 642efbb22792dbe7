"""Nominations: a member of staff's note of what a pupil did, queued for a call home.

The standing nominations campaign is an ordinary positive campaign, worked on the desk
like any other; a sibling nominated while the family's call waits shares that call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.config.sections import DAYS, DialplanSection
from hub.db import folded, take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EntryState,
    Nomination,
    Pupil,
    Purpose,
    StaffUser,
)
from hub.queues import CONTACT, FINISHED, as_utc, may_work
from hub.queues.rules import _audit, _open_concern, _release, caller_bar
from hub.school_days import SchoolCalendar

T = TypeVar("T")

NOMINATIONS = "Positive calls home: nominations"

NOMINATIONS_CADENCE_DAYS = 7

NOTE_LIMIT = 1000  # characters of a nomination's note, read out on the call

SEARCH_LIMIT = 40  # pupils listed for one search

FOLLOW_UP_TIME = time(16, 0)  # after school, when a teacher can ring to book a meeting


@dataclass(frozen=True)
class Nominated:
    """What a nomination did: the family's call it is on, and who will make that call."""

    nomination: Nomination
    entry: CampaignEntry
    caller: StaffUser | None
    joined: bool  # a sibling's call was already waiting: this note is read out on it too
    next_call: bool = False  # that call is being made now: the note waits for the next one


def nominations_campaign(session: Session, *, now: datetime) -> Campaign:
    """The standing campaign nominations go to, made the first time a pupil is nominated."""
    found = _standing(session)
    if found is not None:
        return found
    take_write_lock(session)  # two first nominations at once still make one campaign
    found = _standing(session)
    if found is not None:
        return found
    made = Campaign(
        name=NOMINATIONS,
        purpose=Purpose.POSITIVE,
        talking_points="",
        cadence_days=NOMINATIONS_CADENCE_DAYS,
        for_nominations=True,
        created_at=as_utc(now),
    )
    campaign = _added_once(session, made, lambda: _standing(session))
    if campaign is not made:
        return campaign
    _audit(session, "campaign.created", actor="system", now=as_utc(now), target=campaign,
           detail={"purpose": campaign.purpose.value, "for_nominations": True})  # fmt: skip
    return campaign


def _standing(session: Session) -> Campaign | None:
    return session.scalar(
        select(Campaign).where(Campaign.for_nominations.is_(True)).order_by(Campaign.id).limit(1)
    )


def may_nominate(staff: StaffUser) -> bool:
    """Whether ``staff`` makes calls through the hub, and so may nominate pupils."""
    return caller_bar(staff, None) is None


def callers(session: Session) -> list[StaffUser]:
    """Everyone who may be given a nominated pupil's call, by name."""
    everyone = session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)
    )
    return [staff for staff in everyone if may_nominate(staff)]


def search_pupils(session: Session, text: str) -> list[Pupil]:
    """Pupils whose name holds ``text``, or the whole form it names ("8B"), by surname."""
    words = " ".join(text.split())
    if not words:
        return []
    pattern = f"%{_escaped(words.lower())}%"
    full_name = folded(Pupil.forename + " " + Pupil.surname)
    return list(
        session.scalars(
            select(Pupil)
            .where(
                or_(
                    folded(Pupil.form) == words.lower(),
                    full_name.like(pattern, escape="\\"),
                    folded(Pupil.surname).like(pattern, escape="\\"),
                )
            )
            .order_by(Pupil.surname, Pupil.forename, Pupil.id)
            .limit(SEARCH_LIMIT)
        )
    )


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def nominate(
    session: Session,
    pupil: Pupil,
    note: str,
    *,
    by: StaffUser,
    now: datetime,
    caller: StaffUser | None = None,
    plan: str = "",
) -> Nominated:
    """Put ``pupil``'s family in the queue of ``caller`` (the nominator unless named).

    A sibling's call still waiting takes this note too, so the family gets one call;
    a family whose last nominated call is finished is queued again.
    """
    now = as_utc(now)
    if not may_nominate(by):
        raise QueueError("Only staff who make calls through the hub can nominate a pupil.")
    note, plan = note.strip(), plan.strip()
    if not note:
        raise QueueError(f"Say what {pupil.forename} did: the family hears it as you write it.")
    if len(note) > NOTE_LIMIT:
        raise QueueError(f"Keep the note to {NOTE_LIMIT} characters: it is read out on a call.")
    for text in (note, plan):
        if (problem := audit.contact_details_in(text)) is not None:
            raise QueueError(problem)
    if _with_the_dsl(session, pupil.household_id):
        # Said the same way for a vulnerable pupil's family and one with an open concern, and
        # no more than that: which it is stays the DSL's.
        raise QueueError(f"{pupil.forename}'s family cannot be given a positive call through the "
                         "hub just now: pass your note to the designated safeguarding "
                         "lead.")  # fmt: skip
    caller = caller or by
    campaign = nominations_campaign(session, now=now)
    if campaign.closed_at is not None:
        raise QueueError("Nominations are closed: the office has closed the nominations campaign.")
    if not may_work(caller, campaign):
        raise QueueError(f"{caller.name} does not make calls through the hub: choose someone who "
                         "does.")  # fmt: skip
    entry, joined = _family_call(session, campaign, pupil, caller, plan, now=now)
    same = session.scalar(
        select(Nomination).where(
            Nomination.entry_id == entry.id, Nomination.pupil_id == pupil.id,
            Nomination.nominated_by_id == by.id, Nomination.note == note,
            Nomination.attempt_id.is_(None))
    )  # fmt: skip
    if same is not None:  # a double click, or the form sent again: one nomination
        return Nominated(nomination=same, entry=entry, caller=entry.assignee, joined=False,
                         next_call=_on_a_call(session, entry))  # fmt: skip
    nomination = Nomination(pupil_id=pupil.id, entry_id=entry.id, nominated_by_id=by.id,
                            note=note, created_at=now)  # fmt: skip
    session.add(nomination)
    session.flush()
    _audit(session, "nomination.made", actor=by, now=now, target=entry, detail={
        "pupil_id": pupil.id, "household_id": pupil.household_id,
        "caller_id": entry.assignee_id, "joined": joined,
    })  # fmt: skip
    return Nominated(nomination=nomination, entry=entry, caller=entry.assignee, joined=joined,
                     next_call=joined and _on_a_call(session, entry))  # fmt: skip


def _on_a_call(session: Session, entry: CampaignEntry) -> bool:
    """Whether the family's call is being made now (its note waits for the next call)."""
    return entry.state is EntryState.CLAIMED and session.scalar(
        select(func.count()).where(CallAttempt.entry_id == entry.id, CallAttempt.outcome.is_(None),
                                   CallAttempt.ended_at.is_(None))
    ) > 0  # fmt: skip


def queue_again(session: Session, entry: CampaignEntry, *, now: datetime) -> None:
    """Put a finished family's nominations call back in its caller's queue.

    Not before the week's cap on positive calls has passed since the family was last
    reached (a call back then, so it comes first), so a brother nominated an hour after
    his sister's call is told about on the family's next positive call, not today.
    """
    last = session.scalar(
        select(func.max(CallAttempt.requested_at)).where(
            CallAttempt.entry_id == entry.id, CallAttempt.outcome.in_(CONTACT))
    )  # fmt: skip
    due = as_utc(last) + timedelta(days=entry.campaign.cadence_days) if last else None
    if due is not None and due > as_utc(now):
        _release(entry, EntryState.CALL_BACK)
        entry.call_back_at = due
    else:
        _release(entry, EntryState.WAITING)
    session.flush()


def notes_left_after(session: Session, entry: CampaignEntry, *, now: datetime) -> None:
    """After a call that reached the family: nominations made while it was on (so not read
    out) keep the family in the queue for its next positive call."""
    if entry.state is EntryState.DONE and waiting_notes(session, entry):
        queue_again(session, entry, now=now)


def _family_call(
    session: Session,
    campaign: Campaign,
    pupil: Pupil,
    caller: StaffUser,
    plan: str,
    *,
    now: datetime,
) -> tuple[CampaignEntry, bool]:
    """The family's call in the nominations campaign, made or queued again for ``caller``;
    and whether it was already waiting (a sibling's)."""
    take_write_lock(session)
    find = (
        select(CampaignEntry)
        .where(CampaignEntry.campaign_id == campaign.id,
               CampaignEntry.household_id == pupil.household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )  # fmt: skip
    entry = session.scalar(find)
    if entry is None:
        made = CampaignEntry(campaign_id=campaign.id, household_id=pupil.household_id,
                             assignee_id=caller.id, plan=plan)  # fmt: skip
        entry = _added_once(session, made, lambda: session.scalar(find))
        return entry, entry is not made
    if entry.state in FINISHED:
        queue_again(session, entry, now=now)
        entry.assignee_id, entry.plan = caller.id, plan
        session.flush()
        return entry, False
    if plan and not entry.plan and entry.assignee_id == caller.id:
        entry.plan = plan
    return entry, True


def _added_once(session: Session, row: T, found: Callable[[], T | None]) -> T:
    """``row`` added; or, if another hub added its twin a moment before, that twin.

    PostgreSQL: two hubs may both see nothing and both insert; the unique constraint
    stops the second, which then takes the first's row.
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = found()
        if twin is None:
            raise
        return twin
    return row


def _with_the_dsl(session: Session, household_id: int) -> bool:
    """A vulnerable pupil's family (the DSL's queue alone), or one whose open concern or
    escalation has it in the DSL's hands: no ordinary queue offers it."""
    vulnerable = select(Pupil.id).where(Pupil.household_id == household_id,
                                        Pupil.vulnerable.is_(True))  # fmt: skip
    return bool(session.scalar(select(vulnerable.exists() | _open_concern(household_id))))


def waiting_notes(session: Session, entry: CampaignEntry) -> list[Nomination]:
    """The nominations to read out on ``entry``'s next call, oldest first."""
    return list(
        session.scalars(
            select(Nomination)
            .where(Nomination.entry_id == entry.id, Nomination.attempt_id.is_(None))
            .order_by(Nomination.created_at, Nomination.id)
        )
    )


def read_out(session: Session, attempt: CallAttempt, *, now: datetime) -> int:
    """Mark the nominations on ``attempt``'s card as told to the family; how many."""
    if attempt.entry_id is None:
        return 0
    result = session.execute(
        update(Nomination)
        .where(
            Nomination.entry_id == attempt.entry_id,
            Nomination.attempt_id.is_(None),
            Nomination.created_at <= attempt.requested_at,  # on the card when the call began
        )
        .values(attempt_id=attempt.id, delivered_at=as_utc(now))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def opening_line(school: str, pupils: list[str]) -> str:
    """The suggested first words of a positive call."""
    return (f"I'm calling from {school}, everything's fine — I wanted to tell you about "
            f"something {_and(pupils) or 'your child'} did.")  # fmt: skip


def _and(names: list[str]) -> str:
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""


def follow_up_at(now: datetime, *, dialplan: DialplanSection, calendar: SchoolCalendar) -> datetime:
    """When a follow-up is booked if its caller gives no time: the next school day after
    school (16:00, or the nearest time within calling hours)."""
    day = now.astimezone(dialplan.zone).date()
    for _ in range(60):  # a summer holiday is the longest wait
        day += timedelta(days=1)
        if DAYS[day.weekday()] in dialplan.calling_days and (
            not dialplan.school_days_only or calendar.is_school_day(day)
        ):
            break
    open_at, close_at = dialplan.calling_window
    at = min(max(FOLLOW_UP_TIME, open_at), close_at)
    return datetime.combine(day, at, tzinfo=dialplan.zone)


def follow_ups(session: Session, staff: StaffUser) -> list[CampaignEntry]:
    """``staff``'s follow-ups to book: families who wanted a meeting, soonest first."""
    wanted = (
        select(CallAttempt.id)
        .where(CallAttempt.entry_id == CampaignEntry.id, CallAttempt.staff_id == staff.id,
               CallAttempt.meeting_wanted.is_(True))
        .exists()
    )  # fmt: skip
    return list(
        session.scalars(
            select(CampaignEntry)
            .where(CampaignEntry.assignee_id == staff.id,
                   CampaignEntry.state.in_([EntryState.CALL_BACK, EntryState.CLAIMED]), wanted)
            .order_by(CampaignEntry.call_back_at, CampaignEntry.id)
        )
    )  # fmt: skip
