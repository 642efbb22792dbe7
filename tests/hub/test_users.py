"""Staff accounts in the database: argon2id hashes, rules, audit."""

import pytest
from sqlalchemy import select

from hub import positive, users
from hub.exceptions import UserError
from hub.models import AuditEvent, Role, utcnow
from hub.queues import claim_next
from tests.factories import add_household, pupil

PASSWORD = "correct horse battery"


def test_a_password_is_stored_as_an_argon2id_hash(database):
    with database.session() as session:
        user = users.add(
            session, "Ann.Head@School.Example", "Ann Head", Role.ADMIN, PASSWORD, actor="cli"
        )
        assert user.email == "ann.head@school.example"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert users.verify_password(user, PASSWORD)
        assert not users.verify_password(user, PASSWORD + "!")


@pytest.mark.parametrize(
    ("email", "name", "password", "message"),
    [
        ("not-an-email", "Ann Head", PASSWORD, "is not an email address"),
        ("ann@school.example", "  ", PASSWORD, "Give the member of staff's name"),
        ("ann@school.example", "Ann Head", "elevenchars", "at least 12 characters"),
        ("ann@school.example", "Ann Head", " padded password ", "must not start or end"),
    ],
)
def test_bad_account_details_are_refused(database, email, name, password, message):
    with database.session() as session, pytest.raises(UserError, match=message):
        users.add(session, email, name, Role.STAFF, password, actor="cli")


def test_the_last_active_admin_cannot_be_disabled(database):
    with database.session() as session:
        users.add(session, "ann@school.example", "Ann Head", Role.ADMIN, PASSWORD, actor="cli")
        with pytest.raises(UserError, match="last active admin"):
            users.disable(session, "ann@school.example", actor="cli")
        users.add(session, "bob@school.example", "Bob Office", Role.ADMIN, PASSWORD, actor="cli")
        assert not users.disable(session, "ann@school.example", actor="cli").active


def test_account_changes_are_audited(database):
    with database.session() as session:
        users.add(session, "sam@school.example", "Sam Teacher", Role.STAFF, PASSWORD, actor="cli")
        users.disable(session, "sam@school.example", actor="cli")
        users.disable(session, "sam@school.example", actor="cli")  # already disabled: no new line
    with database.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["user.created", "user.disabled"]


def test_a_departing_teachers_nominated_families_go_to_anyone_who_calls(database):
    with database.session() as session:
        sam = users.add(session, "sam@school.example", "Sam Teacher", Role.STAFF, PASSWORD,
                        actor="cli", opted_in=True)  # fmt: skip
        kim = users.add(session, "kim@school.example", "Kim Teacher", Role.STAFF, PASSWORD,
                        actor="cli", opted_in=True)  # fmt: skip
        ali = add_household(session, pupil("Ali", "Nowak")).pupils[0]
        entry = positive.nominate(session, ali, "Led the assembly.", by=sam, now=utcnow()).entry
        assert claim_next(session, entry.campaign, kim, now=utcnow()) is None
        users.disable(session, "sam@school.example", actor="cli")
        assert entry.assignee_id is None
        assert claim_next(session, entry.campaign, kim, now=utcnow()).id == entry.id
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.disabled"))
        assert event.detail["families_unassigned"] == 1
