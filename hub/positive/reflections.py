"""Reflections: a few days after a positive call, six prompts, private to the caller."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session, aliased

from hub import audit
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    Nomination,
    Pupil,
    PupilNote,
    Reflection,
    StaffUser,
)
from hub.positive.habit import positive_calls
from hub.queues import CONTACT, as_utc

REFLECT_WITHIN = timedelta(weeks=6)

WORDS_AIM = (200, 300)


@dataclass(frozen=True)
class Prompt:
    """One of the six questions a reflection answers."""

    key: str
    label: str
    hint: str


PROMPTS = (
    Prompt("age", "The pupil's age", "How old they are, and their year group."),
    Prompt("impressed", "What they did to impress you",
           "Be specific: what they did, when, and why it stood out."),
    Prompt("plan", "What you planned to say, and whether you stuck to it",
           "Did the call go as planned? What did you add or leave out?"),
    Prompt("reaction", "The parent's reaction", "What they said, and how they sounded."),
    Prompt("change", "Any change in the pupil the following week",
           "In lessons, around school, with you."),
    Prompt("wider", "Wider effects you did not expect",
           "On the pupil, their family, their classmates, or you."),
)  # fmt: skip


@dataclass(frozen=True)
class Due:
    """A positive call its caller has not yet reflected on."""

    attempt_id: int
    called_at: datetime
    about: str


def reflections_due(
    session: Session, staff: StaffUser, *, now: datetime, after_days: int
) -> list[Due]:
    """``staff``'s positive calls that reached a family ``after_days`` ago or more, unreflected."""
    now = as_utc(now)
    # The call back to book a meeting the parent asked for is part of the call before it,
    # which is the one reflected on.
    earlier = aliased(CallAttempt)
    follows_a_meeting = (
        select(earlier.meeting_wanted)
        .where(earlier.entry_id == CallAttempt.entry_id,
               earlier.requested_at < CallAttempt.requested_at, earlier.outcome.in_(CONTACT))
        .order_by(earlier.requested_at.desc())
        .limit(1)
        .scalar_subquery()
    )  # fmt: skip
    calls = session.execute(
        select(CallAttempt.id, CallAttempt.requested_at, CallAttempt.household_id,
               CallAttempt.entry_id)
        .outerjoin(Reflection, Reflection.attempt_id == CallAttempt.id)
        .where(
            *positive_calls(staff),
            CallAttempt.outcome.in_(CONTACT),
            CallAttempt.requested_at <= now - timedelta(days=after_days),
            CallAttempt.requested_at >= now - REFLECT_WITHIN,
            CallAttempt.household_id.is_not(None),
            Reflection.id.is_(None),
            func.coalesce(follows_a_meeting, false()) == false(),
        )
        .order_by(CallAttempt.requested_at)
    ).all()  # fmt: skip
    told = _about(session, [(call.id, call.household_id, call.entry_id) for call in calls])
    return [Due(call.id, call.requested_at, told[call.id]) for call in calls]


def about(session: Session, attempt: CallAttempt) -> str:
    """Who a positive call was about: the pupils whose notes were read out, else the family."""
    return _about(session, [(attempt.id, attempt.household_id, attempt.entry_id)])[attempt.id]


def _about(session: Session, calls: list[tuple[int, int | None, int | None]]) -> dict[int, str]:
    """``about`` for each (call, household, entry), in three statements however many calls:
    the home page lists every call due a reflection (one query per call cost it ~20 ms).

    The pupils whose nominations the call read out; else those the office's note for the
    campaign named (as the dashboards count them); else the whole family.
    """
    named: dict[int, list[Pupil]] = defaultdict(list)
    for attempt_id, pupil in session.execute(
        select(Nomination.attempt_id, Pupil)
        .join(Nomination, Nomination.pupil_id == Pupil.id)
        .where(Nomination.attempt_id.in_([call[0] for call in calls]))
        .distinct()
        .order_by(Pupil.forename, Pupil.id)
    ):
        named[attempt_id].append(pupil)
    noted: dict[int, list[Pupil]] = defaultdict(list)
    entries = {entry for attempt_id, _, entry in calls if attempt_id not in named} - {None}
    if entries:
        for entry_id, pupil in session.execute(
            select(PupilNote.entry_id, Pupil)
            .join(PupilNote, PupilNote.pupil_id == Pupil.id)
            .where(PupilNote.entry_id.in_(entries), PupilNote.note != "")
            .order_by(Pupil.surname, Pupil.forename)
        ):
            noted[entry_id].append(pupil)
    families: dict[int, list[Pupil]] = defaultdict(list)
    unnamed = {household for attempt_id, household, entry in calls
               if attempt_id not in named and entry not in noted}  # fmt: skip
    if unnamed - {None}:
        for pupil in session.scalars(
            select(Pupil).where(Pupil.household_id.in_(unnamed - {None}))
            .order_by(Pupil.surname, Pupil.forename)  # as Household.pupils
        ):  # fmt: skip
            families[pupil.household_id].append(pupil)
    return {
        attempt_id: "; ".join(
            f"{p.name}, year {p.year}" if p.year else p.name
            for p in named.get(attempt_id)
            or noted.get(entry or 0)
            or families.get(household or 0, [])
        )[:300]
        for attempt_id, household, entry in calls
    }


