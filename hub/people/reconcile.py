"""Working out an import's changes in memory: the file's rows against a snapshot.

Nothing here reads or writes the database. Given the export and a snapshot of
what the hub holds for its pupils, a ``Reconciliation`` matches households,
pupils, guardians and numbers, updates the snapshot's records in place and
yields the changes a batch of households at a time, in the order they must be
written; once it has yielded them all, its summary holds the counts the preview
shows.

    reconciliation = Reconciliation(read_export(data), Snapshot())
    batches = list(reconciliation.batches())
    reconciliation.summary.created["households"]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.mis_csv import ContactRow, Export, RowProblem, name_key
from hub.people.records import Guardian, Household, Link, Number, Pupil, Record, Snapshot
from hub.people.summary import ImportSummary

BATCH = 200  # households worked out per batch of writes (and progress report)
TABLES = ("households", "pupils", "guardians", "links", "numbers")


def _tables() -> dict[str, list[Any]]:
    return {table: [] for table in TABLES}


@dataclass
class Writes:
    """Records to write together, table by table: new, changed and removed."""

    new: dict[str, list[Any]] = field(default_factory=_tables)
    dirty: dict[str, list[Any]] = field(default_factory=_tables)
    gone: dict[str, list[Any]] = field(default_factory=_tables)


@dataclass(frozen=True)
class Merge:
    """Fold household ``source`` into ``into``, keeping every call and concern on record."""

    source: Household
    into: Household


@dataclass
class Batch:
    """Steps to write in order; once written, ``households`` of the file are done."""

    households: int
    steps: list[Writes | Merge] = field(default_factory=list)


def group_rows(rows: list[ContactRow]) -> list[list[ContactRow]]:
    """Rows grouped by household: rows of one pupil, and pupils who share a contact."""
    parent = list(range(len(rows)))

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first_with: dict[tuple[str, ...], int] = {}
    for index, row in enumerate(rows):
        keys: list[tuple[str, ...]] = [("pupil", row.pupil_id)]
        if row.contact_id:
            keys.append(("contact", row.contact_id))
        else:
            # Without an MIS contact id, the same name with a number in common is
            # the same person; the same name alone may be a coincidence.
            keys += [("named", row.contact_key, n.e164) for _, n in row.numbers]
        for key in keys:
            a, b = find(index), find(first_with.setdefault(key, index))
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[ContactRow]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[find(index)].append(row)
    return list(groups.values())


def _contact_identity(row: ContactRow) -> tuple[str, str]:
    # Within one household a contact is its MIS id, or else its name.
    return ("id", row.contact_id) if row.contact_id else ("name", row.contact_key)


class Reconciliation:
    """The changes of applying one export's good rows to one snapshot.

    ``batches()`` works out one batch of households at a time, so an import can
    write each batch while its records are fresh; call it once. What it works
    out never depends on whether a batch was written: a record the file creates
    is final once its batch is worked out, because each pupil and each contact
    is applied once and only households no group has claimed are merged.
    """

    def __init__(self, export: Export, snapshot: Snapshot) -> None:
        self.export = export
        self.columns = export.columns
        self.snapshot = snapshot
        self.pupils = snapshot.pupils
        self.groups = group_rows(export.rows)
        self.households = len(self.groups)  # households in the file
        self.summary = ImportSummary(export=export)
        self.claimed: set[Household] = set()
        self.pupil_changed: dict[str, bool] = {}
        self.new_pupils: set[str] = set()
        self.wanted_links: dict[str, set[Guardian]] = defaultdict(set)
        self.touched: list[Household] = []
        # A guardian is one contact of the file: once matched, never matched again.
        self.used: set[Guardian] = set()
        self.steps: list[Writes | Merge] = []
        self.writes = Writes()

    def batches(self) -> Iterator[Batch]:
        """Work out the batches to write, in order; the last drops contacts no longer listed."""
        self.summary.pupils_not_in_file = self.snapshot.pupil_count - len(self.pupils)
        for done, group in enumerate(self.groups, start=1):
            self._apply_household(group)
            if done % BATCH == 0 or done == self.households:
                self._cut()
                if done == self.households:
                    self._remove_dropped_contacts()
                batch, self.steps = Batch(done, self.steps), []
                yield batch
        for mis_id, changed in self.pupil_changed.items():
            if mis_id not in self.new_pupils:
                (self.summary.updated if changed else self.summary.unchanged)["pupils"] += 1
        if self.new_pupils:
            self.summary.created["pupils"] = len(self.new_pupils)

    def _cut(self) -> None:
        """End the writes so far: what follows is written after them."""
        writes, self.writes = self.writes, Writes()
        if any(any(lists.values()) for lists in (writes.new, writes.dirty, writes.gone)):
            self.steps.append(writes)

    def _touch(self, table: str, record: Record) -> None:
        if record.saved:
            self.writes.dirty[table].append(record)

    def _drop(self, table: str, record: Record) -> None:
        record.gone = True
        if record.saved:
            self.writes.gone[table].append(record)

    def _apply_household(self, rows: list[ContactRow]) -> None:
        existing = sorted(
            {self.pupils[r.pupil_id].household for r in rows if r.pupil_id in self.pupils},
            key=lambda h: h.id,
        )
        # A household already taken by another group of this file stays with it:
        # the MIS has split that family, so this group starts a household of its own.
        available = [h for h in existing if h not in self.claimed]
        changed = False
        if available:
            household = available[0]
            for other in available[1:]:
                self._merge(other, into=household)
                changed = True
        else:
            household = Household()
            self.writes.new["households"].append(household)
            self.summary.created["households"] += 1
        self.claimed.add(household)
        self.touched.append(household)
        candidates = list({id(g): g for h in existing for g in h.guardians}.values())
        contacts: dict[tuple[str, str], list[ContactRow]] = defaultdict(list)
        for row in rows:
            contacts[_contact_identity(row)].append(row)
        for contact_rows in contacts.values():
            guardian, guardian_changed = self._apply_guardian(household, contact_rows, candidates)
            changed |= guardian_changed
            for row in contact_rows:
                pupil = self._apply_pupil(household, row)
                changed |= self.pupil_changed[row.pupil_id]
                changed |= self._apply_link(pupil, guardian, row)
        if available:
            (self.summary.updated if changed else self.summary.unchanged)["households"] += 1

    def _merge(self, source: Household, *, into: Household) -> None:
        """Fold ``source`` into ``into``; every row of ``source`` moves after the writes so far."""
        for pupil in source.pupils:
            pupil.household = into
        into.pupils |= source.pupils
        source.pupils = set()
        for guardian in source.guardians:
            guardian.household = into
        into.guardians += source.guardians
        source.guardians = []
        self.summary.removed["households"] += 1
        self.claimed.add(source)
        self._cut()
        self.steps.append(Merge(source, into))

    def _apply_guardian(
        self, household: Household, rows: list[ContactRow], candidates: list[Guardian]
    ) -> tuple[Guardian, bool]:
        first = rows[0]
        free = [g for g in candidates if g not in self.used]
        guardian = next(
            (
                g
                for g in free
                if first.contact_id and g.values["mis_contact_id"] == first.contact_id
            ),
            None,
        ) or next(
            (
                g
                for g in free
                if name_key(g.values["name"]) == first.contact_key
                and (not first.contact_id or not g.values["mis_contact_id"])
            ),
            None,
        )
        values: dict[str, Any] = {"name": first.contact_name}
        if first.contact_id:
            values["mis_contact_id"] = first.contact_id
        if "do_not_contact" in self.columns:
            values["do_not_contact"] = any(r.do_not_contact for r in rows)
        if "preferred_times" in self.columns:
            values["preferred_times"] = next(
                (r.preferred_times for r in rows if r.preferred_times), ""
            )
        numbers: dict[str, tuple[str, str]] = {}
        for row in rows:
            for label, number in row.numbers:
                numbers.setdefault(number.e164, (label, number.kind.value))
        if guardian is None:
            new_values: dict[str, Any] = {
                "mis_contact_id": None,
                "do_not_contact": False,
                "preferred_times": "",
            }
            guardian = Guardian(new_values | values, household)
            household.guardians.append(guardian)
            self.writes.new["guardians"].append(guardian)
            self.summary.created["guardians"] += 1
            self._apply_numbers(guardian, numbers)
            self.used.add(guardian)
            return guardian, True
        self.used.add(guardian)
        if guardian.household is not household:
            assert guardian.household is not None
            guardian.household.guardians.remove(guardian)
            household.guardians.append(guardian)
            guardian.household = household
            guardian.mark("household_id")
            self._touch("guardians", guardian)
        changed = guardian.assign(values)
        if changed:
            self._touch("guardians", guardian)
        changed |= self._apply_numbers(guardian, numbers)
        (self.summary.updated if changed else self.summary.unchanged)["guardians"] += 1
        return guardian, changed

    def _apply_numbers(self, guardian: Guardian, wanted: dict[str, tuple[str, str]]) -> bool:
        existing = guardian.numbers
        guardian.numbers = {}
        changed = False
        for position, (e164, (label, kind)) in enumerate(wanted.items()):
            number = existing.pop(e164, None)
            values = {"position": position, "label": label, "kind": kind}
            if number is None:
                number = Number({"e164": e164, **values}, guardian, saved=False)
                self.writes.new["numbers"].append(number)
                self.summary.created["numbers"] += 1
                changed = True
            elif number.assign(values):
                self._touch("numbers", number)
                self.summary.updated["numbers"] += 1
                changed = True
            else:
                self.summary.unchanged["numbers"] += 1
            guardian.numbers[e164] = number
        for number in existing.values():
            self._drop("numbers", number)
            self.summary.removed["numbers"] += 1
            changed = True
        return changed

    def _apply_pupil(self, household: Household, row: ContactRow) -> Pupil:
        pupil = self.pupils.get(row.pupil_id)
        if row.pupil_id in self.pupil_changed:  # an earlier row already applied this pupil
            assert pupil is not None
            return pupil
        values: dict[str, Any] = {"forename": row.forename, "surname": row.surname}
        for name in ("year", "form", "home_language"):
            if name in self.columns:
                values[name] = getattr(row, name)
        if row.vulnerable is not None:
            values["vulnerable"] = row.vulnerable
        if row.flags is not None:
            values["flags"] = ",".join(f for f in row.flags if f.casefold() != "vulnerable")
        if "key_adult" in self.columns:
            values["key_adult_id"] = self._key_adult(row)
        if pupil is None:
            defaults = {"mis_id": row.pupil_id, "year": "", "form": "", "home_language": "",
                        "vulnerable": False, "flags": "", "key_adult_id": None}  # fmt: skip
            pupil = Pupil(defaults | values, household)
            household.pupils.add(pupil)
            self.writes.new["pupils"].append(pupil)
            self.pupils[row.pupil_id] = pupil
            self.new_pupils.add(row.pupil_id)
            self.pupil_changed[row.pupil_id] = True
            return pupil
        changed = pupil.assign(values)
        if pupil.household is not household:
            assert pupil.household is not None
            pupil.household.pupils.discard(pupil)
            household.pupils.add(pupil)
            pupil.household = household
            pupil.mark("household_id")
            changed = True
        if changed:
            self._touch("pupils", pupil)
        self.pupil_changed[row.pupil_id] = changed
        return pupil

    def _key_adult(self, row: ContactRow) -> int | None:
        if not row.key_adult:
            return None
        found = self.snapshot.staff_ids.get(row.key_adult)
        if found is None:
            self.export.problems.append(RowProblem(
                row.line, f"key adult {row.key_adult} has no account on the hub; invite them, "
                "then import again", rejected=False,
            ))  # fmt: skip
        return found

    def _apply_link(self, pupil: Pupil, guardian: Guardian, row: ContactRow) -> bool:
        self.wanted_links[row.pupil_id].add(guardian)
        values = {
            "relationship": row.relationship,
            "priority": row.priority,
            "parental_responsibility": row.parental_responsibility,
        }
        link = next((c for c in pupil.links if c.guardian is guardian), None)
        if link is None:
            self.writes.new["links"].append(Link(values, pupil, guardian, saved=False))
            return True
        if link.assign(values):
            self._touch("links", link)
            return True
        return False

    def _remove_dropped_contacts(self) -> None:
        """For pupils in the file, drop contacts it no longer lists; then unlinked guardians."""
        for mis_id, wanted in self.wanted_links.items():
            pupil = self.pupils[mis_id]
            for link in list(pupil.links):
                if link.guardian not in wanted:
                    pupil.links.remove(link)
                    link.guardian.links.remove(link)
                    self._drop("links", link)
        self._cut()
        for household in self.touched:
            for guardian in list(household.guardians):
                if guardian.links:
                    continue
                self.summary.removed["guardians"] += 1
                self.summary.removed["numbers"] += len(guardian.numbers)
                household.guardians.remove(guardian)
                self._drop("guardians", guardian)
        self._cut()
