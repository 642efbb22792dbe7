"""Safeguarding (DSL): families not reached, concerns raised on calls, and what was done.

Only the designated safeguarding lead reaches these pages. Every view and every
export is written to the audit log; the notes themselves never are, and no page
or export here holds a phone number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from hub import audit, queues
from hub.db import scrub_wal
from hub.exceptions import QueueError
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EntryState,
    Guardian,
    Household,
    PhoneNumber,
    Pupil,
    Role,
    StaffUser,
    utcnow,
)
from hub.numbers import mask
from hub.people.erasure import erase_concern
from web.concern_csv import concern_csv, outcome_words
from web.db import db
from web.errors import not_found
from web.security import current_user, roles

bp = Blueprint("dsl", __name__, url_prefix="/dsl")

HANDLED_SHOWN = 50
NOTE_LIMIT = 2000
HUB_RAISED = "the hub (family not reached)"


@dataclass(frozen=True)
class Item:
    """One concern, or one escalated family, as the DSL's pages show it."""

    concern: Concern | None
    household: Household | None
    campaign: str
    raised_by: str
    handled_by: str
    history: Sequence[queues.Contact]
    escalation: queues.Escalation | None = None

    @property
    def pupils(self) -> Sequence[Pupil]:
        """The family's pupils (none once the household has been purged)."""
        return self.household.pupils if self.household is not None else ()


@bp.route("/")
@roles(Role.DSL)
def index() -> str:
    """Families not reached, open concerns from calls, and the most recently handled."""
    dsl = _dsl()
    session = db()
    escalated = queues.escalations(session)
    by_entry = queues.open_escalation_concerns(
        db(), [escalation.entry.id for escalation in escalated]
    )
    on_list = {concern.id for concern in by_entry.values()}
    # Every open concern is listed somewhere: one whose family left the escalation
    # list some other way (its entry removed, say) stays with the staff concerns.
    still_open = [
        concern
        for concern in session.scalars(
            select(Concern)
            .where(Concern.handled_at.is_(None))
            .order_by(Concern.raised_at, Concern.id)
        )
        if concern.id not in on_list
    ]
    handled = session.scalars(
        select(Concern)
        .where(Concern.handled_at.is_not(None))
        .order_by(Concern.handled_at.desc(), Concern.id.desc())
        .limit(HANDLED_SHOWN)
    ).all()
    escalations = [_escalation_item(escalation, by_entry, dsl) for escalation in escalated]
    detail = {"escalations": len(escalations), "open_concerns": len(still_open)}
    audit.record(session, "dsl.viewed", actor=dsl, detail=detail)
    return render_template(
        "dsl.html",
        escalations=escalations,
        concerns=_items(still_open, dsl),
        handled=_items(handled, dsl, history=False),
        **_helpers(),
    )


@bp.route("/concerns/<int:concern_id>")
@roles(Role.DSL)
def concern(concern_id: int) -> str | tuple[str, int]:
    """One concern with its family's calls; the view itself is audited."""
    found = db().get(Concern, concern_id)
    if found is None:
        return not_found("concern")
    audit.record(db(), "concern.viewed", actor=_dsl(), target_type="concern", target_id=found.id)
    return _concern_page(found)


@bp.route("/concerns/<int:concern_id>/handled", methods=["POST"])
@roles(Role.DSL)
def handled(concern_id: int) -> BaseResponse | tuple[str, int]:
    """Record what was done about a concern, which takes it off the open lists."""
    dsl = _dsl()
    session = db()
    found = session.get(Concern, concern_id)
    if found is None:
        return not_found("concern")
    if found.handled_at is not None:
        flash("This concern was already marked handled.", "info")
        return redirect(url_for("dsl.index"))
    note = request.form.get("note", "").strip()
    problem = _note_problem(note)
    if problem is not None:
        flash(problem, "error")
        # Shown again with what was typed, so a long note is not lost to one mistake.
        return _concern_page(found, note=note), 400
    now = utcnow()
    marked = False
    entry = _escalated_entry(found)
    if entry is not None:
        try:
            queues.mark_handled(session, entry, dsl, note, now)
            marked = found.handled_at is not None  # the rule handled this very concern
        except QueueError:
            pass  # the family left the list a moment ago; the update below says how
    if not marked:
        # Conditional, so a second tab (or a double click) never overwrites the first note.
        result = session.execute(
            update(Concern)
            .where(Concern.id == found.id, Concern.handled_at.is_(None))
            .values(handled_at=now, handled_by_id=dsl.id, handled_note=note)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            flash("This concern was already marked handled.", "info")
            return redirect(url_for("dsl.index"))
    audit.record(
        session,
        "concern.handled",
        actor=dsl,
        target_type="concern",
        target_id=found.id,
        detail={"household_id": found.household_id, "escalation": found.raised_by_id is None},
    )
    flash("Marked handled.", "info")
    return redirect(url_for("dsl.index"))


@bp.route("/concerns/<int:concern_id>/erase", methods=["POST"])
@roles(Role.DSL)
def erase(concern_id: int) -> BaseResponse | tuple[str, int]:
    """The DSL erases a concern they have decided need not be kept; confirmed, audited."""
    found = db().get(Concern, concern_id)
    if found is None:
        return not_found("concern")
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm you have decided this record need not be kept.", "error")
        return redirect(url_for("dsl.concern", concern_id=concern_id))
    erase_concern(db(), found, dsl=_dsl())
    db().commit()
    scrub_wal(db().get_bind())
    flash("The concern was erased.", "info")
    return redirect(url_for("dsl.index"))


@bp.route("/concerns/<int:concern_id>/numbers/<int:number_id>/do-not-call", methods=["POST"])
@roles(Role.DSL)
def do_not_call(concern_id: int, number_id: int) -> BaseResponse | tuple[str, int]:
    """Stop the hub calling one of the family's numbers, without waiting for an admin."""
    dsl = _dsl()
    session = db()
    found = session.get(Concern, concern_id)
    number = session.get(PhoneNumber, number_id)
    if (
        found is None
        or number is None
        or found.household_id is None
        or number.guardian.household_id != found.household_id
    ):
        return not_found("number")
    shown = f"{number.guardian.name}'s {mask(number.e164, number.label)}"
    if number.do_not_contact:
        flash(f"{shown} was already marked do not call.", "info")
    else:
        number.do_not_contact = True
        # Which number record, never the number itself.
        audit.record(
            session,
            "number.do_not_call",
            actor=dsl,
            target_type="household",
            target_id=found.household_id,
            detail={"concern_id": found.id, "number_id": number.id},
        )
        flash(f"{shown} will not be called.", "info")
    return redirect(url_for("dsl.concern", concern_id=found.id) + f"#concern-{found.id}-numbers")


@bp.route("/concerns/<int:concern_id>.csv")
@roles(Role.DSL)
def export(concern_id: int) -> Response | tuple[str, int]:
    """One concern and its family's calls as CSV, for the school's safeguarding system."""
    dsl = _dsl()
    found = db().get(Concern, concern_id)
    if found is None:
        return not_found("concern")
    [item] = _items([found], dsl)
    text = concern_csv(found, item.pupils, item.raised_by, item.handled_by, item.history, _zone())
    if found.household_id is not None:
        target_type, target_id = "household", found.household_id
    else:
        target_type, target_id = "concern", found.id
    audit.record(
        db(),
        "concern.exported",
        actor=dsl,
        target_type=target_type,
        target_id=target_id,
        detail={"concern_id": found.id},
    )
    # The byte-order mark tells Excel the file is UTF-8, so "Zoë" survives the import.
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=concern-{found.id}.csv"},
    )


