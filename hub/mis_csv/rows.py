"""Checking one row of an MIS export: a ContactRow, or one sentence about what is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hub.exceptions import NumberError
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, Number, parse

# Numbers that are never imported: those the hub never dials, and 070 personal
# numbers, which a family would not give the school and are toll-fraud bait.
REFUSED_KINDS = NEVER_DIALLED | {Kind.PERSONAL}

_YES = {"yes", "y", "true", "t", "1", "x"}
_NO = {"no", "n", "false", "f", "0", ""}
_YEAR = re.compile(r"^(?:year|yr|y|nc)?\s*(\d{1,2})$")
_NURSERY = {"n": "N", "nursery": "N", "n1": "N1", "n2": "N2"}
_RECEPTION = {"r", "rec", "reception", "yr r", "year r"}


@dataclass(frozen=True)
class ContactRow:
    """One good pupil–contact row of the export."""

    line: int
    pupil_id: str
    forename: str
    surname: str
    year: str
    form: str
    vulnerable: bool | None  # None: the export doesn't say
    flags: tuple[str, ...] | None
    contact_id: str | None
    contact_name: str
    relationship: str
    priority: int
    parental_responsibility: bool
    do_not_contact: bool | None
    preferred_times: str | None
    numbers: tuple[tuple[str, Number], ...]  # (label, number), in the order to try them
    key_adult: str | None = None  # the email of the member of staff who knows the pupil best
    home_language: str = ""  # as the MIS writes it ("Polish", "POL"): hub.languages reads it

    @property
    def contact_key(self) -> str:
        """The contact's name as compared between rows and with the database."""
        return name_key(self.contact_name)


@dataclass
class RowProblem:
    """A sentence about one line of the file; a rejected row imports nothing."""

    line: int
    message: str
    rejected: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def name_key(name: str) -> str:
    """A person's name as compared: case and spacing ignored."""
    return " ".join(name.casefold().split())