def initials(about_text: str) -> str:
    """``about`` with each pupil's name cut to initials, for a document that leaves school."""
    shown = []
    for pupil in filter(None, about_text.split("; ")):
        name, _, year = pupil.partition(", ")
        letters = " ".join(f"{word[0]}." for word in name.split() if word)
        shown.append(f"{letters}, {year}" if year else letters)
    return "; ".join(shown)


def reflection_for(
    session: Session, staff: StaffUser, attempt_id: int, *, now: datetime, after_days: int
) -> Reflection:
    """``staff``'s reflection on one of their positive calls, begun now if it is due."""
    found = session.scalar(select(Reflection).where(Reflection.attempt_id == attempt_id))
    if found is not None:
        if found.author_id != staff.id:
            raise QueueError("A reflection is private to the member of staff who wrote it.")
        return found
    due = {d.attempt_id: d for d in reflections_due(session, staff, now=now,
                                                     after_days=after_days)}  # fmt: skip
    if attempt_id not in due:
        raise QueueError("There is no positive call of yours to reflect on here.")
    attempt = session.get(CallAttempt, attempt_id)
    assert attempt is not None and attempt.household_id is not None  # reflections_due found it
    return Reflection(
        author_id=staff.id,
        household_id=attempt.household_id,
        attempt_id=attempt.id,
        about=due[attempt_id].about,
        called_at=attempt.requested_at,
        age=_ages(session, attempt),
    )


def _ages(session: Session, attempt: CallAttempt) -> str:
    """The pupils' year groups with the ages they span, to start the first answer."""
    years = []
    for pupil in about(session, attempt).split("; "):
        _, _, year = pupil.partition(", year ")
        if year.isdigit() and 1 <= int(year) <= 13:
            years.append(f"Year {year} (age {int(year) + 4}–{int(year) + 5})")
    return "; ".join(years)


def save(
    session: Session,
    reflection: Reflection,
    answers: Mapping[str, str],
    *,
    author: StaffUser,
    now: datetime,
) -> int:
    """Keep ``answers`` (by prompt key) as ``author``'s reflection; its word count."""
    if reflection.author_id != author.id:
        raise QueueError("A reflection is private to the member of staff who wrote it.")
    texts = {prompt.key: answers.get(prompt.key, "").strip() for prompt in PROMPTS}
    for prompt in PROMPTS:
        if audit.NUMBER_LIKE.search(texts[prompt.key]):
            raise QueueError(f"Leave phone numbers out of “{prompt.label}”: a reflection may "
                             "leave school in a portfolio.")  # fmt: skip
    if not any(texts.values()):
        raise QueueError("Write something under at least one of the prompts.")
    for key, text in texts.items():
        setattr(reflection, key, text)
    now = as_utc(now)
    reflection.written_at = reflection.written_at or now
    reflection.skipped_at = None
    session.add(reflection)
    session.flush()
    count = words(reflection)
    audit.record(session, "reflection.written", actor=author, target_type="reflection",
                 target_id=reflection.id)  # fmt: skip
    return count


def skip(session: Session, reflection: Reflection, *, author: StaffUser, now: datetime) -> None:
    """Stop asking ``author`` about this call: not every call needs a reflection."""
    if reflection.author_id != author.id:
        raise QueueError("A reflection is private to the member of staff who wrote it.")
    reflection.skipped_at = as_utc(now)
    session.add(reflection)
    session.flush()


def words(reflection: Reflection) -> int:
    """How many words the reflection's answers hold together."""
    return sum(count_words(getattr(reflection, prompt.key) or "") for prompt in PROMPTS)


def count_words(text: str) -> int:
    """Words as a reader counts them: "didn't" and "well-known" are one each."""
    return len(re.findall(r"[\w’'-]+", text))


def mine(session: Session, staff: StaffUser) -> list[Reflection]:
    """``staff``'s written reflections, newest call first."""
    return list(
        session.scalars(
            select(Reflection)
            .where(Reflection.author_id == staff.id, Reflection.written_at.is_not(None))
            .order_by(Reflection.called_at.desc())
        )
    )
