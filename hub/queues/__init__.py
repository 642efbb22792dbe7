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

One module per job: ``rules`` (shared by all), ``campaigns`` (who is in a campaign and
who calls them), ``claiming``, ``outcomes`` (and escalation), ``dsl`` (the DSL's list)
and ``views`` (what staff are shown).
"""

from hub.exceptions import QueueError
from hub.queues.campaigns import (
    MAX_CADENCE_DAYS,
    AddSummary,
    AssignMethod,
    AssignSummary,
    CampaignPlan,
    LaterPeriod,
    add_households,
    assign,
    close_campaign,
    create_campaign,
    later_period,
    reopen_campaign,
    set_later_period,
    sharing_staff,
)
from hub.queues.claiming import (
    ABANDONED_CLAIM,
    CLAIM_REFRESH,
    claim_next,
    outside_their_times,
    release_interrupted,
    release_stale_claims,
    waiting_for,
)
from hub.queues.dsl import Escalation, escalations, mark_handled, open_escalation_concerns
from hub.queues.outcomes import outcome_recorded, override_cadence
from hub.queues.rules import (
    CONTACT,
    ESCALATE_AFTER_DAYS,
    FAILED,
    FAILED_ENDS,
    FINISHED,
    OPEN,
    SCHOOL_ZONE,
    as_utc,
    may_work,
    not_reached,
)
from hub.queues.views import Contact, held_by_cadence, history, progress

__all__ = [
    "ABANDONED_CLAIM",
    "CLAIM_REFRESH",
    "CONTACT",
    "ESCALATE_AFTER_DAYS",
    "FAILED",
    "FAILED_ENDS",
    "FINISHED",
    "MAX_CADENCE_DAYS",
    "OPEN",
    "SCHOOL_ZONE",
    "AddSummary",
    "AssignMethod",
    "AssignSummary",
    "CampaignPlan",
    "Contact",
    "Escalation",
    "LaterPeriod",
    "QueueError",
    "add_households",
    "as_utc",
    "assign",
    "claim_next",
    "close_campaign",
    "create_campaign",
    "escalations",
    "held_by_cadence",
    "history",
    "later_period",
    "mark_handled",
    "may_work",
    "not_reached",
    "open_escalation_concerns",
    "outcome_recorded",
    "outside_their_times",
    "override_cadence",
    "progress",
    "release_interrupted",
    "release_stale_claims",
    "reopen_campaign",
    "set_later_period",
    "sharing_staff",
    "waiting_for",
]
