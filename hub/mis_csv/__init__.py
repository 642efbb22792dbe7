"""Reading an MIS contacts export (SIMS, Arbor, …) into checked rows.

The export has one row per pupil–contact pair. Column names vary between
systems and schools, so they are matched case-insensitively against known
aliases. Each bad row becomes one sentence with its line number; the good rows
go on to ``hub.people``. A file that can't be read at all raises ImportFileError
before anything is written.

The export's columns are matched in ``columns`` and each row is checked in
``rows``; this module reads the file and gathers the results.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.exceptions import ImportFileError
from hub.mis_csv.columns import FIELDS, PHONE_COLUMNS, check_columns, header_key, map_columns
from hub.mis_csv.rows import REFUSED_KINDS, ContactRow, RowChecker, RowProblem, name_key

__all__ = [
    "FIELDS",
    "PHONE_COLUMNS",
    "READING",
    "REFUSED_KINDS",
    "ContactRow",
    "Export",
    "Progress",
    "RowProblem",
    "decode",
    "header_key",
    "name_key",
    "read_export",
]

# progress(phase, done, total): the import is in ``phase`` and ``done`` of ``total``.
Progress = Callable[[str, int, int], None]
READING = "reading rows"


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
        fields, phones, ignored = map_columns(headers)
        check_columns(fields, phones)
        export = Export(
            ignored_columns=ignored,
            columns=set(fields) | {f"phone:{label}" for label in phones},
            encoding=encoding,
        )
        total = max(text.count("\n") - reader.line_num, 1)
        checker = RowChecker(fields, phones, len(headers))
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
