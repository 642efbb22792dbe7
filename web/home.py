"""Each role's home page: my queue and my week, the school's day, the DSL's waiting list.

Every figure is counted by the database (COUNT with CASE, GROUP BY), so a page is
a handful of statements however many pupils the school has; each figure links to
the list behind it, or the nearest page that has one. Staff see their own calls
only, and no page here holds a phone number. Days and weeks are the school's, in
``[dialplan] timezone``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import ColumnElement, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub import audit, calls, positive, queues, who_called
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    EntryState,
    Household,
    Hub,
    Outcome,
    Role,
    StaffUser,
    utcnow,
)
from web import clock, hub_status
from web import positive as positive_web
from web.db import db

NO_ANSWER = (Outcome.NO_ANSWER, Outcome.VOICEMAIL)
# The lists behind a member of staff's week figures: ?which= on /my-calls.
WHICH = {"made": "Calls made", "reached": "Reached", "not_reached": "Not reached",
         "concerns": "Passed to the DSL as concerns"}  # fmt: skip
# The lists behind the office's figures for today: ?which= on /calls/today.
TODAY = {"made": "Calls made", "reached": "Reached a parent, carer or pupil",
         "no_answer": "No answer or voicemail", "concerns": "Concerns raised"}  # fmt: skip
DONE = (EntryState.DONE, EntryState.ESCALATED)  # finished, as the campaign pages count it


@dataclass(frozen=True)
class Queue:
    """One campaign a member of staff may work, and what is in it for them today."""

    campaign: Campaign
    waiting: int  # could be offered to them now (the desk's "waiting")
    call_backs: int  # promised a call back at some time today


@dataclass(frozen=True)
class Calls:
    """Calls to families over a stretch of time, by how they went."""

    made: int
    reached: int
    not_reached: int
    no_answer: int  # of those not reached: nobody picked up, or a machine did
    concerns: int


@dataclass(frozen=True)
class Progress:
    """How far an open campaign has got."""

    campaign: Campaign
    done: int
    total: int


@dataclass(frozen=True)
class Waiting:
    """An open concern or escalation on the DSL's list, and how long it has waited."""

    concern_id: int
    escalation: bool
    pupils: str
    raised_by: str
    campaign: str
    raised_at: datetime
    waited: str


def page(user: StaffUser) -> str:
    """The home page for ``user``'s role."""
    zone: ZoneInfo = current_app.config["PHONEHUB"].dialplan.zone
    now = utcnow()
    today = now.astimezone(zone).date()
    session = db()
    figures: dict[str, Any] = {"called_back": who_called.waiting_for(session, user)}
    figures["habit"] = positive_web.habit(user)
    if user.role is Role.ADMIN:
        figures.update(_school_today(session, _midnight(today, zone)))
        made, callers = positive.school_week(session, now=clock.now(), zone=zone)
        figures["positive_week"] = {"made": made, "callers": callers}
    else:
        figures.update(_my_queue(session, user, now, today, zone))
    if user.role is Role.DSL:
        waiting = _dsl_list(session, now)
        figures["dsl_list"] = waiting
        escalations = sum(item.escalation for item in waiting)
        audit.record(session, "dsl.viewed", actor=user, detail={
            "page": "home", "escalations": escalations,
            "open_concerns": len(waiting) - escalations,
        })  # fmt: skip
    return render_template("home.html", **figures)


def _my_queue(
    session: Session, user: StaffUser, now: datetime, today: date, zone: ZoneInfo
) -> dict[str, Any]:
    """My campaigns with what waits for me in each, my week's calls, and where I was."""
    campaigns = [
        campaign
        for campaign in session.scalars(
            select(Campaign).where(Campaign.closed_at.is_(None)).order_by(Campaign.name)
        )
        if queues.may_work(user, campaign)
    ]
    ids = [campaign.id for campaign in campaigns]
    call_backs = dict(
        session.execute(
            select(CampaignEntry.campaign_id, func.count())
            .where(
                CampaignEntry.campaign_id.in_(ids),
                CampaignEntry.state == EntryState.CALL_BACK,
                CampaignEntry.call_back_at >= _midnight(today, zone),
                CampaignEntry.call_back_at < _midnight(today + timedelta(days=1), zone),
                or_(CampaignEntry.assignee_id.is_(None), CampaignEntry.assignee_id == user.id),
                *_not_held_for_dsl(user),
            )
            .group_by(CampaignEntry.campaign_id)
        ).all()
    )
    mine = [
        Queue(
            campaign=campaign,
            waiting=queues.waiting_for(session, campaign, user, now=now, zone=zone),
            call_backs=call_backs.get(campaign.id, 0),
        )
        for campaign in campaigns
    ]
    monday = _midnight(today - timedelta(days=today.weekday()), zone)
    week = _calls(session, CallAttempt.staff_id == user.id, CallAttempt.requested_at >= monday)
    return {"queues": mine, "week": week, "working": _working(session, user, mine)}


