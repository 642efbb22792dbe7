"""Who called us? The school's recent calls to a number or a parent, and parents' call-backs.

A parent rings the office back on the number they saw. The office types that number
(any UK way of writing it) or the parent's name and sees the school's calls to that
family in the last ``WINDOW_DAYS`` days: when, in which campaign, who called and how
it went. Each family found is listed apart, named by its pupils only; nothing of any
other family is shown, and a full number never is (``hub.numbers.mask``).

Calls in a DSL-only campaign (the vulnerable-children queue) are the DSL's alone, as
everywhere else (``hub.queues.caller_bar``, ``hub.queues.history``); but a parent who
rings back about one must not be told the school never called. So anyone else sees
that the school called, and when, with the campaign, the caller and the outcome
withheld, and is asked to pass the parent to the DSL. A call's notes and any concern's
note are never shown here, to anyone.

The office can note "the parent called back" against a call (``note_call_back``);
whoever made the call sees it on their home page and desk until they mark it seen.
Every lookup and every note is audited: whether a number or a name was searched and
how much was found, never the number or the name itself.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hub import audit, calls
from hub.db import folded, take_write_lock
from hub.exceptions import NumberError, PhoneHubError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    EndReason,
    Guardian,
    Household,
    Outcome,
    ParentCallBack,
    PhoneNumber,
    Pupil,
    Role,
    StaffUser,
)
from hub.numbers import UK_COUNTRY_CODE, Kind, mask, parse

WINDOW_DAYS = 90
MOST_FAMILIES = 10  # a name matching more families than this asks for more of it
SHORTEST_NAME = 2
LONGEST_SEARCH = 100
NOTE_LIMIT = 200
# Said the same whatever the reason (the DSL's own queue, or a concern raised on the
# call), so the office learns nothing about which it is.
RESTRICTED = "Please pass the parent to the designated safeguarding lead"
FORMER_STAFF = "a former member of staff"
NOT_UK = frozenset({Kind.INVALID, Kind.INTERNATIONAL, Kind.SHORT_CODE})


class SearchError(PhoneHubError):
    """What was typed cannot be searched for; the message says what to type instead."""


@dataclass(frozen=True)
class Call:
    """One call the school made to a family, as the person searching may see it."""

    attempt_id: int
    at: datetime
    campaign: str
    caller: str
    how: str
    number: str  # masked: "Siân O'Brien, mobile ••• 123"
    restricted: bool  # in a DSL-only campaign, shown to someone else
    call_backs: Sequence[NotedCallBack]


@dataclass(frozen=True)
class NotedCallBack:
    """A parent's call-back already noted against a call."""

    noted_at: datetime
    noted_by: str
    note: str
    seen_at: datetime | None


@dataclass(frozen=True)
class Family:
    """One household found, named by its pupils, with the school's recent calls to it."""

    household_id: int
    pupils: Sequence[str]
    calls: Sequence[Call]


@dataclass(frozen=True)
class Found:
    """What a search found: whether it was for a number or a name, and the families."""

    kind: str  # "number" or "name"
    families: Sequence[Family]

    @property
    def calls(self) -> int:
        """How many calls were found, across every family."""
        return sum(len(family.calls) for family in self.families)


def search(session: Session, typed: str, *, viewer: StaffUser, now: datetime) -> Found:
    """The school's calls in the window to the number or parent's name ``typed``; audited.

    Raises SearchError with one sentence when ``typed`` cannot be searched for, or when
    a name matches more families than a page should list.
    """
    text = typed.strip()
    if not text:
        raise SearchError("Type the number that called, or the parent's name.")
    if len(text) > LONGEST_SEARCH:
        raise SearchError("That is too long for a number or a name; type less of it.")
    if re.search(r"\d", text):
        kind, households = "number", _by_number(text)
    else:
        if len(text) < SHORTEST_NAME:
            raise SearchError("Type at least two letters of the parent's name.")
        kind, households = "name", _by_name(text)
    families = _families(session, households, viewer=viewer, since=now - timedelta(WINDOW_DAYS))
    if len(families) > MOST_FAMILIES:
        detail: audit.Detail = {"search": kind, "families": len(families), "too_many": True}
        audit.record(session, "who_called.searched", actor=viewer, detail=detail)
        raise SearchError(f"More than {MOST_FAMILIES} families of that name were called; "
                          "type more of the name.")  # fmt: skip
    found = Found(kind=kind, families=families)
    detail = {"search": kind, "families": len(families), "calls": found.calls}
    audit.record(session, "who_called.searched", actor=viewer, detail=detail)
    for family in families:
        audit.record(session, "who_called.shown", actor=viewer, target_type="household",
                     target_id=family.household_id,
                     detail={"calls": len(family.calls)})  # fmt: skip
    return found


