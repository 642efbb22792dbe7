"""Staff accounts in the database: argon2id hashes, rules, audit."""

import pytest
from sqlalchemy import select

from hub import users
from hub.exceptions import UserError
from hub.models import AuditEvent, Role

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
