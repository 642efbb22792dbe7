"""The demo's made-up school, as ``phonehub demo`` fills it."""

from __future__ import annotations

from sqlalchemy import select

from cli.demo import _fill
from hub.models import Guardian, PupilContact
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