def _concern_page(found: Concern, note: str = "") -> str:
    [item] = _items([found], _dsl())
    return render_template("dsl.html", single=item, note=note, **_helpers())


def _escalation_item(
    escalation: queues.Escalation, by_entry: dict[int, Concern], dsl: StaffUser
) -> Item:
    household = escalation.entry.household
    concern = by_entry.get(escalation.entry.id)
    return Item(
        concern=concern,
        household=household,
        campaign=escalation.campaign,
        raised_by=HUB_RAISED,
        handled_by="",
        history=queues.history(db(), household, viewer=dsl),
        escalation=escalation,
    )


def _items(concerns: Sequence[Concern], dsl: StaffUser, *, history: bool = True) -> list[Item]:
    session = db()
    households = {
        household.id: household
        for household in session.scalars(
            select(Household)
            .where(Household.id.in_(_ids(c.household_id for c in concerns)))
            .options(
                selectinload(Household.pupils),
                selectinload(Household.guardians).selectinload(Guardian.numbers),
            )
        )
    }
    staff_ids = _ids(c.raised_by_id for c in concerns) | _ids(c.handled_by_id for c in concerns)
    names = dict(
        session.execute(
            select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(staff_ids))
        ).all()
    )
    campaigns = dict(
        session.execute(
            select(CallAttempt.id, Campaign.name)
            .join(CampaignEntry, CallAttempt.entry_id == CampaignEntry.id)
            .join(Campaign, CampaignEntry.campaign_id == Campaign.id)
            .where(CallAttempt.id.in_(_ids(c.attempt_id for c in concerns)))
        ).all()
    )
    items = []
    for concern in concerns:
        household = households.get(concern.household_id) if concern.household_id else None
        if concern.raised_by_id is None:
            raised_by = HUB_RAISED
        else:
            raised_by = names.get(concern.raised_by_id, "a former member of staff")
        items.append(
            Item(
                concern=concern,
                household=household,
                campaign=campaigns.get(concern.attempt_id, "") if concern.attempt_id else "",
                raised_by=raised_by,
                handled_by=names.get(concern.handled_by_id, "") if concern.handled_by_id else "",
                history=(
                    queues.history(session, household, viewer=dsl)
                    if history and household is not None
                    else ()
                ),
            )
        )
    return items


def _escalated_entry(concern: Concern) -> CampaignEntry | None:
    """The family's place on the escalation list, if this concern is what put it there."""
    if concern.raised_by_id is not None or concern.attempt_id is None:
        return None
    attempt = db().get(CallAttempt, concern.attempt_id)
    entry = attempt.entry if attempt is not None else None
    return entry if entry is not None and entry.state == EntryState.ESCALATED else None


def _note_problem(note: str) -> str | None:
    if not note:
        return "Say what was done about this concern."
    if len(note) > NOTE_LIMIT:
        return f"Keep the note to {NOTE_LIMIT:,} characters."
    return audit.contact_details_in(note)


def _helpers() -> dict[str, object]:
    return {"when": _when, "outcome": outcome_words, "note_limit": NOTE_LIMIT, "mask": mask}


def _zone() -> ZoneInfo:
    return current_app.config["PHONEHUB"].dialplan.zone


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(_zone())
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def _ids(values: Iterable[int | None]) -> set[int]:
    return {value for value in values if value is not None}


def _dsl() -> StaffUser:
    user = current_user()
    assert user is not None
    return user
