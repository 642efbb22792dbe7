"""Phone numbers: only Ofcom drama-range numbers and obviously fake codes here."""

import pytest

from hub.exceptions import NumberError
from hub.numbers import (
    NEVER_DIALLED,
    Kind,
    classify,
    format_for_people,
    format_for_trunk,
    mask,
    parse,
)


@pytest.mark.parametrize(
    ("text", "e164", "kind"),
    [
        ("07700 900123", "+447700900123", Kind.MOBILE),
        ("07700900123", "+447700900123", Kind.MOBILE),
        ("+44 7700 900123", "+447700900123", Kind.MOBILE),
        ("+44 (0)7700 900123", "+447700900123", Kind.MOBILE),
        ("0044 7700 900123", "+447700900123", Kind.MOBILE),
        ("7700900123", "+447700900123", Kind.MOBILE),  # Excel dropped the leading zero
        ("07700-900-123", "+447700900123", Kind.MOBILE),
        ("01632 960123", "+441632960123", Kind.GEOGRAPHIC),
        ("020 7946 0123", "+442079460123", Kind.GEOGRAPHIC),
        ("(020) 7946 0999", "+442079460999", Kind.GEOGRAPHIC),
        ("0113 496 0123", "+441134960123", Kind.GEOGRAPHIC),
        ("0808 157 0123", "+448081570123", Kind.FREEPHONE),
        ("0306 999 0123", "+443069990123", Kind.NON_GEOGRAPHIC),
        ("0909 879 0123", "+449098790123", Kind.PREMIUM_RATE),
        ("070 0000 0000", "+447000000000", Kind.PERSONAL),
        ("0871 000 0000", "+448710000000", Kind.PREMIUM_RATE),
        # 084 and 087 carry a service charge: phonenumbers files them as premium.
        ("0843 000 0000", "+448430000000", Kind.PREMIUM_RATE),
        ("+33 1 99 00 00 00", "+33199000000", Kind.INTERNATIONAL),
        ("999", "+44999", Kind.SHORT_CODE),
        ("112", "+44112", Kind.SHORT_CODE),
        ("118 118", "+44118118", Kind.SHORT_CODE),
    ],
)
def test_parse_normalises_and_classifies(text, e164, kind):
    number = parse(text)
    assert (number.e164, number.kind) == (e164, kind)


@pytest.mark.parametrize("text", ["07700 9001", "07700 900123 4", "01632 96", "0000 000 000"])
def test_number_shaped_text_that_is_no_number_is_invalid(text):
    assert parse(text).kind is Kind.INVALID


@pytest.mark.parametrize("text", ["", "   ", "Mum's mobile", "ring the office", "07700 9OO123"])
def test_text_that_is_not_a_number_is_refused(text):
    with pytest.raises(NumberError, match="not a phone number"):
        parse(text)
    assert classify(text) is Kind.INVALID


def test_only_real_kinds_are_diallable():
    assert parse("07700 900123").kind not in NEVER_DIALLED
    assert parse("999").kind in NEVER_DIALLED
    assert parse("07700 9001").kind in NEVER_DIALLED


@pytest.mark.parametrize(
    ("e164", "label", "shown"),
    [
        ("+447700900123", "mobile", "mobile ••• 123"),
        ("+441632960987", "home", "home ••• 987"),
        ("+442079460001", "work", "work ••• 001"),
    ],
)
def test_mask_shows_label_and_last_three_digits_only(e164, label, shown):
    assert mask(e164, label) == shown
    assert e164[-4:] not in mask(e164, label)


@pytest.mark.parametrize(
    ("e164", "dial_format", "dialled"),
    [
        ("+447700900123", "national", "07700900123"),
        ("+447700900123", "e164", "+447700900123"),
        ("+442079460123", "national", "02079460123"),
        ("+441632960123", "national", "01632960123"),
        ("+33199000000", "national", "0033199000000"),
        ("+33199000000", "e164", "+33199000000"),
    ],
)
def test_format_for_trunk(e164, dial_format, dialled):
    assert format_for_trunk(e164, dial_format) == dialled


def test_format_for_trunk_rejects_an_unknown_format():
    with pytest.raises(ValueError, match="dial format"):
        format_for_trunk("+447700900123", "international")


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+447700900123", "07700 900123"),
        ("+441632960123", "01632 960123"),
        ("+442079460123", "020 7946 0123"),
        ("+33199000000", "+33 1 99 00 00 00"),
    ],
)
def test_format_for_people(e164, shown):
    assert format_for_people(e164) == shown
