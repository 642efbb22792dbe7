"""Phone numbers: parse to E.164, classify, mask for staff, format for the trunk.

Everything that touches a family's number goes through here, so the rules about
which numbers the hub will dial and how a number is shown live in one place.

    >>> n = parse("07700 900123")
    >>> n.e164, n.kind.value, mask(n.e164, "mobile")
    ('+447700900123', 'mobile', 'mobile ••• 123')
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from hub.exceptions import NumberError

DEFAULT_REGION = "GB"
UK_COUNTRY_CODE = 44


class Kind(enum.StrEnum):
    """What sort of number this is, which decides whether the hub may dial it."""

    GEOGRAPHIC = "geographic"
    MOBILE = "mobile"
    FREEPHONE = "freephone"
    NON_GEOGRAPHIC = "non_geographic"
    VOIP = "voip"
    PREMIUM_RATE = "premium_rate"
    PERSONAL = "personal"
    SHARED_COST = "shared_cost"
    PAGER = "pager"
    INTERNATIONAL = "international"
    SHORT_CODE = "short_code"
    INVALID = "invalid"


# What a person should read when a number of this kind is refused.
KIND_DESCRIPTIONS: dict[Kind, str] = {
    Kind.GEOGRAPHIC: "a landline number",
    Kind.MOBILE: "a mobile number",
    Kind.FREEPHONE: "a freephone number",
    Kind.NON_GEOGRAPHIC: "a non-geographic (03) number",
    Kind.VOIP: "an internet phone (056) number",
    Kind.PREMIUM_RATE: "a premium-rate number",
    Kind.PERSONAL: "a personal (070) number",
    Kind.SHARED_COST: "a shared-cost number",
    Kind.PAGER: "a pager number",
    Kind.INTERNATIONAL: "an international number",
    Kind.SHORT_CODE: "a short code",
    Kind.INVALID: "not a valid phone number",
}

# Refused whatever dialplan.allowed says: premium-rate numbers and short codes are
# how toll fraud makes money, and an invalid number can only be a mistake.
NEVER_DIALLED = frozenset({Kind.PREMIUM_RATE, Kind.SHORT_CODE, Kind.INVALID})

_TYPE_KINDS: dict[int, Kind] = {
    PhoneNumberType.FIXED_LINE: Kind.GEOGRAPHIC,
    PhoneNumberType.MOBILE: Kind.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: Kind.GEOGRAPHIC,
    PhoneNumberType.TOLL_FREE: Kind.FREEPHONE,
    PhoneNumberType.UAN: Kind.NON_GEOGRAPHIC,
    PhoneNumberType.VOIP: Kind.VOIP,
    PhoneNumberType.PREMIUM_RATE: Kind.PREMIUM_RATE,
    PhoneNumberType.PERSONAL_NUMBER: Kind.PERSONAL,
    PhoneNumberType.SHARED_COST: Kind.SHARED_COST,
    PhoneNumberType.PAGER: Kind.PAGER,
}

# Ofcom reserves these blocks for drama. phonenumbers marks the two below invalid
# on purpose; the hub accepts them as their block's kind so the demo, staff
# training and the tests work with numbers that can never ring a real person.
# The other drama blocks (020 7946 0xxx, 0113 496 0xxx, …) already pass as valid.
_DRAMA_BLOCKS: tuple[tuple[str, Kind], ...] = (
    ("+447700900", Kind.MOBILE),
    ("+441632960", Kind.GEOGRAPHIC),
)
_DRAMA_LENGTH = len("+447700900123")

_DIALLABLE_CHARS = re.compile(r"[\d\s()+\-./]+")


@dataclass(frozen=True)
class Number:
    """A parsed phone number: its E.164 form and its kind."""

    e164: str
    kind: Kind


def parse(text: str, region: str = DEFAULT_REGION) -> Number:
    """Parse what a person or an MIS export wrote into a classified number.

    Raises NumberError when the text is not a phone number at all. A string that
    looks like a number but is not a valid one comes back as ``Kind.INVALID``.
    Excel's habit of dropping the leading zero ("7700900123") is undone.
    """
    cleaned = text.strip()
    if not cleaned or not _DIALLABLE_CHARS.fullmatch(cleaned):
        raise NumberError("That is not a phone number.")
    try:
        parsed = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError("That is not a phone number.") from exc
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Number(e164=e164, kind=_classify(parsed, e164))


def _classify(parsed: phonenumbers.PhoneNumber, e164: str) -> Kind:
    if parsed.country_code == UK_COUNTRY_CODE:
        for prefix, kind in _DRAMA_BLOCKS:
            if e164.startswith(prefix) and len(e164) == _DRAMA_LENGTH:
                return kind
    if phonenumbers.is_valid_number(parsed):
        if parsed.country_code != UK_COUNTRY_CODE:
            return Kind.INTERNATIONAL
        return _TYPE_KINDS.get(phonenumbers.number_type(parsed), Kind.INVALID)
    if shortnumberinfo.is_possible_short_number(parsed):
        return Kind.SHORT_CODE
    return Kind.INVALID


def classify(text: str, region: str = DEFAULT_REGION) -> Kind:
    """The kind of the number written in ``text`` (``Kind.INVALID`` if unparseable)."""
    try:
        return parse(text, region).kind
    except NumberError:
        return Kind.INVALID


def mask(e164: str, label: str) -> str:
    """How staff see a number: its label and last three digits, "mobile ••• 123"."""
    digits = re.sub(r"\D", "", e164)
    return f"{label} ••• {digits[-3:]}"


def format_for_trunk(e164: str, dial_format: str) -> str:
    """The dial string for the trunk: national ("07700900123") or E.164.

    In national format a non-UK number is written with the UK international
    prefix, 00, which is how a UK trunk expects it.
    """
    if dial_format == "e164":
        return e164
    if dial_format != "national":
        raise ValueError(f"unknown dial format {dial_format!r}")
    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code != UK_COUNTRY_CODE:
        return "00" + e164[1:]
    return "0" + str(parsed.national_number)


def format_for_people(e164: str) -> str:
    """A full number grouped for reading, for the few screens allowed to show it."""
    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code == UK_COUNTRY_CODE:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        # phonenumbers doesn't group the drama blocks it thinks invalid; both
        # of those have five-digit codes.
        return national if " " in national else f"{national[:5]} {national[5:]}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
