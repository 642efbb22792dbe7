"""The hub rings a member of staff's own phone and speaks the code that confirms it.

Through a real Kamailio to a practice line registered as the member of staff's mobile.
"""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import own_phone
from hub.exceptions import DialRefused
from hub.models import AuditEvent, StaffUser, utcnow
from tests.kamailio import Kamailio
from tests.line.conftest import (
    STAFF_EMAIL,
    Family,
    LineProcess,
    PracticeLineProcess,
    wait_until,
)
from tests.line.test_calls import assert_presents_the_school

STAFF_MOBILE = "07700900555"


def _staff(session) -> StaffUser:
    return session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL))


def _code_from(digest: str, staff_id: int) -> str:
    """The six digits whose hash is kept: the test's way of hearing what the hub said."""
    for n in range(10**own_phone.CODE_DIGITS):
        code = f"{n:06d}"
        if hashlib.sha256(f"{staff_id}:{code}".encode()).hexdigest() == digest:
            return code
    raise AssertionError("no code has that hash")


def test_the_hub_rings_the_staff_members_phone_as_the_school_and_speaks_the_code(
    hub_line: LineProcess, family: Family, kamailio: Kamailio, tmp_path: Path
):
    phone = PracticeLineProcess(tmp_path / "own", kamailio, STAFF_MOBILE, "--ring", "1")
    with family.database.session() as session:
        own_phone.set_number(session, _staff(session), STAFF_MOBILE)
    reply = hub_line.client.request("own_phone_code", **{"as": STAFF_EMAIL})
    [invite] = wait_until(lambda: phone.events("invite"), what="the INVITE at the staff's phone")
    assert_presents_the_school(invite["message"])
    # The hub speaks the code and hangs up by itself.
    [ended] = wait_until(lambda: phone.events("ended"), timeout=40, what="the hub to hang up")
    assert ended["answered"]
    saved = wait_until(lambda: phone.events("saved"), what="the recording")
    with wave.open(saved[0]["recording"]) as heard:
        assert heard.getnframes() / heard.getframerate() > 5  # the code, said twice
    with family.database.session() as session:
        staff = _staff(session)
        code = _code_from(staff.own_phone_code_hash, staff.id)
        own_phone.confirm(session, staff, code, utcnow())
        assert own_phone.ready(staff)
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "call.own_phone_code" in actions
    assert reply["attempt"]
    for written in (STAFF_MOBILE, "7700900555", code):
        assert written not in hub_line.log()
    phone.stop()


def test_with_no_phone_given_the_hub_says_so_and_rings_nobody(
    hub_line: LineProcess, family: Family, kamailio: Kamailio
):
    with pytest.raises(DialRefused, match="Give your phone's number first"):
        hub_line.client.request("own_phone_code", **{"as": STAFF_EMAIL})
    assert kamailio.messages("INVITE") == []
