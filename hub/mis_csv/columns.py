"""Which column of an MIS export holds what.

SIMS, Arbor and the rest name their columns differently, and schools rename them,
so each field has a list of known header aliases, matched case-insensitively.
"""

from __future__ import annotations

import re

from hub.exceptions import ImportFileError

# Canonical field → header aliases, best first. Headers are compared after
# lower-casing and turning every run of punctuation into one space.
# fmt: off
FIELDS: dict[str, tuple[str, ...]] = {
    "pupil_id": (
        "pupil mis id", "mis id", "pupil id", "student id", "pupil person id", "person id", "upn",
        "adno", "admission number", "admission no",
    ),
    "forename": (
        "forename", "pupil forename", "legal forename", "preferred forename", "first name",
        "pupil first name", "student forename", "given name",
    ),
    "surname": (
        "surname", "pupil surname", "legal surname", "preferred surname", "last name",
        "pupil last name", "student surname", "family name",
    ),
    "year": (
        "year", "year group", "pupil year", "nc year", "national curriculum year",
    ),
    "form": (
        "form", "reg group", "registration group", "tutor group", "form group", "class",
    ),
    "home_language": (
        "home language", "first language", "main language", "language", "pupil home language",
        "pupil first language", "language spoken at home", "home language code",
        "first language code", "preferred language",
    ),
    "vulnerable": (
        "vulnerable", "vulnerable pupil", "is vulnerable",
    ),
    "flags": (
        "flags", "pupil flags", "groups", "pupil groups",
    ),
    "contact_id": (
        "contact id", "contact mis id", "contact person id", "guardian id", "parent id",
    ),
    "contact_name": (
        "contact name", "contact", "contact full name", "parent name", "guardian name",
        "parent carer name", "name of contact",
    ),
    "contact_title": (
        "contact title", "title",
    ),
    "contact_forename": (
        "contact forename", "contact first name", "parent forename",
    ),
    "contact_surname": (
        "contact surname", "contact last name", "parent surname",
    ),
    "relationship": (
        "relationship", "relationship to pupil", "contact relationship", "relation",
    ),
    "priority": (
        "priority", "contact priority", "priority order", "contact order", "order",
    ),
    "parental_responsibility": (
        "parental responsibility", "has parental responsibility", "parental resp", "pr",
    ),
    "do_not_contact": (
        "do not contact", "dnc", "no contact", "contact restricted",
    ),
    "preferred_times": (
        "preferred call times", "preferred times", "best time to call",
    ),
    "key_adult": (
        "key adult email", "key adult", "tutor email", "form tutor email",
    ),
}
# fmt: on

# Phone columns, in the order numbers are tried: label → aliases.
# fmt: off
PHONE_COLUMNS: dict[str, tuple[str, ...]] = {
    "mobile": (
        "mobile", "mobile phone", "mobile telephone", "telephone mobile", "mobile number",
        "contact mobile", "mobile tel",
    ),
    "home": (
        "home", "home phone", "home telephone", "telephone home", "home number",
        "contact home phone", "home tel",
    ),
    "work": (
        "work", "work phone", "work telephone", "telephone work", "work number",
        "contact work phone", "work tel",
    ),
    "phone": (
        "telephone", "phone", "phone number", "telephone number", "other phone", "tel",
    ),
}
# fmt: on

_PUNCTUATION = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    """A header as it is matched against the aliases ("Telephone (Mobile)" → "telephone mobile")."""
    return _PUNCTUATION.sub(" ", header.strip().lower()).strip()


def map_columns(headers: list[str]) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """The field and phone columns found in ``headers`` by index, and the headers not used."""
    keys = [header_key(h) for h in headers]
    fields: dict[str, int] = {}
    phones: dict[str, int] = {}
    for name, aliases in FIELDS.items():
        for alias in aliases:
            if alias in keys:
                fields[name] = keys.index(alias)
                break
    for label, aliases in PHONE_COLUMNS.items():
        for alias in aliases:
            if alias in keys:
                phones[label] = keys.index(alias)
                break
    used = set(fields.values()) | set(phones.values())
    ignored = [h for i, h in enumerate(headers) if i not in used and h.strip()]
    return fields, phones, ignored


def check_columns(fields: dict[str, int], phones: dict[str, int]) -> None:
    """ImportFileError naming every column the export needs and lacks."""
    missing = [
        f"a {label} column (such as {FIELDS[name][0]!r} or {FIELDS[name][-1]!r})"
        for name, label in (
            ("pupil_id", "pupil id"),
            ("forename", "pupil forename"),
            ("surname", "pupil surname"),
        )
        if name not in fields
    ]
    if "contact_name" not in fields and not (
        "contact_forename" in fields and "contact_surname" in fields
    ):
        missing.append("a contact name column (such as 'contact name')")
    if not phones:
        missing.append("a phone column (such as 'mobile', 'home' or 'work')")
    if missing:
        raise ImportFileError(
            "This doesn't look like an MIS contacts export: it has no "
            + ", no ".join(m.removeprefix("a ") for m in missing)
            + "."
        )
