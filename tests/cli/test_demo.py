"""The demo's made-up school, as ``phonehub demo`` fills it."""

from __future__ import annotations

from sqlalchemy import select

from cli.demo import _fill
from hub import positive
from hub.models import (
    Campaign,
    CampaignEntry,
    Guardian,
    PupilContact,
    Role,
    StaffUser,
    utcnow,
)
from tests.hub.test_sample import misfits


def test_the_demo_schools_families_are_named_for_who_they_are(sqlite_database):
    with sqlite_database.session() as session:
        _fill(session)
        pairs = set(
            session.execute(
                select(Guardian.name, PupilContact.relationship_).join(PupilContact.guardian)
            )
        )
        # Two adults in one family never share a first name.
        for guardians in session.scalars(select(Guardian.household_id).distinct()):
            names = session.scalars(select(Guardian.name).where(Guardian.household_id == guardians))
            firsts = [name.split()[0] for name in names]
            assert len(firsts) == len(set(firsts)), firsts
    assert pairs and misfits(pairs) == []


def test_the_demo_teacher_has_two_siblings_to_call_and_a_call_to_reflect_on(sqlite_database):
    with sqlite_database.session() as session:
        _fill(session)
        teacher = session.scalar(select(StaffUser).where(StaffUser.role == Role.STAFF))
        [entry] = session.scalars(select(CampaignEntry).join(Campaign).where(
            Campaign.for_nominations.is_(True))).all()  # fmt: skip
        assert len({n.pupil_id for n in positive.waiting_notes(session, entry)}) == 2
        assert entry.assignee_id == teacher.id
        [due] = positive.reflections_due(session, teacher, now=utcnow(), after_days=3)
        assert due.about