def family_calls(session: Session, household_id: int, *, viewer: StaffUser,
                 now: datetime) -> Family | None:  # fmt: skip
    """One household's calls in the window, as a search shows them (not audited here)."""
    families = _families(session, [household_id], viewer=viewer,
                         since=now - timedelta(WINDOW_DAYS))  # fmt: skip
    return families[0] if families else None


def _by_number(text: str) -> Select[tuple[int]]:
    try:
        number = parse(text)
    except NumberError:
        raise SearchError(_NOT_A_UK_NUMBER) from None
    if number.kind in NOT_UK or not number.e164.startswith(f"+{UK_COUNTRY_CODE}"):
        raise SearchError(_NOT_A_UK_NUMBER)
    return (
        select(Guardian.household_id)
        .join(PhoneNumber, PhoneNumber.guardian_id == Guardian.id)
        .where(PhoneNumber.e164 == number.e164)
    )


_NOT_A_UK_NUMBER = "That is not a UK phone number: type it as the parent gave it (07700 900123)."


def _by_name(text: str) -> Select[tuple[int]]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return select(Guardian.household_id).where(
        folded(Guardian.name).like(f"%{escaped.lower()}%", escape="\\")
    )


def _families(session: Session, household_ids: Select[tuple[int]] | list[int], *,
              viewer: StaffUser, since: datetime) -> list[Family]:  # fmt: skip
    """The households among ``household_ids`` that the school called since ``since``."""
    rows = session.execute(
        select(CallAttempt, Campaign.name, Campaign.dsl_only, StaffUser.name)
        .outerjoin(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .outerjoin(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .outerjoin(StaffUser, CallAttempt.staff_id == StaffUser.id)
        .where(
            CallAttempt.household_id.in_(household_ids),
            CallAttempt.requested_at >= since,
            *_family_calls(),
        )
        .order_by(CallAttempt.requested_at.desc(), CallAttempt.id.desc())
    ).all()
    if not rows:
        return []
    attempts = [row[0] for row in rows]
    numbers = _numbers_called(session, attempts)
    noted = _noted(session, [attempt.id for attempt in attempts])
    dsl = viewer.role is Role.DSL
    by_household: dict[int, list[Call]] = defaultdict(list)
    for attempt, campaign, dsl_only, caller in rows:
        # A call whose campaign is gone cannot be shown to be anyone's: treated as the DSL's.
        # So is a call on which a concern was raised: the parent on the phone may be what
        # it is about.
        restricted = not dsl and (
            campaign is None or bool(dsl_only) or attempt.outcome is Outcome.CONCERN
        )
        how = calls.SAID[attempt.outcome] if attempt.outcome else (
            calls.ending_words(attempt.end_reason, attempt.ended_by) or "in progress")  # fmt: skip
        by_household[attempt.household_id].append(
            Call(
                attempt_id=attempt.id,
                at=attempt.requested_at,
                campaign=RESTRICTED if restricted else campaign or "",
                caller="" if restricted else caller or FORMER_STAFF,
                how="" if restricted else how,
                number=numbers.get(attempt.phone_number_id or 0, ""),
                restricted=restricted,
                call_backs=noted.get(attempt.id, ()),
            )
        )
    pupils: dict[int, list[str]] = defaultdict(list)
    for household_id, forename, surname in session.execute(
        select(Pupil.household_id, Pupil.forename, Pupil.surname)
        .where(Pupil.household_id.in_(list(by_household)))
        .order_by(Pupil.surname, Pupil.forename)
    ):
        pupils[household_id].append(f"{forename} {surname}")
    return [Family(household_id=household_id, pupils=pupils[household_id],
                   calls=by_household[household_id])
            for household_id in sorted(by_household)]  # fmt: skip


def _family_calls() -> tuple[ColumnElement[bool], ...]:
    # Practice and test calls are nobody's family; a refused dial never rang.
    return (
        CallAttempt.test_call.is_(False),
        or_(CallAttempt.end_reason.is_(None), CallAttempt.end_reason != EndReason.REFUSED),
    )


def _numbers_called(session: Session, attempts: Sequence[CallAttempt]) -> dict[int, str]:
    ids = {attempt.phone_number_id for attempt in attempts if attempt.phone_number_id}
    if not ids:
        return {}
    return {
        number_id: f"{name}, {mask(e164, label)}"
        for number_id, e164, label, name in session.execute(
            select(PhoneNumber.id, PhoneNumber.e164, PhoneNumber.label, Guardian.name)
            .join(Guardian, PhoneNumber.guardian_id == Guardian.id)
            .where(PhoneNumber.id.in_(ids))
        )
    }


def _noted(session: Session, attempt_ids: list[int]) -> dict[int, list[NotedCallBack]]:
    noted: dict[int, list[NotedCallBack]] = defaultdict(list)
    for row, noted_by in session.execute(
        select(ParentCallBack, StaffUser.name)
        .outerjoin(StaffUser, ParentCallBack.noted_by_id == StaffUser.id)
        .where(ParentCallBack.attempt_id.in_(attempt_ids))
        .order_by(ParentCallBack.noted_at, ParentCallBack.id)
    ):
        noted[row.attempt_id].append(NotedCallBack(noted_at=row.noted_at,
                                                   noted_by=noted_by or FORMER_STAFF,
                                                   note=row.note, seen_at=row.seen_at))  # fmt: skip
    return noted


def note_problem(note: str) -> str | None:
    """One sentence if ``note`` cannot be kept as a call-back's note, else None."""
    if len(note) > NOTE_LIMIT:
        return f"Keep the note to {NOTE_LIMIT} characters; it is a line for the caller."
    return audit.contact_details_in(note)


def note_call_back(session: Session, attempt: CallAttempt, *, noted_by: StaffUser, note: str,
                   form_token: str, now: datetime) -> bool:  # fmt: skip
    """Note that the family rang back about ``attempt``; False if this form already did.

    The form's one-time token is unique in the table, so a double click, or the same
    form sent from two tabs at once, is one note and one audit line.
    """
    take_write_lock(session)  # on SQLite the second click waits, then sees the first's note
    if session.scalar(select(ParentCallBack.id).where(ParentCallBack.form_token == form_token)):
        return False
    try:
        with session.begin_nested():
            session.add(ParentCallBack(attempt_id=attempt.id, noted_by_id=noted_by.id,
                                       noted_at=now, note=note, form_token=form_token))  # fmt: skip
    except IntegrityError:
        return False  # the other click's insert won the race
    audit.record(session, "call_back.noted", actor=noted_by, target_type="call_attempt",
                 target_id=attempt.id, detail={"household_id": attempt.household_id,
                                               "with_note": bool(note)})  # fmt: skip
    return True


@dataclass(frozen=True)
class Waiting:
    """A parent's call-back the caller has not yet marked seen, as their pages show it."""

    id: int
    family: str
    called_at: datetime
    campaign: str
    noted_at: datetime
    noted_by: str
    note: str


def waiting_for(session: Session, caller: StaffUser) -> list[Waiting]:
    """Call-backs about ``caller``'s own calls that they have not yet marked seen, oldest first."""
    rows = session.execute(
        select(
            ParentCallBack,
            CallAttempt.requested_at,
            CallAttempt.household_id,
            Campaign.name,
            StaffUser.name,
        )
        .join(CallAttempt, ParentCallBack.attempt_id == CallAttempt.id)
        .outerjoin(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
        .outerjoin(Campaign, CampaignEntry.campaign_id == Campaign.id)
        .outerjoin(StaffUser, ParentCallBack.noted_by_id == StaffUser.id)
        .where(CallAttempt.staff_id == caller.id, ParentCallBack.seen_at.is_(None))
        .order_by(ParentCallBack.noted_at, ParentCallBack.id)
    ).all()
    names = family_names(session, {row[2] for row in rows if row[2] is not None})
    return [
        Waiting(
            id=row.id,
            family=names.get(household_id or 0, "A family no longer on record"),
            called_at=called_at,
            campaign=campaign or "",
            noted_at=row.noted_at,
            noted_by=noted_by or FORMER_STAFF,
            note=row.note,
        )
        for row, called_at, household_id, campaign, noted_by in rows
    ]


def mark_seen(session: Session, call_back_id: int, *, caller: StaffUser, now: datetime) -> bool:
    """The caller has read the call-back; False if it is not theirs or was already seen."""
    mine = select(CallAttempt.id).where(CallAttempt.staff_id == caller.id)
    result = session.execute(
        update(ParentCallBack)
        .where(
            ParentCallBack.id == call_back_id,
            ParentCallBack.seen_at.is_(None),
            ParentCallBack.attempt_id.in_(mine),
        )
        .values(seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def family_names(session: Session, household_ids: set[int]) -> dict[int, str]:
    """Each household as staff name it: "The Nowak family", or its pupils when names differ."""
    if not household_ids:
        return {}
    households = session.scalars(
        select(Household)
        .where(Household.id.in_(household_ids))
        .options(selectinload(Household.pupils))
    )
    return {household.id: _capitalised(calls.family_name(household)) for household in households}


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def forget_household(session: Session, household_id: int) -> int:
    """A family erased: the office's notes of its call-backs go with it; how many went."""
    attempts = select(CallAttempt.id).where(CallAttempt.household_id == household_id)
    result = session.execute(
        delete(ParentCallBack)
        .where(ParentCallBack.attempt_id.in_(attempts))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
