"""Campaign queues: who is called, by whom, in what order, and what happens next.

The rules the panel applies to a campaign's households: one entry per household,
the vulnerable-children queue kept to the DSL, atomic claiming (two members of
staff, or two hubs, never get the same family), the cadence cap across campaigns,
escalation to the DSL of a family not reached on two school days, concerns whose
notes only the DSL reads and whose families only the DSL is offered until handled,
and a family tried without success waiting for its call-back time or the next day.
Every change writes an audit event, never a phone number. Each rule takes ``now``
so tests and the nightly job choose the clock.

    with database.session() as session:
        entry = claim_next(session, campaign, staff, now=utcnow())
    ...  # the line dials; the attempt ends (hub.calls writes every step of a call)
    with database.session() as session:
        calls.record_outcome(session, attempt, Outcome.NO_ANSWER, staff=staff, now=utcnow())
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub import audit
from hub.db import take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    EntryState,
    Household,
    Outcome,
    Pupil,
    Role,
    StaffUser,
)

SCHOOL_ZONE = ZoneInfo("Europe/London")
SCHOOL_DAYS = frozenset(range(5))  # Monday to Friday, as datetime.weekday() counts
ESCALATE_AFTER_DAYS = 2
NOTE_LIMIT = 300  # characters of a note shown in a household's history
VULNERABLE_FLAG = "vulnerable"
OVERRIDE_ACTION = "entry.cadence_overridden"

# Someone answered and spoke for the family. A parent who declined to talk was
# still reached: calling them again within the fortnight is what the cap prevents.
CONTACT = frozenset({Outcome.SPOKE_TO_PARENT, Outcome.SPOKE_TO_PUPIL, Outcome.DECLINED})
FAILED = frozenset({Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.WRONG_NUMBER})
# How the line saw a call fail, for attempts staff never gave an outcome. A
# cancelled, refused or interrupted call never really tried the family.
FAILED_ENDS = frozenset(
    {EndReason.NO_ANSWER, EndReason.BUSY, EndReason.DROPPED, EndReason.FAILED, EndReason.REJECTED}
)
OPEN = (EntryState.WAITING, EntryState.CALL_BACK)
FINISHED = (EntryState.DONE, EntryState.ESCALATED)

AssignMethod = Literal["round_robin", "manual", "key_adult"]


@dataclass(frozen=True)
class AddSummary:
    """What adding households to a campaign did, for the admin who asked."""

    added: int
    already_in: int
    vulnerable_left_out: int

    @property
    def message(self) -> str:
        """The summary as one or two sentences for the panel."""
        text = f"Added {_households(self.added)}"
        if self.already_in:
            text += f"; {_households(self.already_in)} already in the campaign"
        text += "."
        if self.vulnerable_left_out:
            count = self.vulnerable_left_out
            text += (
                f" {_households(count).capitalize()} with a vulnerable pupil "
                f"{'was' if count == 1 else 'were'} left out, because only the DSL's "
                "campaigns may hold them."
            )
        return text


@dataclass(frozen=True)
class AssignSummary:
    """What an assignment did: how many entries got a member of staff, how many did not."""

    assigned: int
    left_unassigned: int

    @property
    def message(self) -> str:
        """The summary as one sentence for the panel."""
        text = f"Assigned {_households(self.assigned)}"
        if self.left_unassigned:
            text += f"; {_households(self.left_unassigned)} left unassigned"
        return text + "."


@dataclass(frozen=True)
class Escalation:
    """A household not reached on two school days, waiting on the DSL's list."""

    entry: CampaignEntry
    campaign: str
    pupils: tuple[str, ...]
    reason: str
    escalated_at: datetime | None


@dataclass(frozen=True)
class Contact:
    """One earlier call to a household, as the viewer may see it."""

    at: datetime
    campaign: str
    staff: str
    outcome: Outcome | None
    end_reason: EndReason | None
    notes: str
    concern: bool


def may_work(staff: StaffUser, campaign: Campaign) -> bool:
    """True if ``staff`` may take calls from ``campaign``."""
    return _work_refusal(staff, campaign) is None