def _not_held_for_dsl(user: StaffUser) -> list[ColumnElement[bool]]:
    """A family with an open concern is the DSL's alone, in every campaign (hub.queues)."""
    if user.role is Role.DSL:
        return []
    return [
        ~exists().where(
            Concern.household_id == CampaignEntry.household_id, Concern.handled_at.is_(None)
        )
    ]


def _working(session: Session, user: StaffUser, mine: list[Queue]) -> Queue | None:
    """The campaign of my latest claim or call, if I may still work it."""
    by_id = {queue.campaign.id: queue for queue in mine}
    if not by_id:
        return None
    claimed = session.execute(
        select(CampaignEntry.campaign_id, CampaignEntry.claimed_at)
        .where(
            CampaignEntry.claimed_by_id == user.id,
            CampaignEntry.state == EntryState.CLAIMED,
            CampaignEntry.campaign_id.in_(list(by_id)),
            CampaignEntry.claimed_at.is_not(None),
        )
        .order_by(CampaignEntry.claimed_at.desc())
        .limit(1)
    ).first()
    called = session.execute(
        select(CampaignEntry.campaign_id, CallAttempt.requested_at)
        .join(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .where(CallAttempt.staff_id == user.id, CampaignEntry.campaign_id.in_(list(by_id)))
        .order_by(CallAttempt.requested_at.desc())
        .limit(1)
    ).first()
    latest = max((row for row in (claimed, called) if row is not None), key=lambda row: row[1],
                 default=None)  # fmt: skip
    return by_id[latest[0]] if latest is not None else None


@dataclass(frozen=True)
class MyCall:
    """One of a member of staff's own calls, as their list shows it."""

    at: datetime
    family: str
    campaign: str
    how: str
    who: str  # the member of staff, shown on the office's list only


def my_calls(user: StaffUser, which: str) -> str:
    """``user``'s own family calls since Monday (school time), newest first; ``which`` of them."""
    zone: ZoneInfo = current_app.config["PHONEHUB"].dialplan.zone
    today = utcnow().astimezone(zone).date()
    monday = _midnight(today - timedelta(days=today.weekday()), zone)
    calls = _call_list(which, CallAttempt.staff_id == user.id, CallAttempt.requested_at >= monday)
    return render_template("my_calls.html", calls=calls, which=which if which in WHICH else "made",
                           kinds=WHICH, everyone=False)  # fmt: skip


def todays_calls(which: str) -> str:
    """Every family call made today across the school (for the office), ``which`` of them."""
    zone: ZoneInfo = current_app.config["PHONEHUB"].dialplan.zone
    midnight = _midnight(utcnow().astimezone(zone).date(), zone)
    calls = _call_list(which, CallAttempt.requested_at >= midnight)
    return render_template("my_calls.html", calls=calls, which=which if which in TODAY else "made",
                           kinds=TODAY, everyone=True)  # fmt: skip


def _call_list(which: str, *where: ColumnElement[bool]) -> list[MyCall]:
    """Family calls matching ``where`` and the ``which`` filter, newest first, in words."""
    chosen = {"reached": CallAttempt.outcome.in_(queues.CONTACT),
              "not_reached": queues.not_reached(),
              "no_answer": CallAttempt.outcome.in_(NO_ANSWER),
              "concerns": CallAttempt.outcome == Outcome.CONCERN}.get(which)  # fmt: skip
    attempts = (
        db()
        .scalars(
            select(CallAttempt)
            .where(
                *where,
                CallAttempt.entry_id.is_not(None),
                *_FAMILY_CALLS,
                *([chosen] if chosen is not None else []),
            )
            .options(
                selectinload(CallAttempt.entry).selectinload(CampaignEntry.campaign),
                selectinload(CallAttempt.entry)
                .selectinload(CampaignEntry.household)
                .selectinload(Household.pupils),
            )
            .order_by(CallAttempt.requested_at.desc())
        )
        .all()
    )
    staff_ids = {attempt.staff_id for attempt in attempts if attempt.staff_id is not None}
    names = {staff_id: name for staff_id, name in db().execute(
        select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(staff_ids)))}  # fmt: skip
    return [
        MyCall(
            at=attempt.requested_at,
            family=", ".join(p.name for p in attempt.entry.household.pupils),
            campaign=attempt.entry.campaign.name,
            how=calls.SAID[attempt.outcome]
            if attempt.outcome
            else calls.ending_words(attempt.end_reason, attempt.ended_by) or "in progress",
            who=names.get(attempt.staff_id, "a former member of staff"),
        )
        for attempt in attempts
        if attempt.entry is not None
    ]


