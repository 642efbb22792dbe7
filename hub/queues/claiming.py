"""Claiming the next family to call, and letting claims go when a call never happens."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from hub.db import take_write_lock
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EntryState,
    Guardian,
    Pupil,
    Role,
    StaffUser,
)
from hub.preferred_times import PreferredTimes, understood
from hub.queues.outcomes import _escalate_if_unreached
from hub.queues.rules import (
    SCHOOL_ZONE,
    _audit,
    _cadence_overridden,
    _held_for_dsl,
    _open_concern,
    _reached_since,
    _release,
    _tried_since,
    _work_refusal,
    as_utc,
    may_work,
)
from hub.school_days import DEFAULT_NATION


def outside_their_times(
    session: Session, campaign: Campaign, now: datetime, zone: ZoneInfo = SCHOOL_ZONE
) -> set[int]:
    """The waiting households in ``campaign`` whose preferred call times are not now.

    A household waits only when every guardian who may be called gave times the hub
    understands, and none of them is now; a guardian with no times, or times it does
    not understand, can be called at any time.
    """
    with_times = (
        select(Guardian.household_id)
        .join(CampaignEntry, CampaignEntry.household_id == Guardian.household_id)
        .where(CampaignEntry.campaign_id == campaign.id,
               CampaignEntry.state == EntryState.WAITING, Guardian.preferred_times != "")
    )  # fmt: skip
    rows = session.execute(
        select(Guardian.household_id, Guardian.preferred_times).where(
            Guardian.household_id.in_(with_times), Guardian.do_not_contact.is_(False))
    ).all()  # fmt: skip
    local = now.astimezone(zone).replace(tzinfo=None)
    callable_now: dict[int, bool] = {}
    for household_id, text in rows:
        times = _understood(text)
        allows = times is None or times.allows(local)
        callable_now[household_id] = callable_now.get(household_id, False) or allows
    return {household_id for household_id, now_ok in callable_now.items() if not now_ok}


@lru_cache(maxsize=1024)
def _understood(text: str) -> PreferredTimes | None:
    return understood(text)


# A family claimed but untouched this long (no card shown, no call) goes back to the
# queue: long enough for a long welfare call, short enough to be called today.
ABANDONED_CLAIM = timedelta(hours=1)
# A claim shown again is marked as still held at most this often.
CLAIM_REFRESH = timedelta(minutes=5)


def claim_next(
    session: Session,
    campaign: Campaign,
    staff: StaffUser,
    *,
    now: datetime,
    zone: ZoneInfo = SCHOOL_ZONE,
    wanted: int | None = None,
) -> CampaignEntry | None:
    """The household ``staff`` should call next, claimed for them; None if nobody is due.

    A member of staff who already holds a claim in this campaign gets it back,
    so a reloaded page or a second tab never leaves a family half-called, unless
    a concern raised on the family since has put it in the DSL's hands. ``wanted``
    (the entry a link named: "Call Ali's family now") is claimed instead when it may be
    offered to them now, and any other claim of theirs here goes back to the queue.
    """
    now = as_utc(now)
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
    if wanted is not None and (held is None or held.id != wanted):
        chosen = session.scalar(
            select(CampaignEntry)
            .where(*_offerable(session, campaign, staff, now, zone), CampaignEntry.id == wanted)
            .with_for_update(skip_locked=True, of=CampaignEntry)
            .execution_options(populate_existing=True)
        )
        if chosen is not None:
            if held is not None:
                release_interrupted(session, held, staff.id, now=now, reason="another chosen")
            return _claimed(session, campaign, staff, chosen, now)
    if held is not None:
        # Still working on it, so the stale-claim sweep leaves it alone: written only
        # when it has aged a little, not on every look at the card (each a write to
        # the SD card, bench/disk.py), as an hour's sweep needs no finer time.
        if held.claimed_at is None or now - as_utc(held.claimed_at) >= CLAIM_REFRESH:
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
        .where(*_offerable(session, campaign, staff, now, zone))
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
    return _claimed(session, campaign, staff, entry, now)


def _claimed(
    session: Session, campaign: Campaign, staff: StaffUser, entry: CampaignEntry, now: datetime
) -> CampaignEntry:
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


def release_stale_claims(
    session: Session,
    *,
    older_than: timedelta,
    now: datetime,
    zone: ZoneInfo = SCHOOL_ZONE,
    nation: str = DEFAULT_NATION,
) -> int:
    """Put back in the queue claims untouched for ``older_than``; returns how many."""
    now = as_utc(now)
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
        _escalate_if_unreached(session, entry, now=now, zone=zone, nation=nation)
    session.flush()
    return len(stale)


def release_interrupted(
    session: Session,
    entry: CampaignEntry,
    caller_id: int | None,
    *,
    now: datetime,
    reason: str = "interrupted",
) -> None:
    """Put back a family whose call the hub lost (power cut, kill): nobody knows how it went.

    Only the caller's own claim (or one nobody holds) is let go: the stale sweep may
    have given the family to a colleague since. A family promised a call back keeps
    its time, so it is still offered first; any other goes back to waiting.
    """
    if entry.state is not EntryState.CLAIMED or entry.claimed_by_id not in (None, caller_id):
        return
    promised = entry.call_back_at
    if promised is not None:
        _release(entry, EntryState.CALL_BACK)
        entry.call_back_at = promised
    else:
        _release(entry, EntryState.WAITING)
    _audit(session, "entry.released", actor="system", now=as_utc(now), target=entry,
           detail={"reason": reason, "claimed_by_id": caller_id})  # fmt: skip


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
            .where(*_offerable(session, campaign, staff, as_utc(now), zone))
        )
        or 0
    )


def _offerable(
    session: Session, campaign: Campaign, staff: StaffUser, now: datetime, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    today = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    later = outside_their_times(session, campaign, now, zone)
    conditions = [
        CampaignEntry.campaign_id == campaign.id,
        or_(
            # A family tried today and not reached waits for tomorrow, so the
            # next card after a voicemail is never the same family again.
            and_(
                CampaignEntry.state == EntryState.WAITING,
                ~_tried_since(today),
                # A family that asked to be called at certain times waits for them.
                CampaignEntry.household_id.not_in(later) if later else true(),
            ),
            and_(CampaignEntry.state == EntryState.CALL_BACK, CampaignEntry.call_back_at <= now),
        ),
        or_(CampaignEntry.assignee_id.is_(None), CampaignEntry.assignee_id == staff.id),
        ~_reached_since(now - timedelta(days=campaign.cadence_days), campaign)
        | _cadence_overridden(),
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
