"""Everything the hub holds about one family, for a subject access request.

``export`` gathers it all — pupils, guardians and their numbers, the family's place
in each campaign with the notes about each pupil, every call with its outcome and
notes (and the office's notes of the family ringing back about one), the recordings,
and the audit log's lines about the family — into one zip:
``summary.html`` for a person to read or print, ``family.json`` for a machine, and
``recordings/``. Safeguarding concerns are counted, not copied: what is disclosed
from them is the DSL's decision (docs/data-protection.md). The export itself is
audited, with who made it and nothing about the family.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub import audit
from hub.models import (
    AuditEvent,
    CallAttempt,
    CampaignEntry,
    Concern,
    Guardian,
    Household,
    Nomination,
    ParentCallBack,
    Reflection,
    StaffUser,
    utcnow,
)
from hub.numbers import format_for_people

FORMAT = "school-phone-hub/family-export/1"


@dataclass(frozen=True)
class Export:
    """A family's data as a zip, and the name to save it under."""

    filename: str
    content: bytes


def family_data(session: Session, household: Household, *, recordings: Path, zone: ZoneInfo,
                action_words: Callable[[str], str] = str) -> dict[str, Any]:  # fmt: skip
    """Everything held about ``household``, as plain JSON-ready values."""
    staff = {s.id: s.name for s in session.scalars(select(StaffUser))}
    pupils = {p.id: p for p in household.pupils}
    entries = session.scalars(
        select(CampaignEntry)
        .where(CampaignEntry.household_id == household.id)
        .options(selectinload(CampaignEntry.campaign), selectinload(CampaignEntry.pupil_notes))
        .order_by(CampaignEntry.id)
    ).all()
    attempts = session.scalars(
        select(CallAttempt)
        .where(CallAttempt.household_id == household.id)
        .order_by(CallAttempt.requested_at)
    ).all()
    numbers = {n.id: (g, n) for g in household.guardians for n in g.numbers}
    called_back: dict[int, list[ParentCallBack]] = {}
    for row in session.scalars(
        select(ParentCallBack)
        .where(ParentCallBack.attempt_id.in_([a.id for a in attempts]))
        .order_by(ParentCallBack.noted_at, ParentCallBack.id)
    ):
        called_back.setdefault(row.attempt_id, []).append(row)
    concerns = session.scalar(
        select(func.count()).select_from(Concern).where(Concern.household_id == household.id)
    )
    nominations: dict[int, list[Nomination]] = {}
    for nomination in session.scalars(
        select(Nomination)
        .where(Nomination.entry_id.in_([e.id for e in entries]))
        .order_by(Nomination.created_at, Nomination.id)
    ):
        nominations.setdefault(nomination.entry_id, []).append(nomination)
    reflections = session.scalar(
        select(func.count()).select_from(Reflection).where(Reflection.household_id == household.id)
    )
    return {
        "format": FORMAT,
        "exported_at": _when(utcnow(), zone),
        "household": {
            "id": household.id,
            "first_imported": _when(household.created_at, zone),
            "last_changed": _when(household.updated_at, zone),
        },
        "pupils": [
            {
                "mis_id": p.mis_id,
                "forename": p.forename,
                "surname": p.surname,
                "year": p.year,
                "form": p.form,
                "home_language": p.home_language,
                "vulnerable": p.vulnerable,
                "flags": p.flags,
                "key_adult": staff.get(p.key_adult_id or 0),
            }
            for p in pupils.values()
        ],
        "guardians": [
            {
                "name": g.name,
                "mis_contact_id": g.mis_contact_id,
                "do_not_contact": g.do_not_contact,
                "preferred_call_times": g.preferred_times,
                "pupils": [
                    {
                        "pupil": pupils[c.pupil_id].name,
                        "relationship": c.relationship_,
                        "priority": c.priority,
                        "parental_responsibility": c.parental_responsibility,
                    }
                    for c in g.contacts
                    if c.pupil_id in pupils
                ],
                "numbers": [
                    {
                        "label": n.label,
                        "number": format_for_people(n.e164),
                        "e164": n.e164,
                        "kind": n.kind,
                        "do_not_call": n.do_not_contact,
                        "held_since": _when(n.created_at, zone),
                    }
                    for n in g.numbers
                ],
            }
            for g in household.guardians
        ],
        "campaigns": [
            {
                "campaign": e.campaign.name,
                "purpose": e.campaign.purpose.value,
                "state": e.state.value,
                "call_back_at": _when(e.call_back_at, zone),
                "notes_about_pupils": [
                    {"pupil": pupils[n.pupil_id].name, "note": n.note}
                    for n in e.pupil_notes
                    if n.note and n.pupil_id in pupils
                ],
                "nominations": [
                    {
                        "pupil": pupils[n.pupil_id].name,
                        "note": n.note,
                        "nominated_by": staff.get(n.nominated_by_id or 0),
                        "nominated_at": _when(n.created_at, zone),
                        "told_to_the_family": _when(n.delivered_at, zone),
                    }
                    for n in nominations.get(e.id, [])
                    if n.pupil_id in pupils
                ],
                "callers_plan": e.plan,
            }
            for e in entries
        ],
        "calls": [
            _call(a, staff, numbers, recordings, zone, called_back.get(a.id, [])) for a in attempts
        ],
        "reflections": {
            "count": reflections,
            "note": "Reflections are staff's private notes on a positive call home, written "
            "for their own professional development; the school decides with each author "
            "what of them is disclosed.",
        },
        "safeguarding_concerns": {
            "count": concerns,
            "note": "Concerns are safeguarding records held by the designated safeguarding "
            "lead, who decides what of them is disclosed.",
        },
        "audit_log": [
            {
                "at": _when(e.at, zone),
                "who": staff.get(e.actor_id or 0, e.actor),
                "action": action_words(e.action),
            }
            for e in _audit_lines(
                session, household.id, [e.id for e in entries], [a.id for a in attempts]
            )
        ],
    }


