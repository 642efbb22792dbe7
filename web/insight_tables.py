"""A figure's table, shown on the page and downloaded as CSV from the same rows.

The file leaves the hub, so no cell starts like a spreadsheet formula; nothing in a
table is a phone number (the figures never read one).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from web.concern_csv import FORMULA_START


@dataclass(frozen=True)
class Table:
    """A caption, column headings and rows of text; the first cell of a row is its heading.

    ``marked`` rows are highlighted on the page (pupils in a group the school tracks);
    a column says why in words, so the highlight is never the only sign.
    """

    name: str  # its CSV file's name, unique on its page
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    marked: frozenset[int] = field(default_factory=frozenset)
    empty: str = "None."


def csv_text(table: Table) -> str:
    """The table as CSV: the column headings, then every row, exactly as the page shows it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["'" + cell if cell.startswith(FORMULA_START) else cell for cell in row])
    return out.getvalue()


def percent(rate: float | None) -> str:
    """A share as the page writes it: "62.5%", or "–" when there is nothing to share."""
    return "–" if rate is None else f"{rate * 100:.1f}%"


def days(value: float | None) -> str:
    """A wait in days to one decimal place ("1.0 days"), or "–"."""
    return "–" if value is None else f"{value:.1f} days"


def day(value: date) -> str:
    """A date the UK way: "Mon 8 Sep 2025"."""
    return f"{value:%a} {value.day} {value:%b %Y}"
