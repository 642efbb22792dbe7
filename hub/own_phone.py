"""A member of staff's own phone, for calling families from wherever they are.

One phone each: a mobile, a landline, or an extension the school's phone system
reaches. Before the hub uses it, it rings it once, showing the school's number, and
speaks a six-digit code that its owner types into the panel: so nobody can have the
hub ring a number that is not theirs. The number is its owner's alone: shown to
nobody but them, and to them masked; never logged; removable by them at any time;
and gone with their account.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import shortnumberinfo
from sqlalchemy.orm import Session

from hub import audit
from hub.exceptions import NumberError, PhoneHubError
from hub.models import StaffUser
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, mask, parse

CODE_DIGITS = 6
CODE_LIFE = timedelta(minutes=10)
MOST_TRIES = 5
_EXTENSION = re.compile(r"\d{2,6}")
# What may be a member of staff's own phone: what they could be reached on at home.
_KINDS = frozenset({Kind.MOBILE, Kind.GEOGRAPHIC, Kind.NON_GEOGRAPHIC})


SHORT_NUMBER = ("That is a service's short number (999, 111, 118…), which the hub never "
                "dials; give your extension, mobile or landline.")  # fmt: skip


class OwnPhoneError(PhoneHubError):
    """Why a phone cannot be someone's own phone, or a code is not right, in one sentence."""


def normalised(text: str) -> str:
    """``text`` as the hub keeps an own phone: E.164, or an extension's digits."""
    typed = "".join(text.split())
    if _EXTENSION.fullmatch(typed):
        if _short_number(typed):
            raise OwnPhoneError(SHORT_NUMBER)
        return typed
    try:
        number = parse(typed)
    except NumberError:
        raise OwnPhoneError(
            "That is not a phone number: give a UK mobile or landline, or an extension."
        ) from None
    if number.kind not in _KINDS:
        what = KIND_DESCRIPTIONS[number.kind]
        never = number.kind in NEVER_DIALLED
        why = "which the hub never dials" if never else "not a phone of yours"
        raise OwnPhoneError(f"That number is {what}, {why}; give a mobile or a landline.")
    return number.e164


def shown(staff: StaffUser) -> str:
    """The own phone as its owner sees it: "mobile ••• 123", "extension ••• 05"."""
    number = staff.own_phone
    if not number:
        return ""
    if not number.startswith("+"):
        return f"extension ••• {number[-2:]}"
    return mask(number, "mobile" if parse(number).kind == Kind.MOBILE else "phone")


def ready(staff: StaffUser) -> bool:
    """Whether the hub may ring this member of staff's own phone for a call.

    The number is checked again, not only when it was given: a rule tightened since
    (a short code is never an extension) holds for phones already confirmed.
    """
    return (bool(staff.own_phone) and staff.own_phone_verified_at is not None
            and dialable(staff.own_phone))  # fmt: skip


def dialable(kept: str) -> bool:
    """Whether an own phone as kept is still one the hub may ring."""
    try:
        return normalised(kept) == kept
    except OwnPhoneError:
        return False


def _short_number(digits: str) -> bool:
    """Whether ``digits`` would reach a service rather than an extension: 999, 112, 118…"""
    if shortnumberinfo.connects_to_emergency_number(digits, "GB"):
        return True
    number = phonenumbers.parse(digits, "GB")
    return bool(shortnumberinfo.is_valid_short_number_for_region(number, "GB"))


def set_number(session: Session, staff: StaffUser, text: str) -> None:
    """Take ``text`` as ``staff``'s own phone, to be confirmed by a code before it is used."""
    staff.own_phone = normalised(text)
    staff.own_phone_verified_at = None
    _forget_code(staff)
    audit.record(session, "own_phone.set", actor=staff, target_type="staff_user",
                 target_id=staff.id)  # fmt: skip


def new_code(staff: StaffUser, now: datetime) -> str:
    """A fresh code for the hub to speak; only its hash is kept, for CODE_LIFE."""
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    staff.own_phone_code_hash = _hash(staff, code)
    staff.own_phone_code_until = now + CODE_LIFE
    staff.own_phone_code_tries = 0
    return code


def confirm(session: Session, staff: StaffUser, typed: str, now: datetime) -> None:
    """The code the owner heard, typed in: the phone is theirs. OwnPhoneError if not."""
    until = staff.own_phone_code_until
    if not staff.own_phone_code_hash or until is None:
        raise OwnPhoneError("Ask the hub to call you with a code first.")
    if now >= until:
        _forget_code(staff)
        raise OwnPhoneError("That code has expired; ask the hub to call you with a new one.")
    staff.own_phone_code_tries += 1
    if not hmac.compare_digest(staff.own_phone_code_hash, _hash(staff, "".join(typed.split()))):
        if staff.own_phone_code_tries >= MOST_TRIES:
            _forget_code(staff)
            raise OwnPhoneError("That code is not right, and that was the last try; "
                                "ask the hub to call you with a new one.")  # fmt: skip
        raise OwnPhoneError("That code is not the one the hub said; try again.")
    staff.own_phone_verified_at = now
    _forget_code(staff)
    audit.record(session, "own_phone.confirmed", actor=staff, target_type="staff_user",
                 target_id=staff.id)  # fmt: skip


def remove(session: Session, staff: StaffUser) -> None:
    """Forget ``staff``'s own phone entirely."""
    staff.own_phone = ""
    staff.own_phone_verified_at = None
    _forget_code(staff)
    audit.record(session, "own_phone.removed", actor=staff, target_type="staff_user",
                 target_id=staff.id)  # fmt: skip


def _forget_code(staff: StaffUser) -> None:
    staff.own_phone_code_hash = ""
    staff.own_phone_code_until = None
    staff.own_phone_code_tries = 0


def _hash(staff: StaffUser, code: str) -> str:
    return hashlib.sha256(f"{staff.id}:{code}".encode()).hexdigest()