# Practice and test calls are not families; a refused dial never rang.
_FAMILY_CALLS = (
    CallAttempt.test_call.is_(False),
    CallAttempt.end_reason.is_distinct_from(EndReason.REFUSED),
)


def _calls(session: Session, *where: ColumnElement[bool]) -> Calls:
    """Family calls matching ``where``, counted by how they went, in one statement."""
    failed = queues.not_reached()
    made, reached, not_reached, no_answer, concerns = session.execute(
        select(
            func.count(),
            func.count(case((CallAttempt.outcome.in_(queues.CONTACT), 1))),
            func.count(case((failed, 1))),
            func.count(case((CallAttempt.outcome.in_(NO_ANSWER), 1))),
            func.count(case((CallAttempt.outcome == Outcome.CONCERN, 1))),
        ).where(*where, *_FAMILY_CALLS)
    ).one()
    return Calls(made=made, reached=reached, not_reached=not_reached, no_answer=no_answer,
                 concerns=concerns)  # fmt: skip


def _school_today(session: Session, midnight: datetime) -> dict[str, Any]:
    """Today's calls across the school, every open campaign's progress, and the hubs."""
    calls = _calls(session, CallAttempt.requested_at >= midnight)
    # Raised by staff on a call; the hub's own escalations are not concerns anyone raised.
    concerns = (
        session.scalar(
            select(func.count()).where(
                Concern.raised_at >= midnight, Concern.raised_by_id.is_not(None)
            )
        )
        or 0
    )
    # The vulnerable-children queue is the DSL's alone, as on the campaigns page.
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.closed_at.is_(None), Campaign.dsl_only.is_(False))
        .order_by(Campaign.name)
    ).all()
    counts: dict[int, list[int]] = {campaign.id: [0, 0] for campaign in campaigns}
    for campaign_id, done, total in session.execute(
        select(
            CampaignEntry.campaign_id,
            func.count(case((CampaignEntry.state.in_(DONE), 1))),
            func.count(),
        )
        .where(CampaignEntry.campaign_id.in_(list(counts)))
        .group_by(CampaignEntry.campaign_id)
    ):
        counts[campaign_id] = [done, total]
    line, problem = hub_status.line_state(current_app.config["PHONEHUB"])
    return {
        "today": calls,
        "concerns_today": concerns,
        "progress": [Progress(c, *counts[c.id]) for c in campaigns],
        "line": line,
        "line_problem": problem,
        "hubs": session.scalars(select(Hub).order_by(Hub.name)).all(),
        "stale_before": utcnow() - hub_status.STALE,
    }


def _dsl_list(session: Session, now: datetime) -> list[Waiting]:
    """Every open concern and escalation, oldest first, with how long it has waited."""
    rows = session.execute(
        select(Concern, StaffUser.name, Campaign.name)
        .outerjoin(StaffUser, Concern.raised_by_id == StaffUser.id)
        .outerjoin(CallAttempt, Concern.attempt_id == CallAttempt.id)
        .outerjoin(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .outerjoin(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .where(Concern.handled_at.is_(None))
        .order_by(Concern.raised_at, Concern.id)
    ).all()
    households = {
        household.id: household
        for household in session.scalars(
            select(Household)
            .where(Household.id.in_({c.household_id for c, _, _ in rows if c.household_id}))
            .options(selectinload(Household.pupils))
        )
    }
    waiting = []
    for concern, raised_by, campaign in rows:
        household = households.get(concern.household_id or 0)
        pupils = ", ".join(p.name for p in household.pupils) if household else ""
        escalation = concern.raised_by_id is None
        waiting.append(
            Waiting(
                concern_id=concern.id,
                escalation=escalation,
                pupils=pupils or "A family no longer on record",
                raised_by="the hub" if escalation else raised_by or "a former member of staff",
                campaign=campaign or "",
                raised_at=concern.raised_at,
                waited=waited(now - concern.raised_at),
            )
        )
    return waiting


def waited(span: timedelta) -> str:
    """How long something has waited, in the largest whole unit: "3 days", "5 hours"."""
    minutes = max(int(span.total_seconds() // 60), 0)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "under a minute"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of ``day`` in the school's time zone (23 or 25 hours from the next one)."""
    return datetime.combine(day, time(0), tzinfo=zone)
