"""The made-up school: its families' names fit who they are to the pupils."""

from __future__ import annotations

import csv
import io

import pytest

from hub.sample import school_csv

# Names a reader takes for a woman's or a man's, whatever the sample draws from.
WOMEN = {"Sarah", "Aisling", "Bronwen", "Farah", "Joanne", "Catrin", "Rosalind", "Nkechi",
         "Morag", "Eleri", "Margaret", "Brenda", "Maureen", "Gwendolyn", "Pauline",
         "Dorothy"}  # fmt: skip
MEN = {"James", "Gareth", "Marek", "Dev", "Callum", "Stefan", "Imran", "Bartosz", "Rhodri",
       "Kwabena"}  # fmt: skip
# Grandparents are a generation older than parents, and their names say so.
GRANDMOTHERS = {"Margaret", "Brenda", "Maureen", "Gwendolyn", "Pauline", "Dorothy"}
FITS = {
    "Mother": WOMEN - GRANDMOTHERS,
    "Aunt": WOMEN - GRANDMOTHERS,
    "Grandmother": GRANDMOTHERS,
    "Father": MEN,
    "Stepfather": MEN,
    "Carer": (WOMEN | MEN) - GRANDMOTHERS,
}


def misfits(pairs) -> list[str]:
    """Every (name, relationship) whose first name does not fit the relationship."""
    return [f"{name} ({relationship})" for name, relationship in pairs
            if name.split()[0] not in FITS[relationship]]  # fmt: skip


@pytest.mark.parametrize("seed", [2026, 3, 7])
def test_every_sample_guardians_first_name_fits_the_relationship(seed):
    rows = csv.DictReader(io.StringIO(school_csv(600, seed=seed)))
    pairs = {(row["Contact Name"], row["Relationship"]) for row in rows}
    assert {relationship for _, relationship in pairs} == set(FITS)
    assert misfits(pairs) == []