def export(session: Session, household_id: int, *, actor: StaffUser | str, data_dir: Path,
           zone: ZoneInfo, action_words: Callable[[str], str] = str) -> Export | None:  # fmt: skip
    """The family's zip (None if there is no such household); the export is audited.

    ``action_words`` says each audit line's action in words ("viewed the phone numbers of").
    """
    household = session.get(Household, household_id)
    if household is None:
        return None
    recordings = Path(data_dir) / "recordings"
    data = family_data(session, household, recordings=recordings, zone=zone,
                       action_words=action_words)  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.html", _summary(data))
        archive.writestr("family.json", json.dumps(data, indent=2, ensure_ascii=False))
        for call in data["calls"]:
            if call["recording"]:
                archive.write(recordings / call["recording"], f"recordings/{call['recording']}")
    recorded = sum(1 for call in data["calls"] if call["recording"])
    audit.record(session, "household.exported", actor=actor, target_type="household",
                 target_id=household.id,
                 detail={"calls": len(data["calls"]), "recordings": recorded})  # fmt: skip
    stamp = utcnow().astimezone(zone).strftime("%Y-%m-%d")
    return Export(f"household-{household.id}-{stamp}.zip", buffer.getvalue())


def _call(attempt: CallAttempt, staff: dict[int, str],
          numbers: dict[int, tuple[Guardian, Any]], recordings: Path,
          zone: ZoneInfo, called_back: list[ParentCallBack]) -> dict[str, Any]:  # fmt: skip
    guardian_number = numbers.get(attempt.phone_number_id or 0)
    recording = None
    if attempt.recording_path and (recordings / Path(attempt.recording_path).name).is_file():
        recording = Path(attempt.recording_path).name
    return {
        "requested_at": _when(attempt.requested_at, zone),
        "rang_at": _when(attempt.ringing_at, zone),
        "answered_at": _when(attempt.answered_at, zone),
        "ended_at": _when(attempt.ended_at, zone),
        "how_it_ended": attempt.end_reason.value if attempt.end_reason else None,
        "outcome": attempt.outcome.value if attempt.outcome else None,
        "parent_wants_a_meeting": attempt.meeting_wanted,
        "notes": attempt.notes,
        "called_by": staff.get(attempt.staff_id or 0),
        "number_called": (
            f"{guardian_number[0].name}, {guardian_number[1].label}" if guardian_number else None
        ),
        "recording": recording,
        "parent_called_back": [
            {
                "noted_at": _when(row.noted_at, zone),
                "noted_by": staff.get(row.noted_by_id or 0),
                "note": row.note,
                "seen_by_caller_at": _when(row.seen_at, zone),
            }
            for row in called_back
        ],
    }


def _audit_lines(session: Session, household_id: int, entry_ids: list[int],
                 attempt_ids: list[int]) -> list[AuditEvent]:  # fmt: skip
    about = [(AuditEvent.target_type == "household") & (AuditEvent.target_id == household_id)]
    if entry_ids:
        about.append((AuditEvent.target_type == "campaign_entry")
                     & AuditEvent.target_id.in_(entry_ids))  # fmt: skip
    if attempt_ids:
        about.append((AuditEvent.target_type == "call_attempt")
                     & AuditEvent.target_id.in_(attempt_ids))  # fmt: skip
    return list(session.scalars(select(AuditEvent).where(or_(*about)).order_by(AuditEvent.at)))


def _when(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


_TEMPLATES = Environment(loader=PackageLoader("hub", "templates"),
                         autoescape=select_autoescape(default=True))  # fmt: skip


def _summary(data: dict[str, Any]) -> str:
    return _TEMPLATES.get_template("family_summary.html").render(data=data)
