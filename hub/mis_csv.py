"""Reading an MIS contacts export (SIMS, Arbor, …) into checked rows.

The export has one row per pupil–contact pair. Column names vary between
systems and schools, so they are matched case-insensitively against known
aliases. Each bad row becomes one sentence with its line number; the good rows
go on to ``hub.people``. A file that can't be read at all raises ImportFileError
before anything is written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.exceptions import ImportFileError, NumberError
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, Number, parse

# progress(phase, done, total): the import is in ``phase`` and ``done`` of ``total``.
Progress = Callable[[str, int, int], None]
READING = "reading rows"

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

# Numbers that are never imported: those the hub never dials, and 070 personal
# numbers, which a family would not give the school and are toll-fraud bait.
REFUSED_KINDS = NEVER_DIALLED | {Kind.PERSONAL}

_YES = {"yes", "y", "true", "t", "1", "x"}
_NO = {"no", "n", "false", "f", "0", ""}
_PUNCTUATION = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"^(?:year|yr|y|nc)?\s*(\d{1,2})$")
_NURSERY = {"n": "N", "nursery": "N", "n1": "N1", "n2": "N2"}
_RECEPTION = {"r", "rec", "reception", "yr r", "year r"}


def header_key(header: str) -> str:
    """A header as it is matched against the aliases ("Telephone (Mobile)" → "telephone mobile")."""
    return _PUNCTUATION.sub(" ", header.strip().lower()).strip()


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


@dataclass
class Export:
    """A read export: the good rows, the problems, and what was ignored."""

    rows: list[ContactRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)
    encoding: str = "utf-8"
    data_rows: int = 0

    @property
    def rejected(self) -> list[RowProblem]:
        """Problems that kept a row out."""
        return [p for p in self.problems if p.rejected]

    @property
    def warnings(self) -> list[RowProblem]:
        """Problems about rows that were imported anyway."""
        return [p for p in self.problems if not p.rejected]


def name_key(name: str) -> str:
    """A person's name as compared: case and spacing ignored."""
    return " ".join(name.casefold().split())


def decode(data: bytes) -> tuple[str, str]:
    """The text of an export and the encoding it was in; ImportFileError if neither works."""
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            "That is an Excel workbook, not a CSV file; in Excel choose Save As, CSV UTF-8."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8-sig", "cp1252")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise ImportFileError(
        "The file is not a CSV text file the hub can read; export it from the MIS as CSV "
        "(UTF-8 or Windows/Excel encoding)."
    )


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _map_columns(headers: list[str]) -> tuple[dict[str, int], dict[str, int], list[str]]:
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


def _check_columns(fields: dict[str, int], phones: dict[str, int]) -> None:
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


def read_export(data: bytes, progress: Progress | None = None) -> Export:
    """Read and check every row of an export held in ``data``."""
    text, encoding = decode(data)
    if not text.strip():
        raise ImportFileError("The file is empty.")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    try:
        headers = next(reader)
        while not any(h.strip() for h in headers):
            headers = next(reader)
        fields, phones, ignored = _map_columns(headers)
        _check_columns(fields, phones)
        export = Export(
            ignored_columns=ignored,
            columns=set(fields) | {f"phone:{label}" for label in phones},
            encoding=encoding,
        )
        total = max(text.count("\n") - reader.line_num, 1)
        checker = _RowChecker(fields, phones, len(headers))
        previous_end = reader.line_num
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            if not any(v.strip() for v in values):
                continue
            export.data_rows += 1
            result = checker.check(line, values)
            if isinstance(result, RowProblem):
                export.problems.append(result)
            else:
                row, warnings = result
                export.rows.append(row)
                export.problems.extend(warnings)
            if progress is not None and export.data_rows % 500 == 0:
                progress(READING, export.data_rows, total)
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(
            f"The file is not valid CSV at line {reader.line_num}: {exc}."
        ) from exc
    if export.data_rows == 0:
        raise ImportFileError("The file has a header row but no pupils in it.")
    if progress is not None:
        progress(READING, export.data_rows, export.data_rows)
    return export


class _RowChecker:
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
