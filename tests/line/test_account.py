"""The INVITE options the hub's account sends: the school, as the trunk wants it."""

from __future__ import annotations

import pytest

from hub.line.account import invite_param

SCHOOL = '"Hillside Primary" <sip:01632960000@trunk.example>'


def headers(param) -> dict[str, str]:
    return {h.hName: h.hValue for h in param.txOption.headers}


@pytest.mark.parametrize(
    ("caller_id", "expected"),
    [
        ("from", {}),
        ("from+pai", {"P-Asserted-Identity": SCHOOL}),
        ("from+ppi", {"P-Preferred-Identity": SCHOOL}),
    ],
)
def test_every_invite_presents_the_school_with_the_identity_the_trunk_wants(caller_id, expected):
    param = invite_param(caller_id, SCHOOL)
    assert param.txOption.localUri == SCHOOL
    assert headers(param) == expected
    assert "Privacy" not in headers(param)