class RowChecker:
    """Turns one line's values into a ContactRow or one sentence about what is wrong."""

    def __init__(self, fields: dict[str, int], phones: dict[str, int], width: int) -> None:
        self.fields = fields
        self.phones = phones
        self.width = width
        self.pupils: dict[str, tuple[int, str, str]] = {}
        self.pairs: dict[tuple[str, str], int] = {}
        # A contact's numbers are repeated on every sibling's rows: parse each text once.
        self.parsed: dict[str, Number | None] = {}

    def _cleaned(self, values: list[str]) -> dict[str, str]:
        """Each known field's value, spacing tidied; "" when the row is short of it."""
        width = len(values)
        return {
            name: " ".join(values[index].split()) if index < width else ""
            for name, index in self.fields.items()
        }

    def check(
        self, line: int, values: list[str]
    ) -> tuple[ContactRow, list[RowProblem]] | RowProblem:
        """The checked row and its warnings, or the problem that rejects it."""
        try:
            row = self._build(line, values)
        except _Reject as reject:
            return RowProblem(line, str(reject))
        warnings = []
        if not row.numbers:
            warnings.append(
                RowProblem(
                    line,
                    f"{row.contact_name} has no phone number; imported without one",
                    rejected=False,
                )
            )
        return row, warnings

    def _build(self, line: int, values: list[str]) -> ContactRow:
        if len(values) > self.width and any(v.strip() for v in values[self.width :]):
            raise _Reject(
                f"has {len(values)} values but the header has {self.width} columns (a stray comma?)"
            )
        get = self._cleaned(values).get  # None for a field the export doesn't have
        pupil_id = get("pupil_id") or ""
        if not pupil_id:
            raise _Reject("the pupil id is empty")
        forename, surname = get("forename") or "", get("surname") or ""
        if not forename or not surname:
            raise _Reject(f"pupil {pupil_id} has no {'forename' if not forename else 'surname'}")
        first = self.pupils.setdefault(pupil_id, (line, forename, surname))
        if (first[1], first[2]) != (forename, surname) and name_key(
            first[1] + " " + first[2]
        ) != name_key(forename + " " + surname):
            raise _Reject(f"pupil {pupil_id} is named differently on line {first[0]}")
        contact_name = self._contact_name(get)
        if not contact_name:
            raise _Reject(f"the contact's name is empty for pupil {pupil_id}")
        contact_id = get("contact_id") or None
        pair = (pupil_id, contact_id or name_key(contact_name))
        if pair in self.pairs:
            first_line = self.pairs[pair]
            raise _Reject(
                f"repeats {contact_name} as a contact of pupil {pupil_id} (see line {first_line})"
            )
        numbers = self._numbers(values)
        self.pairs[pair] = line
        flags = self._flags(get("flags"))
        vulnerable = _yes_no(get("vulnerable"), "vulnerable")
        if flags is not None and "vulnerable" in (f.casefold() for f in flags):
            vulnerable = True
        pr_text = get("parental_responsibility")
        return ContactRow(
            line=line,
            pupil_id=pupil_id,
            forename=forename,
            surname=surname,
            year=_year(get("year") or ""),
            form=get("form") or "",
            home_language=(get("home_language") or "")[:64],
            vulnerable=vulnerable,
            flags=flags,
            contact_id=contact_id,
            contact_name=contact_name,
            relationship=get("relationship") or "",
            priority=_priority(get("priority")),
            parental_responsibility=True
            if pr_text is None
            else bool(_yes_no(pr_text, "parental responsibility")),
            do_not_contact=_yes_no(get("do_not_contact"), "do not contact"),
            preferred_times=get("preferred_times"),
            key_adult=(get("key_adult") or "").lower() or None,
            numbers=numbers,
        )

    @staticmethod
    def _contact_name(get: Callable[[str], str | None]) -> str:
        name = get("contact_name")
        if name:
            return name
        parts = [get(f) or "" for f in ("contact_title", "contact_forename", "contact_surname")]
        return " ".join(p for p in parts if p)

    def _numbers(self, values: list[str]) -> tuple[tuple[str, Number], ...]:
        numbers: list[tuple[str, Number]] = []
        for label, index in self.phones.items():
            text = values[index].strip() if index < len(values) else ""
            if not text:
                continue
            column = label.capitalize()
            number = self._parse(text)
            if number is None:
                raise _Reject(f"the {column} number is not a phone number")
            if number.kind in REFUSED_KINDS:
                if number.kind is Kind.INVALID:
                    raise _Reject(f"the {column} number is not a valid phone number")
                raise _Reject(
                    f"the {column} number is {KIND_DESCRIPTIONS[number.kind]}, "
                    "which the hub will never dial"
                )
            if all(number.e164 != n.e164 for _, n in numbers):
                numbers.append((label, number))
        return tuple(numbers)

    def _parse(self, text: str) -> Number | None:
        """The parsed number, or None when the text is not a phone number at all."""
        if text in self.parsed:
            return self.parsed[text]
        try:
            number: Number | None = parse(text)
        except NumberError:
            number = None
        self.parsed[text] = number
        return number

    @staticmethod
    def _flags(text: str | None) -> tuple[str, ...] | None:
        if text is None:
            return None
        parts = {p.strip() for p in re.split(r"[;,|]", text) if p.strip()}
        return tuple(sorted(parts, key=str.casefold))


class _Reject(Exception):
    """A row is bad; the message is the sentence shown for it."""


def _yes_no(text: str | None, what: str) -> bool | None:
    if text is None:
        return None
    folded = text.strip().casefold()
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    raise _Reject(f"{what} is {text!r}, which is neither yes nor no")


def _priority(text: str | None) -> int:
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise _Reject(f"contact priority {text!r} is not a whole number from 1 up")
    return int(text)


def _year(text: str) -> str:
    folded = " ".join(text.casefold().split())
    if not folded:
        return ""
    if folded in _RECEPTION:
        return "R"
    if folded in _NURSERY:
        return _NURSERY[folded]
    match = _YEAR.match(folded)
    if match and 1 <= int(match.group(1)) <= 14:
        return str(int(match.group(1)))
    raise _Reject(f"year group {text!r} is not a year (use N1, N2, R or 1 to 14)")