def add_households(
    session: Session,
    campaign: Campaign,
    *,
    actor: StaffUser | str,
    now: datetime,
    years: Collection[str] = (),
    forms: Collection[str] = (),
    flags: Collection[str] = (),
    everyone: bool = False,
) -> AddSummary:
    """Add one entry per chosen household: pupils matching every filter given, or everyone."""
    now = _utc(now)
    _check_manager(actor, campaign)
    if everyone == bool(years or forms or flags):
        raise QueueError("Choose years, forms or flags, or everyone, but not both.")
    take_write_lock(session)
    query = select(Pupil.household_id, Pupil.flags, Pupil.vulnerable)
    if years:
        query = query.where(Pupil.year.in_(list(years)))
    if forms:
        query = query.where(Pupil.form.in_(list(forms)))
    wanted = {flag.strip().casefold() for flag in flags}
    chosen = {
        household_id
        for household_id, pupil_flags, vulnerable in session.execute(query)
        if not wanted or wanted & _flags(pupil_flags, vulnerable)
    }
    already = set(
        session.scalars(
            select(CampaignEntry.household_id).where(CampaignEntry.campaign_id == campaign.id)
        )
    )
    left_out: set[int] = set()
    if not campaign.dsl_only:
        # The whole household is the DSL's if any child in it is vulnerable,
        # whichever of its pupils matched the filters.
        left_out = set(
            session.scalars(select(Pupil.household_id).where(Pupil.vulnerable.is_(True)))
        )
    new = sorted(chosen - already - left_out)
    session.add_all(CampaignEntry(campaign_id=campaign.id, household_id=h) for h in new)
    summary = AddSummary(
        added=len(new),
        already_in=len(chosen & already),
        vulnerable_left_out=len((chosen - already) & left_out),
    )
    _audit(
        session,
        "campaign.households_added",
        actor=actor,
        now=now,
        target=campaign,
        detail={
            "added": summary.added,
            "already_in": summary.already_in,
            "vulnerable_left_out": summary.vulnerable_left_out,
            "everyone": everyone,
        },
    )
    session.flush()
    return summary


def assign(
    session: Session,
    campaign: Campaign,
    *,
    actor: StaffUser | str,
    method: AssignMethod,
    now: datetime,
    staff: Sequence[StaffUser] = (),
    entries: Sequence[CampaignEntry] | None = None,
) -> AssignSummary:
    """Give entries still to call a member of staff; by default every unassigned one."""
    now = _utc(now)
    _check_manager(actor, campaign)
    take_write_lock(session)
    if entries is None:
        chosen = list(
            session.scalars(
                select(CampaignEntry)
                .where(
                    CampaignEntry.campaign_id == campaign.id,
                    CampaignEntry.state.in_(OPEN),
                    CampaignEntry.assignee_id.is_(None),
                )
                .order_by(CampaignEntry.id)
            )
        )
    else:
        if any(entry.campaign_id != campaign.id for entry in entries):
            raise QueueError("Some of those households are not in this campaign.")
        # A claimed card stays with whoever holds it; a finished one needs nobody.
        chosen = [entry for entry in entries if entry.state in OPEN]
    if method == "round_robin":
        given = _round_robin(session, campaign, chosen, staff)
    elif method == "manual":
        given = _manual(campaign, chosen, staff)
    elif method == "key_adult":
        given = _key_adults(session, campaign, chosen)
    else:
        raise ValueError(f"unknown assignment method {method!r}")
    for entry, member in given.items():
        entry.assignee_id = member.id
    skipped = (len(entries) if entries is not None else len(chosen)) - len(given)
    _audit(
        session,
        "campaign.assigned",
        actor=actor,
        now=now,
        target=campaign,
        detail={"method": method, "assigned": len(given), "left_unassigned": skipped},
    )
    session.flush()
    return AssignSummary(assigned=len(given), left_unassigned=skipped)


