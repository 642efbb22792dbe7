"""One concern as a CSV row, for the school's own safeguarding system.

The file leaves the hub, so nothing in it is a phone number (a note typed on a call may
hold one: it is replaced), and no cell starts like a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from hub import audit, queues
from hub.models import Concern, Pupil

REDACTED = "[number removed]"
# A spreadsheet runs a cell that starts like a formula; an exported note must not.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "concern id",
    "raised at",
    "raised by",
    "pupils",
    "pupil MIS ids",
    "pupil forms",
    "note",
    "handled at",
    "handled by",
    "handled note",
    "contact history",
)


def concern_csv(
    found: Concern,
    pupils: Sequence[Pupil],
    raised_by: str,
    handled_by: str,
    history: Sequence[queues.Contact],
    zone: ZoneInfo,
) -> str:
    """The header and ``found``'s row, in the school's time zone; each of ``history`` a line."""
    row = [
        str(found.id),
        _iso(found.raised_at, zone),
        raised_by,
        "; ".join(pupil.name for pupil in pupils),
        "; ".join(pupil.mis_id for pupil in pupils),
        "; ".join(pupil.form or pupil.year for pupil in pupils),
        _redact(found.note),
        _iso(found.handled_at, zone),
        handled_by,
        _redact(found.handled_note),
        "\n".join(_history_line(contact, zone) for contact in history),
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def outcome_words(contact: queues.Contact) -> str:
    """How a call in a family's history ended, in words ("spoken to", "concern")."""
    if contact.concern:
        return "concern"
    reason = contact.outcome or contact.end_reason
    return reason.value.replace("_", " ") if reason is not None else ""


def _iso(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _history_line(contact: queues.Contact, zone: ZoneInfo) -> str:
    notes = _redact(contact.notes).replace("\n", " / ")
    parts = (_iso(contact.at, zone), contact.campaign, contact.staff, outcome_words(contact), notes)
    return " | ".join(part or "-" for part in parts)


def _redact(text: str) -> str:
    return audit.NUMBER_LIKE.sub(REDACTED, text)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value
