"""Who called us? on each database the hub supports: finding a family, noting a call-back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub import who_called
from hub.models import (
    AuditEvent,
    CallAttempt,
    Guardian,
    Outcome,
    ParentCallBack,
    Role,
    StaffUser,
    utcnow,
)
from tests import factories


@pytest.fixture
def called(database):
    """The Nowaks, called by Sam yesterday; the office's Ada; a guardian with a % in her name."""
    with database.session() as session:
        sam = factories.add_staff(session, "Sam")
        ada = factories.add_staff(session, "Ada", Role.ADMIN)
        campaign = factories.add_campaign(session)
        nowak = factories.add_household(session, factories.pupil("Kai", "Nowak"), serial=202,
                                        guardian="Farah NOWAK")  # fmt: skip
        entry = factories.add_entry(session, campaign, nowak)
        attempt = factories.add_call(session, entry, sam, utcnow() - timedelta(days=1),
                                     outcome=Outcome.NO_ANSWER)  # fmt: skip
        odd = factories.add_household(session, factories.pupil("Ola", "Odd"), serial=203,
                                      guardian="100% Odd")  # fmt: skip
        factories.add_call(session, factories.add_entry(session, campaign, odd), sam,
                           utcnow() - timedelta(days=1))  # fmt: skip
        return {"attempt": attempt.id, "ada": ada.id, "nowak": nowak.id}


def test_a_name_is_found_whatever_its_case_and_wildcards_are_only_letters(database, called):
    with database.session() as session:
        ada = session.get(StaffUser, called["ada"])
        found = who_called.search(session, "farah now", viewer=ada, now=utcnow())
        assert [f.household_id for f in found.families] == [called["nowak"]]
        assert [f.pupils for f in found.families] == [["Kai Nowak"]]
        assert found.families[0].calls[0].number == "Farah NOWAK, mobile ••• 202"
        # A % typed is a % in the name, not "anything": only the Odds have one.
        odd = who_called.search(session, "% o", viewer=ada, now=utcnow())
        assert [f.pupils for f in odd.families] == [["Ola Odd"]]
        assert who_called.search(session, "__", viewer=ada, now=utcnow()).families == []
        # Letters beyond A to Z too, on SQLite as on PostgreSQL.
        session.add(Guardian(household_id=called["nowak"], name="Siân Nowak"))
        session.flush()
        for typed in ("SIÂN", "siân now"):
            found = who_called.search(session, typed, viewer=ada, now=utcnow())
            assert [f.household_id for f in found.families] == [called["nowak"]], typed


def test_the_same_form_sent_twice_at_once_is_one_note(database, called, monkeypatch):
    with database.session() as session:
        ada = session.get(StaffUser, called["ada"])
        attempt = session.get(CallAttempt, called["attempt"])
        note = {"noted_by": ada, "note": "will ring again after 3pm", "form_token": "once",
                "now": utcnow()}  # fmt: skip
        assert who_called.note_call_back(session, attempt, **note)
        # The race: the other click looked before this one's row was there.
        monkeypatch.setattr(session, "scalar", lambda *args, **kwargs: None)
        assert not who_called.note_call_back(session, attempt, **note)
        monkeypatch.undo()
        assert session.scalar(select(func.count()).select_from(ParentCallBack)) == 1
        assert (
            session.scalar(select(func.count()).where(AuditEvent.action == "call_back.noted")) == 1
        )
