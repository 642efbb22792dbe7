"""Families' home languages as MIS exports write them."""

from __future__ import annotations

import pytest

from hub.languages import (
    ENGLISH,
    LANGUAGES,
    by_code,
    family_language,
    language_of,
    may_need_interpreter,
    shown,
)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Polish", "pl"),
        ("POL", "pl"),
        ("pl", "pl"),
        ("polski", "pl"),
        ("Polish (Polski)", "pl"),
        ("English", "en"),
        ("ENB", "en"),
        ("Believed to be English", "en"),
        ("Chinese (Mandarin)", "cmn"),
        ("CHIC", "yue"),
        ("Panjabi (Gurmukhi)", "pa"),
        ("  urdu ", "ur"),
    ],
)
def test_a_language_is_known_by_its_name_its_dfe_code_or_its_own_name(written, code):
    found = language_of(written)
    assert found is not None and found.code == code


@pytest.mark.parametrize("written", ["", "   ", None, "Klingon", "Not obtained"])
def test_what_names_no_language_the_hub_knows_is_none(written):
    assert language_of(written) is None


def test_each_code_and_name_is_one_language():
    assert len({language.code for language in LANGUAGES}) == len(LANGUAGES)
    assert len({language.name for language in LANGUAGES}) == len(LANGUAGES)
    assert by_code("pl").name == "Polish" and by_code("en") is ENGLISH


def test_a_language_is_shown_by_its_english_name_else_as_written():
    assert shown("POL") == "Polish"
    assert shown("Tigrinya") == "Tigrinya"
    assert shown("Amharic (Ethiopia)") == "Amharic"
    assert shown("Klingon") == "Klingon"
    assert shown("") == ""


def test_a_familys_language_is_the_one_other_than_english_when_siblings_differ():
    assert family_language(["English", "Polish"]) == "Polish"
    assert family_language(["ENG", ""]) == "ENG"
    assert family_language(["", None]) is None
    assert family_language(["Klingon", "English"]) == "Klingon"


def test_an_interpreter_may_be_needed_for_any_language_but_english():
    assert may_need_interpreter("Polish")
    assert may_need_interpreter("Klingon")  # unknown to the hub: better to ask
    assert not may_need_interpreter("English")
    assert not may_need_interpreter("")
