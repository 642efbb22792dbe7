"""A call attempt's record, on real SQLite and PostgreSQL databases.

Every phone number here is from Ofcom's drama ranges and every name is made up.
January, so London time is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub import calls
from hub.models import (
    AuditEvent,
    CallAttempt,
    CampaignEntry,
    EndReason,
    EntryState,
    Guardian,
    Hub,
    Outcome,
    PhoneNumber,
    StaffUser,
)
from hub.queues import claim_next
from tests.factories import add_call, add_campaign, add_entry, add_staff, call

MONDAY = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)


def _actions(session, attempt: CallAttempt) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id.in_([attempt.id, attempt.entry_id]))
            .order_by(AuditEvent.id)
        )
    )


def _dial(session, staff: StaffUser, entry: CampaignEntry, hub: Hub) -> CallAttempt:
    """The member of staff's call to the family's first number, as the desk asks for it."""
    number = session.scalar(select(PhoneNumber.id).join(Guardian)
                            .where(Guardian.household_id == entry.household_id))  # fmt: skip
    return calls.request(session, staff, entry, number, hub_id=hub.id)


def test_a_call_the_hub_lost_gives_a_promised_call_back_its_place_again(database):
    # The Nowaks asked to be called back at 16:00; Sam took the card, the hub lost power.
    at_four = MONDAY + timedelta(hours=6)
    with database.session() as session:
        hub = Hub(name="office")
        session.add(hub)
        sam, campaign = add_staff(session, "Sam"), add_campaign(session)
        promised = add_entry(session, campaign)
        add_entry(session, campaign)  # never tried: offered after a promised call back
        call(session, promised, sam, MONDAY, Outcome.SPOKE_TO_PARENT, call_back_at=at_four)
        assert claim_next(session, campaign, sam, now=at_four) is promised
        attempt = _dial(session, sam, promised, hub)
        hub_id, attempt_id, sam_id = hub.id, attempt.id, sam.id
    with database.session() as session:
        assert calls.recover_interrupted(session, hub_id, now=at_four) == 1
    with database.session() as session:
        attempt = session.get(CallAttempt, attempt_id)
        assert attempt.end_reason is EndReason.INTERRUPTED and attempt.ended_by == "system"
        entry = attempt.entry
        assert (entry.state, entry.claimed_by_id) == (EntryState.CALL_BACK, None)
        assert entry.call_back_at == at_four
        assert _actions(session, attempt)[-2:] == ["call.interrupted", "entry.released"]
        # Still promised, so still first.
        sam = session.get(StaffUser, sam_id)
        assert claim_next(session, entry.campaign, sam, now=at_four) is entry


def test_a_lost_call_leaves_a_family_a_colleague_has_since_taken(database):
    with database.session() as session:
        hub = Hub(name="office")
        session.add(hub)
        sam, kim = add_staff(session, "Sam"), add_staff(session, "Kim")
        entry = add_entry(session, add_campaign(session))
        _dial(session, sam, entry, hub)
        # The stale sweep gave the family to Kim, who is on the phone to them now.
        entry.state, entry.claimed_by_id, entry.claimed_at = EntryState.CLAIMED, kim.id, MONDAY
        hub_id, entry_id, kim_id = hub.id, entry.id, kim.id
    with database.session() as session:
        calls.recover_interrupted(session, hub_id, now=MONDAY)
    with database.session() as session:
        entry = session.get(CampaignEntry, entry_id)
        assert (entry.state, entry.claimed_by_id) == (EntryState.CLAIMED, kim_id)


def test_a_family_whose_call_was_lost_is_offered_again_at_once(database):
    with database.session() as session:
        hub = Hub(name="office")
        session.add(hub)
        sam, campaign = add_staff(session, "Sam"), add_campaign(session)
        add_entry(session, campaign)
        entry = claim_next(session, campaign, sam, now=MONDAY)
        _dial(session, sam, entry, hub)
        hub_id, entry_id, sam_id = hub.id, entry.id, sam.id
    with database.session() as session:
        calls.recover_interrupted(session, hub_id, now=MONDAY)
    with database.session() as session:
        entry = session.get(CampaignEntry, entry_id)
        assert (entry.state, entry.claimed_by_id, entry.call_back_at) == (
            EntryState.WAITING, None, None)  # fmt: skip
        # Nobody knows how the call went, so it is not a try that makes them wait for tomorrow.
        sam = session.get(StaffUser, sam_id)
        assert claim_next(session, entry.campaign, sam, now=MONDAY) is entry


def test_each_line_event_is_written_to_its_attempt(database):
    with database.session() as session:
        hub = Hub(name="office")
        session.add(hub)
        sam = add_staff(session, "Sam")
        attempt = add_call(session, add_entry(session, add_campaign(session)), sam, MONDAY,
                           end_reason=None)  # fmt: skip
        hub_id, attempt_id = hub.id, attempt.id
    at = MONDAY + timedelta(seconds=3)
    for state, extra in (("ringing", {}), ("answered", {}),
                         ("ended", {"end_reason": "completed", "ended_by": "family",
                                    "sip_status": 200})):  # fmt: skip
        with database.session() as session:
            calls.apply_event(session, {"attempt": attempt_id, "state": state,
                                        "at": at.isoformat(), **extra}, hub_id=hub_id)  # fmt: skip
    with database.session() as session:
        attempt = session.get(CallAttempt, attempt_id)
        assert (attempt.ringing_at, attempt.answered_at, attempt.ended_at) == (at, at, at)
        assert (attempt.end_reason, attempt.ended_by, attempt.hub_id) == (
            EndReason.COMPLETED, "family", hub_id)  # fmt: skip
        shown = calls.shown(attempt)
        assert (shown.stage, shown.ended) == (calls.Stage.ENDED, "call ended")


def test_a_call_that_failed_is_always_audited_once(database):
    with database.session() as session:
        sam = add_staff(session, "Sam")
        attempt = add_call(session, add_entry(session, add_campaign(session)), sam, MONDAY,
                           end_reason=None)  # fmt: skip
        calls.failed(session, attempt, "The line daemon is not running.", hub_id=None)
        calls.failed(session, attempt, "Asked twice.", hub_id=None)  # already ended: no change
        session.flush()
        assert attempt.end_reason is EndReason.FAILED
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "call.failed"))
        assert [(e.actor, e.detail["reason"]) for e in failed] == [
            ("sam@school.example", "The line daemon is not running.")
        ]


def test_what_staff_are_shown_follows_the_call():
    assert calls.stage(ended=False, answered=False, ringing=False) is calls.Stage.DIALLING
    assert calls.stage(ended=False, answered=False, ringing=True) is calls.Stage.RINGING
    assert calls.stage(ended=False, answered=True, ringing=True) is calls.Stage.CONNECTED
    assert calls.stage(ended=True, answered=True, ringing=True) is calls.Stage.ENDED
    assert calls.ending_words(EndReason.INTERRUPTED, "handset") == calls.HANDSET_UNPLUGGED
    assert calls.ending_words(EndReason.COMPLETED, "hub") == calls.MESSAGE_LEFT
    assert calls.ending_words(EndReason.BUSY, "system") == "the line was busy"
    assert calls.ending_words(None, None) is None
