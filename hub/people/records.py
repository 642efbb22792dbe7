"""Plain records of the rows an import reads and writes, and the snapshot they make.

Each record keeps its column values, the columns changed since it was read
(``changed``), whether it came from the database (``saved``) and whether the
import removes it (``gone``). Links between records are references, resolved to
ids only when written, because a new record has no id until it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Record:
    """One row's values, and what the import has changed about it."""

    __slots__ = ("changed", "gone", "saved", "values")

    def __init__(self, values: dict[str, Any], *, saved: bool) -> None:
        self.values = values
        self.changed: set[str] | None = None  # made when needed: a big import has ~200k records
        self.saved = saved
        self.gone = False

    def assign(self, values: dict[str, Any]) -> bool:
        """Set values that differ; True if any did."""
        changed = False
        for name, value in values.items():
            if self.values.get(name) != value:
                self.values[name] = value
                self.mark(name)
                changed = True
        return changed

    def mark(self, column: str) -> None:
        """Note a column to write."""
        if self.changed is None:
            self.changed = set()
        self.changed.add(column)


class Household(Record):
    """A household: its guardians, and those of its pupils that are in the file."""

    __slots__ = ("guardians", "id", "pupils")

    def __init__(self, id: int | None = None) -> None:
        super().__init__({}, saved=id is not None)
        self.id = id
        self.guardians: list[Guardian] = []  # in id order, then as added, like the ORM's
        self.pupils: set[Pupil] = set()  # only pupils in the file


class Pupil(Record):
    """A pupil; one not in the file has no household and no values, only its links."""

    __slots__ = ("household", "id", "links")

    def __init__(
        self, values: dict[str, Any], household: Household | None, id: int | None = None
    ) -> None:
        super().__init__(values, saved=id is not None)
        self.id = id
        self.household = household
        self.links: list[Link] = []


class Guardian(Record):
    """A guardian and their numbers; one of another household has only its links."""

    __slots__ = ("household", "id", "links", "numbers")

    def __init__(
        self, values: dict[str, Any], household: Household | None, id: int | None = None
    ) -> None:
        super().__init__(values, saved=id is not None)
        self.id = id
        self.household = household
        self.numbers: dict[str, Number] = {}  # by E.164, in the order they are tried
        self.links: list[Link] = []


class Number(Record):
    """One of a guardian's numbers, known by its E.164 form."""

    __slots__ = ("guardian",)

    def __init__(self, values: dict[str, Any], guardian: Guardian, *, saved: bool) -> None:
        super().__init__(values, saved=saved)
        self.guardian = guardian


class Link(Record):
    """A pupil's contact: which guardian, how related, in what order to call."""

    __slots__ = ("guardian", "pupil")

    def __init__(
        self, values: dict[str, Any], pupil: Pupil, guardian: Guardian, *, saved: bool
    ) -> None:
        super().__init__(values, saved=saved)
        self.pupil = pupil
        self.guardian = guardian
        pupil.links.append(self)
        guardian.links.append(self)


@dataclass
class Snapshot:
    """What the hub holds for one file's pupils, as linked records.

    That is the file's pupils already on the hub, their households' guardians and
    numbers, and every link of those pupils and guardians: a guardian's link to a
    pupil not in the file keeps the guardian, and a pupil's link to a guardian of
    another household is still the pupil's contact.
    """

    pupils: dict[str, Pupil] = field(default_factory=dict)  # by MIS id
    pupil_count: int = 0  # every pupil on the hub, in the file or not
    staff_ids: dict[str, int] = field(default_factory=dict)  # by email, for key adults
    households: dict[int, Household] = field(default_factory=dict)
    guardians: dict[int, Guardian] = field(default_factory=dict)
    pupils_by_id: dict[int, Pupil] = field(default_factory=dict)

    def add_pupil(self, id: int, household_id: int, values: dict[str, Any]) -> Pupil:
        """Add a pupil of the file, and their household if it is new here."""
        household = self.households.get(household_id)
        if household is None:
            household = self.households[household_id] = Household(household_id)
        pupil = Pupil(values, household, id)
        household.pupils.add(pupil)
        self.pupils[values["mis_id"]] = self.pupils_by_id[id] = pupil
        return pupil

    def add_guardian(self, id: int, household_id: int, values: dict[str, Any]) -> Guardian:
        """Add a guardian of one of the households; add them in id order."""
        household = self.households[household_id]
        guardian = self.guardians[id] = Guardian(values, household, id)
        household.guardians.append(guardian)
        return guardian

    def add_number(self, guardian_id: int, values: dict[str, Any]) -> Number:
        """Add a guardian's number; add them in the order they are tried."""
        guardian = self.guardians[guardian_id]
        number = guardian.numbers[values["e164"]] = Number(values, guardian, saved=True)
        return number

    def add_link(self, pupil_id: int, guardian_id: int, values: dict[str, Any]) -> Link:
        """Link a pupil and a guardian, either of whom may be outside the snapshot."""
        pupil = self.pupils_by_id.get(pupil_id) or Pupil({}, None, pupil_id)
        guardian = self.guardians.get(guardian_id) or Guardian({}, None, guardian_id)
        return Link(values, pupil, guardian, saved=True)
