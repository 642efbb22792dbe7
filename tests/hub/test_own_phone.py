"""A member of staff's own phone: which numbers, the spoken code, and forgetting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub import own_phone, users
from hub.models import AuditEvent, Role, StaffUser, utcnow
from tests.factories import add_staff

NOW = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("07700 900555", "+447700900555"),
        ("+44 1632 960555", "+441632960555"),
        ("2105", "2105"),
        (" 21 05 ", "2105"),
    ],
)
def test_a_mobile_a_landline_or_an_extension_can_be_ones_own_phone(typed, kept):
    assert own_phone.normalised(typed) == kept


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("not a number", "That is not a phone number: give a UK mobile or landline, or an "
                         "extension."),
        ("09098 790000", "That number is a premium-rate number, which the hub never dials; "
                         "give a mobile or a landline."),
        ("0800 123 4567", "That number is a freephone number, not a phone of yours; give a "
                          "mobile or a landline."),
        # Short enough to be an extension, but a service: never the staff member's phone.
        ("999", own_phone.SHORT_NUMBER),
        ("112", own_phone.SHORT_NUMBER),
        ("118 118", own_phone.SHORT_NUMBER),
        ("123", own_phone.SHORT_NUMBER),
    ],
)  # fmt: skip
def test_other_numbers_are_refused_in_one_sentence(typed, why):
    with pytest.raises(own_phone.OwnPhoneError) as raised:
        own_phone.normalised(typed)
    assert str(raised.value) == why


def test_the_phone_is_used_only_once_the_code_it_was_told_is_typed_back(sqlite_database):
    with sqlite_database.session() as session:
        kim = add_staff(session, "Kim Teacher")
        own_phone.set_number(session, kim, "07700 900555")
        assert own_phone.shown(kim) == "mobile ••• 555" and not own_phone.ready(kim)
        with pytest.raises(own_phone.OwnPhoneError, match="call you with a code first"):
            own_phone.confirm(session, kim, "123456", NOW)
        code = own_phone.new_code(kim, NOW)
        assert len(code) == 6 and code not in kim.own_phone_code_hash  # kept hashed
        wrong = "000000" if code != "000000" else "111111"
        with pytest.raises(own_phone.OwnPhoneError, match="not the one the hub said"):
            own_phone.confirm(session, kim, wrong, NOW)
        own_phone.confirm(session, kim, " ".join(code), NOW + timedelta(minutes=9))
        assert own_phone.ready(kim) and kim.own_phone_code_hash == ""
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[-2:] == ["own_phone.set", "own_phone.confirmed"]


def test_a_code_expires_and_so_does_guessing(sqlite_database):
    with sqlite_database.session() as session:
        kim = add_staff(session, "Kim Teacher")
        own_phone.set_number(session, kim, "07700 900555")
        code = own_phone.new_code(kim, NOW)
        with pytest.raises(own_phone.OwnPhoneError, match="expired"):
            own_phone.confirm(session, kim, code, NOW + own_phone.CODE_LIFE)
        code = own_phone.new_code(kim, NOW)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(own_phone.MOST_TRIES - 1):
            with pytest.raises(own_phone.OwnPhoneError, match="try again"):
                own_phone.confirm(session, kim, wrong, NOW)
        with pytest.raises(own_phone.OwnPhoneError, match="that was the last try"):
            own_phone.confirm(session, kim, wrong, NOW)
        with pytest.raises(own_phone.OwnPhoneError, match="call you with a code first"):
            own_phone.confirm(session, kim, code, NOW)  # the right one, too late
        assert not own_phone.ready(kim)


def test_removing_it_or_the_account_forgets_the_phone(sqlite_database):
    with sqlite_database.session() as session:
        kim = add_staff(session, "Kim Teacher", email="kim@school.example")
        add_staff(session, "Office", role=Role.ADMIN)
        own_phone.set_number(session, kim, "2105")
        assert own_phone.shown(kim) == "extension ••• 05"
        own_phone.remove(session, kim)
        assert (kim.own_phone, own_phone.shown(kim)) == ("", "")
        own_phone.set_number(session, kim, "07700 900555")
        own_phone.new_code(kim, NOW)
        users.disable(session, "kim@school.example", actor="test")
        assert (kim.own_phone, kim.own_phone_code_hash) == ("", "")


def test_a_short_number_kept_from_before_is_no_longer_ready_to_ring():
    """A phone confirmed before short codes were refused is not rung for a call."""
    staff = StaffUser(own_phone="999", own_phone_verified_at=utcnow())
    assert not own_phone.ready(staff)
    staff.own_phone = "2233"
    assert own_phone.ready(staff)