def claim_next(
    session: Session,
    campaign: Campaign,
    staff: StaffUser,
    *,
    now: datetime,
    zone: ZoneInfo = SCHOOL_ZONE,
) -> CampaignEntry | None:
    """The household ``staff`` should call next, claimed for them; None if nobody is due.

    A member of staff who already holds a claim in this campaign gets it back,
    so a reloaded page or a second tab never leaves a family half-called, unless
    a concern raised on the family since has put it in the DSL's hands.
    """
    now = _utc(now)
    if campaign.closed_at is not None:
        raise QueueError("This campaign is closed, so no more calls can be made from it.")
    refusal = _work_refusal(staff, campaign)
    if refusal is not None:
        raise QueueError(refusal)
    take_write_lock(session)
    # PostgreSQL: one claim at a time per member of staff, so two tabs racing
    # each other end up on the same family rather than holding two.
    session.execute(
        select(StaffUser.id).where(StaffUser.id == staff.id).with_for_update(key_share=True)
    )
    held = session.scalar(
        select(CampaignEntry)
        .where(
            CampaignEntry.campaign_id == campaign.id,
            CampaignEntry.state == EntryState.CLAIMED,
            CampaignEntry.claimed_by_id == staff.id,
        )
        .order_by(CampaignEntry.claimed_at, CampaignEntry.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if held is not None and staff.role != Role.DSL and _held_for_dsl(session, held):
        holder = held.claimed_by_id
        _release(held, EntryState.WAITING)
        _audit(
            session,
            "entry.released",
            actor="system",
            now=now,
            target=held,
            detail={"reason": "concern", "claimed_by_id": holder},
        )
        held = None
    if held is not None:
        # Still working on it, so the stale-claim sweep leaves it alone.
        held.claimed_at = now
        session.flush()
        return held
    last_try = (
        select(func.max(CallAttempt.requested_at))
        .where(CallAttempt.entry_id == CampaignEntry.id)
        .scalar_subquery()
    )
    entry = session.scalar(
        select(CampaignEntry)
        .where(*_offerable(campaign, staff, now, zone))
        .order_by(
            # Families promised a call at a time first, then this person's own
            # list, then families nobody has tried yet, then the longest waiting.
            case((CampaignEntry.state == EntryState.CALL_BACK, 0), else_=1),
            CampaignEntry.call_back_at,
            case((CampaignEntry.assignee_id == staff.id, 0), else_=1),
            case((last_try.is_(None), 0), else_=1),
            last_try,
            CampaignEntry.id,
        )
        .limit(1)
        # PostgreSQL: rows another hub is claiming right now are passed over, not
        # waited for. SQLite ignores this; the write lock above serialises claims.
        .with_for_update(skip_locked=True, of=CampaignEntry)
        .execution_options(populate_existing=True)
    )
    if entry is None:
        return None
    entry.state = EntryState.CLAIMED
    entry.claimed_by_id = staff.id
    entry.claimed_at = now
    _audit(
        session,
        "entry.claimed",
        actor=staff,
        now=now,
        target=entry,
        detail={"campaign_id": campaign.id, "household_id": entry.household_id},
    )
    session.flush()
    return entry


# A family claimed but untouched this long (no card shown, no call) goes back to the
# queue: long enough for a long welfare call, short enough to be called today.
ABANDONED_CLAIM = timedelta(hours=1)


def release_stale_claims(
    session: Session, *, older_than: timedelta, now: datetime, zone: ZoneInfo = SCHOOL_ZONE
) -> int:
    """Put back in the queue claims untouched for ``older_than``; returns how many."""
    now = _utc(now)
    cutoff = now - older_than
    take_write_lock(session)
    recent_call = exists().where(
        CallAttempt.entry_id == CampaignEntry.id, CallAttempt.requested_at >= cutoff
    )
    stale = list(
        session.scalars(
            select(CampaignEntry)
            .where(
                CampaignEntry.state == EntryState.CLAIMED,
                or_(CampaignEntry.claimed_at.is_(None), CampaignEntry.claimed_at < cutoff),
                ~recent_call,
            )
            .order_by(CampaignEntry.id)
            .with_for_update(skip_locked=True, of=CampaignEntry)
            .execution_options(populate_existing=True)
        )
    )
    for entry in stale:
        holder = entry.claimed_by_id
        _release(entry, EntryState.WAITING)
        _audit(
            session,
            "entry.released",
            actor="system",
            now=now,
            target=entry,
            detail={"reason": "stale", "claimed_by_id": holder},
        )
        # Calls the line ended but nobody recorded still count as failed tries.
        _escalate_if_unreached(session, entry, now=now, zone=zone)
    session.flush()
    return len(stale)


def override_cadence(
    session: Session, entry: CampaignEntry, dsl: StaffUser, reason: str, now: datetime
) -> None:
    """Let the DSL offer ``entry`` although the family was reached recently."""
    now = _utc(now)
    if not dsl.active or dsl.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can override the cadence cap.")
    if not reason.strip():
        raise QueueError("Give a reason for overriding the cadence cap.")
    if entry.state in FINISHED:
        raise QueueError("This household's call is finished, so there is nothing to override.")
    # The audit event is the override: claim_next looks for it, so it is never
    # in effect without a record of who allowed it and why.
    try:
        _audit(
            session,
            OVERRIDE_ACTION,
            actor=dsl,
            now=now,
            target=entry,
            detail={"household_id": entry.household_id, "reason": reason.strip()},
        )
    except ValueError:
        raise QueueError("Leave phone numbers out of the reason.") from None
    session.flush()


def outcome_recorded(
    session: Session,
    attempt: CallAttempt,
    outcome: Outcome,
    *,
    staff: StaffUser,
    now: datetime,
    notes: str,
    call_back_at: datetime | None,
    zone: ZoneInfo = SCHOOL_ZONE,
) -> CampaignEntry:
    """Move the household on once ``hub.calls`` has written a call's outcome.

    A concern goes to the DSL; a family reached is done unless they asked for a call
    back; a family not reached waits, or goes to the DSL after two school days.
    """
    entry = attempt.entry
    assert entry is not None  # hub.calls records outcomes of campaign calls only
    # Read (and on PostgreSQL lock) the entry as it is now: the stale-claim
    # sweep or another member of staff may have moved it since the call began.
    session.refresh(entry, with_for_update=True)
    detail: audit.Detail = {"attempt_id": attempt.id, "outcome": outcome.value}
    if outcome == Outcome.CONCERN:
        concern = Concern(
            household_id=entry.household_id,
            attempt_id=attempt.id,
            raised_by_id=staff.id,
            raised_at=now,
            note=notes,
        )
        session.add(concern)
        session.flush()
        detail["concern_id"] = concern.id
        _audit(
            session,
            "concern.raised",
            actor=staff,
            now=now,
            target=concern,
            detail={"household_id": entry.household_id, "attempt_id": attempt.id},
        )
    held_by_other = entry.state == EntryState.CLAIMED and entry.claimed_by_id not in (
        None,
        attempt.staff_id,
    )
    if entry.state in FINISHED:
        pass  # a late outcome never reopens a finished household or the DSL's list
    elif outcome == Outcome.CONCERN or (outcome in CONTACT and call_back_at is None):
        _release(entry, EntryState.DONE)
    elif held_by_other:
        pass  # the stale sweep gave it to someone else, who is on it now
    elif call_back_at is not None:
        _release(entry, EntryState.CALL_BACK)
        entry.call_back_at = call_back_at
    else:
        _release(entry, EntryState.WAITING)
    detail["state"] = entry.state.value
    _audit(session, "entry.outcome", actor=staff, now=now, target=entry, detail=detail)
    if outcome in FAILED and entry.state in OPEN:
        _escalate_if_unreached(session, entry, now=now, zone=zone)
    session.flush()
    return entry


def release_interrupted(
    session: Session, entry: CampaignEntry, caller_id: int | None, *, now: datetime
) -> None:
    """Put back a family whose call the hub lost (power cut, kill): nobody knows how it went.

    Only the caller's own claim is let go (the stale sweep may have given the family
    to a colleague since). A family promised a call back keeps its time, so it is
    still offered first; any other goes back to waiting.
    """
    if entry.state is not EntryState.CLAIMED or entry.claimed_by_id != caller_id:
        return
    promised = entry.call_back_at
    if promised is not None:
        _release(entry, EntryState.CALL_BACK)
        entry.call_back_at = promised
    else:
        _release(entry, EntryState.WAITING)
    _audit(session, "entry.released", actor="system", now=_utc(now), target=entry,
           detail={"reason": "interrupted", "claimed_by_id": caller_id})  # fmt: skip


def escalations(session: Session) -> list[Escalation]:
    """Households on the DSL's list, longest waiting first."""
    entries = list(
        session.scalars(
            select(CampaignEntry)
            .where(CampaignEntry.state == EntryState.ESCALATED)
            .options(
                selectinload(CampaignEntry.campaign),
                selectinload(CampaignEntry.household).selectinload(Household.pupils),
            )
            .order_by(CampaignEntry.id)
        )
    )
    concerns = open_escalation_concerns(session, [entry.id for entry in entries])
    out = []
    for entry in entries:
        concern = concerns.get(entry.id)
        out.append(
            Escalation(
                entry=entry,
                campaign=entry.campaign.name,
                pupils=tuple(pupil.name for pupil in entry.household.pupils),
                reason=concern.note if concern else "",
                escalated_at=concern.raised_at if concern else None,
            )
        )
    out.sort(key=lambda e: (e.escalated_at or datetime.max.replace(tzinfo=UTC), e.entry.id))
    return out


def mark_handled(
    session: Session, entry: CampaignEntry, dsl: StaffUser, note: str, now: datetime
) -> None:
    """Take a household off the DSL's list, with what the DSL did about it."""
    now = _utc(now)
    if not dsl.active or dsl.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can handle an escalation.")
    if not note.strip():
        raise QueueError("Say what was done about this family.")
    take_write_lock(session)
    session.refresh(entry, with_for_update=True)
    if entry.state != EntryState.ESCALATED:
        raise QueueError("This household is not on the escalation list.")
    concern = open_escalation_concerns(session, [entry.id]).get(entry.id)
    if concern is not None:
        concern.handled_at = now
        concern.handled_by_id = dsl.id
        concern.handled_note = note.strip()
    _release(entry, EntryState.DONE)
    # The note is safeguarding information: it stays in the Concern, not the audit log.
    _audit(
        session,
        "entry.escalation_handled",
        actor=dsl,
        now=now,
        target=entry,
        detail={
            "household_id": entry.household_id,
            "concern_id": concern.id if concern is not None else None,
        },
    )
    session.flush()


def history(session: Session, household: Household, *, viewer: StaffUser) -> list[Contact]:
    """Earlier calls to ``household``, newest first; safeguarding notes for the DSL only."""
    dsl = viewer.role == Role.DSL
    # Columns, not CallAttempt objects: a year of calls is dozens of rows a page.
    query = (
        select(
            CallAttempt.id,
            CallAttempt.requested_at,
            CallAttempt.outcome,
            CallAttempt.end_reason,
            CallAttempt.notes,
            Campaign.name,
            Campaign.dsl_only,
            StaffUser.name,
        )
        .outerjoin(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .outerjoin(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .outerjoin(StaffUser, CallAttempt.staff_id == StaffUser.id)
        .where(
            CallAttempt.household_id == household.id,
            # A refused dial never reached the family.
            or_(CallAttempt.end_reason.is_(None), CallAttempt.end_reason != EndReason.REFUSED),
        )
        .order_by(CallAttempt.requested_at.desc(), CallAttempt.id.desc())
    )
    rows = session.execute(query).all()
    concern_notes: dict[int, list[str]] = {}
    if dsl:
        for attempt_id, note in session.execute(
            select(Concern.attempt_id, Concern.note)
            .where(Concern.household_id == household.id, Concern.attempt_id.is_not(None))
            .order_by(Concern.id)
        ):
            concern_notes.setdefault(attempt_id, []).append(note)
    contacts = []
    for attempt_id, at, outcome, end_reason, call_notes, campaign, dsl_only, staff_name in rows:
        # The vulnerable-children queue, calls and all, is the DSL's alone.
        if dsl_only and not dsl:
            continue
        notes = "\n".join(filter(None, [call_notes, *concern_notes.get(attempt_id, [])]))
        contacts.append(
            Contact(
                at=at,
                campaign=campaign or "",
                staff=staff_name or "",
                outcome=outcome,
                end_reason=end_reason,
                notes=_short(notes),
                concern=outcome == Outcome.CONCERN,
            )
        )
    return contacts


def progress(session: Session, campaign: Campaign) -> dict[EntryState, int]:
    """How many of the campaign's households are in each state, every state present."""
    counts = dict.fromkeys(EntryState, 0)
    for state, count in session.execute(
        select(CampaignEntry.state, func.count())
        .where(CampaignEntry.campaign_id == campaign.id)
        .group_by(CampaignEntry.state)
    ):
        counts[state] = count
    return counts


def waiting_for(
    session: Session,
    campaign: Campaign,
    staff: StaffUser,
    *,
    now: datetime,
    zone: ZoneInfo = SCHOOL_ZONE,
) -> int:
    """How many households ``claim_next`` could offer ``staff`` now, the desk's "waiting"."""
    if campaign.closed_at is not None or not may_work(staff, campaign):
        return 0
    return (
        session.scalar(
            select(func.count())
            .select_from(CampaignEntry)
            .where(*_offerable(campaign, staff, _utc(now), zone))
        )
        or 0
    )


def _work_refusal(staff: StaffUser, campaign: Campaign) -> str | None:
    if not staff.active:
        return "Your account is disabled, so you cannot take calls."
    if campaign.dsl_only and staff.role != Role.DSL:
        return "Only the designated safeguarding lead can work this campaign."
    if staff.role == Role.STAFF and not staff.opted_in:
        return "You have not opted in to making calls through the hub."
    if not campaign.any_opted_in_staff and staff.id not in {s.id for s in campaign.staff}:
        return "Only the staff named on this campaign can work it."
    return None


def _check_manager(actor: StaffUser | str, campaign: Campaign) -> None:
    if campaign.closed_at is not None:
        raise QueueError("This campaign is closed, so its households cannot be changed.")
    if isinstance(actor, str):
        return  # the CLI or the hub itself, trusted as whoever runs it
    if not actor.active or actor.role == Role.STAFF:
        raise QueueError("Only an admin or the DSL can change a campaign's households.")
    if campaign.dsl_only and actor.role != Role.DSL:
        raise QueueError("Only the designated safeguarding lead can change this campaign.")


def _offerable(
    campaign: Campaign, staff: StaffUser, now: datetime, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    today = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    conditions = [
        CampaignEntry.campaign_id == campaign.id,
        or_(
            # A family tried today and not reached waits for tomorrow, so the
            # next card after a voicemail is never the same family again.
            and_(CampaignEntry.state == EntryState.WAITING, ~_tried_since(today)),
            and_(CampaignEntry.state == EntryState.CALL_BACK, CampaignEntry.call_back_at <= now),
        ),
        or_(CampaignEntry.assignee_id.is_(None), CampaignEntry.assignee_id == staff.id),
        ~_reached_since(now - timedelta(days=campaign.cadence_days))
        | exists().where(
            AuditEvent.action == OVERRIDE_ACTION,
            AuditEvent.target_type == "campaign_entry",
            AuditEvent.target_id == CampaignEntry.id,
        ),
    ]
    if staff.role != Role.DSL:
        # A concern, or an escalation, puts the family in the DSL's hands in
        # every campaign until the DSL marks it handled.
        conditions.append(~_open_concern(CampaignEntry.household_id))
    if not campaign.dsl_only:
        # Checked at claim time too: a pupil marked vulnerable by a later import
        # takes the household out of every ordinary queue at once.
        conditions.append(
            ~exists().where(
                Pupil.household_id == CampaignEntry.household_id, Pupil.vulnerable.is_(True)
            )
        )
    return conditions


def _reached_since(since: datetime) -> ColumnElement[bool]:
    # Reached in any other campaign; this entry's own contacts (a parent who
    # asked to be called back) are its state's business, not the cap's.
    return exists().where(
        CallAttempt.household_id == CampaignEntry.household_id,
        CallAttempt.outcome.in_(CONTACT),
        CallAttempt.requested_at >= since,
        or_(CallAttempt.entry_id.is_(None), CallAttempt.entry_id != CampaignEntry.id),
    )


def not_reached() -> ColumnElement[bool]:
    """A call that reached nobody: no answer, a machine, a wrong number, or never connected."""
    return or_(
        CallAttempt.outcome.in_(FAILED),
        and_(CallAttempt.outcome.is_(None), CallAttempt.end_reason.in_(FAILED_ENDS)),
    )


def _tried_since(since: datetime) -> ColumnElement[bool]:
    return exists().where(
        CallAttempt.entry_id == CampaignEntry.id,
        CallAttempt.requested_at >= since,
        not_reached(),
    )


def _open_concern(household_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    return exists().where(Concern.household_id == household_id, Concern.handled_at.is_(None))


def _held_for_dsl(session: Session, entry: CampaignEntry) -> bool:
    return bool(session.scalar(select(_open_concern(entry.household_id))))


def sharing_staff(session: Session, campaign: Campaign) -> list[StaffUser]:
    """Who an even share-out of ``campaign`` goes to: everyone who may work it and makes calls."""
    candidates = (
        campaign.staff
        if not campaign.any_opted_in_staff
        else session.scalars(select(StaffUser).where(StaffUser.active.is_(True)))
    )
    # Only people who make calls share the work out: an admin or DSL who may call
    # but has not said they do would hold families nobody rings.
    return sorted(
        (member for member in candidates if member.opted_in and may_work(member, campaign)),
        key=lambda member: (member.name, member.id),
    )


def _round_robin(
    session: Session,
    campaign: Campaign,
    entries: list[CampaignEntry],
    staff: Sequence[StaffUser],
) -> dict[CampaignEntry, StaffUser]:
    team = list(staff) or sharing_staff(session, campaign)
    _check_can_work(team, campaign)
    if not team:
        raise QueueError("Nobody may work this campaign yet, so there is no one to assign.")
    # Counting what each already has keeps a second share-out fair, not just the first.
    load = Counter(
        session.scalars(
            select(CampaignEntry.assignee_id).where(
                CampaignEntry.campaign_id == campaign.id,
                CampaignEntry.state.in_((*OPEN, EntryState.CLAIMED)),
                CampaignEntry.assignee_id.in_([member.id for member in team]),
                CampaignEntry.id.not_in([entry.id for entry in entries]),
            )
        )
    )
    given = {}
    for entry in entries:
        member = min(team, key=lambda m: load[m.id])  # min keeps the first of equals
        given[entry] = member
        load[member.id] += 1
    return given


def _manual(
    campaign: Campaign, entries: list[CampaignEntry], staff: Sequence[StaffUser]
) -> dict[CampaignEntry, StaffUser]:
    if len(staff) != 1:
        raise QueueError("Choose one member of staff to give these households to.")
    _check_can_work(staff, campaign)
    return dict.fromkeys(entries, staff[0])


def _key_adults(
    session: Session, campaign: Campaign, entries: list[CampaignEntry]
) -> dict[CampaignEntry, StaffUser]:
    # Needs Pupil.key_adult_id (see the model change this module's tests describe).
    households = {entry.household_id for entry in entries}
    adults: dict[int, list[int]] = {}
    for household_id, adult_id in session.execute(
        select(Pupil.household_id, Pupil.key_adult_id)
        .where(Pupil.household_id.in_(households), Pupil.key_adult_id.is_not(None))
        .order_by(Pupil.household_id, Pupil.surname, Pupil.forename, Pupil.id)
    ):
        adults.setdefault(household_id, []).append(adult_id)
    staff = {
        member.id: member
        for member in session.scalars(
            select(StaffUser).where(StaffUser.id.in_({a for ids in adults.values() for a in ids}))
        )
        if may_work(member, campaign)
    }
    given = {}
    for entry in entries:
        # Siblings may have different key adults: the first who may work the campaign.
        member = next((staff[a] for a in adults.get(entry.household_id, []) if a in staff), None)
        if member is not None:
            given[entry] = member
    return given


def _check_can_work(staff: Iterable[StaffUser], campaign: Campaign) -> None:
    for member in staff:
        refusal = _work_refusal(member, campaign)
        if refusal is not None:
            raise QueueError(f"{member.name} cannot work this campaign: {_lower_first(refusal)}")


def _release(entry: CampaignEntry, state: EntryState) -> None:
    entry.state = state
    entry.claimed_by_id = None
    entry.claimed_at = None
    entry.call_back_at = None


def _escalate_if_unreached(
    session: Session, entry: CampaignEntry, *, now: datetime, zone: ZoneInfo
) -> None:
    # Only failures since the family was last reached count, in any campaign:
    # a family someone spoke to yesterday is not unreachable.
    last_contact = session.scalar(
        select(func.max(CallAttempt.requested_at)).where(
            CallAttempt.household_id == entry.household_id, CallAttempt.outcome.in_(CONTACT)
        )
    )
    query = select(CallAttempt).where(CallAttempt.entry_id == entry.id)
    if last_contact is not None:
        query = query.where(CallAttempt.requested_at > last_contact)
    failures = [
        attempt
        for attempt in session.scalars(
            query.order_by(CallAttempt.requested_at).execution_options(populate_existing=True)
        )
        if _failed(attempt)
    ]
    days = sorted(
        {
            local
            for local in (attempt.requested_at.astimezone(zone).date() for attempt in failures)
            if local.weekday() in SCHOOL_DAYS
        }
    )
    if len(days) < ESCALATE_AFTER_DAYS:
        return
    _release(entry, EntryState.ESCALATED)
    # The Concern carries the escalation to the DSL and, once handled, what was done.
    concern = Concern(
        household_id=entry.household_id,
        attempt_id=failures[-1].id,
        raised_by_id=None,
        raised_at=now,
        note=(
            f"Not reached on {len(days)} school days ({_dates(days)}) after "
            f"{len(failures)} failed calls in the campaign “{entry.campaign.name}”."
        ),
    )
    session.add(concern)
    session.flush()
    _audit(
        session,
        "entry.escalated",
        actor="system",
        now=now,
        target=entry,
        detail={
            "household_id": entry.household_id,
            "school_days": len(days),
            "failed_calls": len(failures),
            "concern_id": concern.id,
        },
    )


def _failed(attempt: CallAttempt) -> bool:
    if attempt.outcome is not None:
        return attempt.outcome in FAILED
    return attempt.end_reason in FAILED_ENDS


def open_escalation_concerns(session: Session, entry_ids: list[int]) -> dict[int, Concern]:
    """The open Concern the hub raised for each escalated entry (on its last failed call)."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(CallAttempt.entry_id, Concern)
        .join(CallAttempt, Concern.attempt_id == CallAttempt.id)
        .where(
            CallAttempt.entry_id.in_(entry_ids),
            Concern.raised_by_id.is_(None),
            Concern.handled_at.is_(None),
        )
        .order_by(Concern.id)
    )
    return {entry_id: concern for entry_id, concern in rows}


def _audit(
    session: Session,
    action: str,
    *,
    actor: StaffUser | str,
    now: datetime,
    target: Campaign | CampaignEntry | Concern,
    detail: audit.Detail,
) -> None:
    kinds = {Campaign: "campaign", CampaignEntry: "campaign_entry", Concern: "concern"}
    if target.id is None:
        session.flush()
    event = audit.record(
        session,
        action,
        actor=actor,
        target_type=kinds[type(target)],
        target_id=target.id,
        detail=detail,
    )
    event.at = now


def _flags(text: str, vulnerable: bool) -> set[str]:
    flags = {flag.strip().casefold() for flag in text.split(",") if flag.strip()}
    return flags | {VULNERABLE_FLAG} if vulnerable else flags


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to a queue rule")
    return moment.astimezone(UTC)


def _dates(days: list[date]) -> str:
    return ", ".join(f"{day:%a} {day.day} {day:%b}" for day in days)


def _short(text: str) -> str:
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1].rstrip() + "…"


def _households(count: int) -> str:
    return "1 household" if count == 1 else f"{count} households"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
