"""An audit line in words: who (by name), what happened, and about whom.

The log itself stores ids, never names (a family's name must not outlive its
deletion in an append-only table), so the page looks the names up as it shows
the lines: the member of staff's name, "the Nowak family", "Kai Fitzwilliam",
"campaign Autumn welfare calls". A record that has since been deleted reads
"a family no longer on record". Nothing here ever reads a phone number: a
number is named by its guardian and its label ("Farah Nowak's mobile").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import languages
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    Guardian,
    Household,
    Hub,
    PhoneNumber,
    Pupil,
    StaffUser,
)

# What each action the hub writes means, as the admin reads it after the name.
ACTIONS = {
    "call.dialled": "called",
    "call.test_dialled": "made a test call",
    "call.practice": "made a practice call",
    "call.own_phone_code": "had the hub ring their own phone with a code",
    "own_phone.set": "gave their own phone's number",
    "own_phone.confirmed": "confirmed their own phone with its code",
    "own_phone.removed": "removed their own phone",
    "call.interpreter_added": "added the interpreter to a call",
    "call.interpreter_dropped": "dropped the interpreter from a call",
    "call.failed": "could not place a call",
    "call.interrupted": "call cut off when the line stopped",
    "dial.refused": "call stopped by the dial guard",
    "household.viewed": "viewed the phone numbers of",
    "household.edited": "changed do-not-call marks or call times of",
    "household.merged": "merged two records of",
    "household.exported": "exported everything held about",
    "household.erased": "erased",
    "number.do_not_call": "marked a number not to be called, from a concern, for",
    "guardian.removed": "removed a contact no longer in the MIS export:",
    "people.imported": "imported the MIS export",
    "numbers.purged": "deleted old phone numbers",
    "recordings.purged": "deleted old call recordings",
    "campaign.created": "started",
    "campaign.closed": "closed",
    "campaign.reopened": "reopened",
    "campaign.later_hours": "changed the later calling hours of",
    "campaign.households_added": "added families to",
    "campaign.assigned": "shared out the families of",
    "entry.claimed": "took from the queue",
    "entry.released": "put back in the queue",
    "entry.outcome": "recorded how the call went with",
    "entry.note_saved": "saved the note for the caller about",
    "entry.cadence_overridden": "allowed an early call to",
    "entry.escalated": "sent to the DSL as not reached:",
    "entry.escalation_handled": "handled the escalation of",
    "concern.raised": "raised",
    "concern.viewed": "read",
    "concern.handled": "marked handled",
    "concern.exported": "exported",
    "concern.erased": "erased",
    "calendar.imported": "imported the school calendar",
    "spoken_message.saved": "saved the spoken messages in",
    "spoken_message.removed": "removed the spoken messages in",
    "dsl.viewed": "opened the safeguarding page",
    "who_called.searched": "looked up the school's calls to a parent ringing back",
    "who_called.shown": "was shown the school's recent calls to",
    "call_back.noted": "noted that the parent called back about",
    "nomination.made": "nominated a pupil for a positive call home to",
    "pupils.searched": "searched the pupils, to nominate one for a positive call home",
    "reflection.written": "wrote a reflection on one of their positive calls",
    "reflection.exported": "exported a reflection on one of their positive calls",
    "insights.viewed": "looked at the figures on what the school learns",
    "insights.exported": "downloaded a table of what the school learns",
    "user.created": "created the account of",
    "user.updated": "changed the role or calling of",
    "user.disabled": "deactivated the account of",
    "user.signed_in": "signed in",
    "user.signed_out": "signed out",
    "user.invite_accepted": "accepted their invite and set a password",
    "user.password_changed": "changed their password",
    "user.password_reset": "reset the password of",
    "user.second_factor_enabled": "turned on two-step sign-in",
    "user.second_factor_removed": "turned off two-step sign-in for",
    "user.recovery_code_used": "signed in with a recovery code",
}
# Lines whose record is the member of staff who did it: naming them twice says nothing.
ABOUT_THEMSELVES = {"user.signed_in", "user.signed_out", "user.invite_accepted",
                    "user.password_changed", "user.second_factor_enabled",
                    "user.recovery_code_used", "own_phone.set", "own_phone.confirmed",
                    "own_phone.removed", "reflection.written",
                    "reflection.exported"}  # fmt: skip
# Who did it, when it was not a member of staff.
ACTORS = {
    "system": "The hub",
    "line": "The phone line",
    "maintenance": "Nightly clean-up",
    "import": "MIS import",
    "cli": "Command line (IT)",
    "first-run": "First-run setup",
    "demo": "Demo set-up",
}
# Detail keys that only repeat the record, or hold an id nobody reads, or an
# email address (the member of staff is named instead).
HIDDEN_DETAIL = {"attempt", "attempt_id", "concern_id", "entry_id", "email", "household_id",
                 "merged_household", "number_id", "phone_number"}  # fmt: skip
GONE_FAMILY = "a family no longer on record"
Row = TypeVar("Row")
_EDITED = re.compile(r"(guardian|number record) (\d+)")


def action_words(action: str) -> str:
    """What ``action`` means in plain words; an unknown one still reads as words."""
    if action in ACTIONS:
        return ACTIONS[action]
    return action.replace(".", " ").replace("_", " ")


@dataclass(frozen=True)
class Line:
    """One audit line as the page shows it."""

    at: datetime
    who: str
    what: str
    about: str
    # The record filter that shows every line about the same record ("household:12").
    record: str
    details: list[str] = field(default_factory=list)


class _Names:
    """Every name a page of lines needs, fetched in a few queries."""

    def __init__(self, session: Session, events: Sequence[AuditEvent]) -> None:
        self.session = session
        wanted: dict[str, set[int]] = defaultdict(set)
        for event in events:
            if event.target_id is not None:
                wanted[event.target_type].add(event.target_id)
            if event.actor_id is not None:
                wanted["staff_user"].add(event.actor_id)
            if event.hub_id is not None:
                wanted["hub"].add(event.hub_id)
            for key in ("campaign", "campaign_id"):
                if isinstance(event.detail.get(key), int):
                    wanted["campaign"].add(event.detail[key])
            for key in ("claimed_by_id", "caller_id"):
                if isinstance(event.detail.get(key), int):
                    wanted["staff_user"].add(event.detail[key])
            if isinstance(event.detail.get("pupil_id"), int):
                wanted["pupil"].add(event.detail["pupil_id"])
            if event.action == "household.edited":
                for kind, number in _EDITED.findall(str(event.detail.get("changed", ""))):
                    wanted["guardian" if kind == "guardian" else "phone_number"].add(int(number))
        self.entries = self._rows(CampaignEntry, wanted["campaign_entry"])
        self.concerns = self._rows(Concern, wanted["concern"])
        self.attempts = self._rows(CallAttempt, wanted["call_attempt"])
        self.numbers = self._rows(PhoneNumber, wanted["phone_number"])
        wanted["campaign"] |= {entry.campaign_id for entry in self.entries.values()}
        wanted["guardian"] |= {number.guardian_id for number in self.numbers.values()}
        self.campaigns = self._rows(Campaign, wanted["campaign"])
        self.staff = self._rows(StaffUser, wanted["staff_user"])
        self.guardians = self._rows(Guardian, wanted["guardian"])
        self.pupils = self._rows(Pupil, wanted["pupil"])
        self.hubs = self._rows(Hub, wanted["hub"])
        households = set(wanted["household"])
        for rows in (self.entries, self.concerns, self.attempts):
            households |= {row.household_id for row in rows.values() if row.household_id}
        self.families = self._families(households)

    def _rows(self, model: type[Row], ids: Iterable[int]) -> dict[int, Row]:
        ids = set(ids)
        if not ids:
            return {}
        table: Any = model
        return {row.id: row for row in self.session.scalars(select(table).where(table.id.in_(ids)))}

    def _families(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        pupils: dict[int, list[tuple[str, str]]] = defaultdict(list)
        query = (
            select(Pupil.household_id, Pupil.forename, Pupil.surname)
            .where(Pupil.household_id.in_(ids))
            .order_by(Pupil.id)
        )
        for household_id, forename, surname in self.session.execute(query):
            pupils[household_id].append((forename, surname))
        # A deleted (or merged) household is missing here and reads as no longer on record.
        there = self.session.scalars(select(Household.id).where(Household.id.in_(ids)))
        return {household_id: _family(pupils[household_id]) for household_id in there}

    def family(self, household_id: int | None) -> str:
        return self.families.get(household_id, GONE_FAMILY) if household_id else GONE_FAMILY

    def campaign(self, campaign_id: object) -> str:
        found = self.campaigns.get(campaign_id) if isinstance(campaign_id, int) else None
        return f"campaign {found.name}" if found else "a campaign no longer on record"

    def person(self, staff_id: object) -> str:
        found = self.staff.get(staff_id) if isinstance(staff_id, int) else None
        return found.name if found else "an account no longer on record"


def _family(pupils: list[tuple[str, str]]) -> str:
    if not pupils:
        return "a family with no pupils on roll"
    surnames = list(dict.fromkeys(surname for _, surname in pupils))
    if len(surnames) == 1:
        return f"the {surnames[0]} family"
    names = [f"{forename} {surname}" for forename, surname in pupils]
    return "the family of " + ", ".join(names[:-1]) + " and " + names[-1]


def _about(event: AuditEvent, names: _Names) -> str:
    kind, key = event.target_type, event.target_id
    if not kind or event.action in ABOUT_THEMSELVES:
        return ""
    if kind == "household":
        return names.family(key)
    if kind == "campaign":
        return names.campaign(key)
    if kind == "staff_user":
        return names.person(key)
    if kind == "campaign_entry":
        entry = names.entries.get(key)
        if entry is None:
            return GONE_FAMILY
        return f"{names.family(entry.household_id)} ({names.campaign(entry.campaign_id)})"
    if kind == "concern":
        concern = names.concerns.get(key)
        family = names.family(concern.household_id if concern else None)
        return f"a safeguarding concern about {family}"
    if kind == "call_attempt":
        attempt = names.attempts.get(key)
        if attempt is not None and attempt.household_id is None:
            return "" if attempt.test_call or event.action == "call.practice" else "a call"
        return f"a call to {names.family(attempt.household_id if attempt else None)}"
    if kind == "guardian":
        guardian = names.guardians.get(key)
        return guardian.name if guardian else "a contact no longer on record"
    if kind == "pupil":
        pupil = names.pupils.get(key)
        return pupil.name if pupil else "a pupil no longer on record"
    if kind == "language":
        code = str(event.detail.get("language", ""))
        return languages.shown(code) or "a language"
    return kind.replace("_", " ")


def _details(event: AuditEvent, names: _Names) -> list[str]:
    details = []
    if event.hub_id is not None and event.hub_id in names.hubs:
        details.append(f"on hub {names.hubs[event.hub_id].name}")
    for key, value in event.detail.items():
        if key in HIDDEN_DETAIL or value is None:
            continue
        if key in ("campaign", "campaign_id"):
            if event.target_type != "campaign_entry":  # already named with the family
                details.append(names.campaign(value))
        elif key == "claimed_by_id":
            details.append(f"held by {names.person(value)}")
        elif key == "caller_id":
            details.append(f"to be called by {names.person(value)}")
        elif key == "pupil_id":
            pupil = names.pupils.get(value) if isinstance(value, int) else None
            details.append(f"for {pupil.name if pupil else 'a pupil no longer on record'}")
        elif key == "joined":
            if value:
                details.append("on a brother's or sister's call already waiting")
        elif key == "changed" and event.action == "household.edited":
            details.append("changed: " + _edited(str(value), names))
        elif key == "older_than_days":
            details.append(f"older than {value} days")
        elif isinstance(value, bool):
            details.append(f"{_words(key)}: {'yes' if value else 'no'}")
        else:
            details.append(f"{_words(key)}: {_words(str(value))}")
    return details


def _edited(changed: str, names: _Names) -> str:
    def name(kind: str, key: str) -> str:
        if kind == "guardian":
            guardian = names.guardians.get(int(key))
            return guardian.name if guardian else "a contact no longer on record"
        number = names.numbers.get(int(key))
        if number is None:
            return "a number no longer on record"
        guardian = names.guardians.get(number.guardian_id)
        return f"{guardian.name}'s {number.label}" if guardian else f"a {number.label} number"

    return ", ".join(name(kind, key) for kind, key in _EDITED.findall(changed))


def _words(text: str) -> str:
    return text.replace("_", " ")


def describe(session: Session, events: Sequence[AuditEvent]) -> list[Line]:
    """The lines of ``events`` in words, looked up in a few queries."""
    names = _Names(session, events)
    lines = []
    for event in events:
        if event.actor_id is not None:
            who = names.person(event.actor_id)
        elif "@" in event.actor:
            who = "an account no longer on record"
        else:
            who = ACTORS.get(event.actor, event.actor)
        record = f"{event.target_type}:{event.target_id}" if event.target_type else ""
        about = _about(event, names)
        lines.append(
            Line(
                at=event.at,
                who=who,
                what=action_words(event.action),
                about=about,
                record=record if event.target_id is not None and about else "",
                details=_details(event, names),
            )
        )
    return lines
