"""Importing families: turning an MIS export into households, pupils, guardians, numbers.

Pupils who share a contact are siblings and belong to one household. A pupil is
known by their MIS id, a guardian by the MIS contact id when the export has one
and otherwise by name within the household, and a number by its E.164 form, so
importing the same file again changes nothing and an updated file updates in
place. For every pupil in the file, the file is the whole truth about their
contacts: a contact the MIS has removed is removed here too and can no longer be
called. Pupils missing from the file are left as they were.

    with db.session() as session:
        summary = import_file(session, Path("contacts.csv").read_bytes(), actor="cli")

A trust's export has tens of thousands of rows, so the import does not go through
the ORM's unit of work one object at a time: it reads what the file's pupils
already have with a few batched queries into plain records, works out every
change in memory, and writes each batch of households with one bulk statement per
table. A dry run (the panel's preview) works out the same changes and writes
nothing, so it never holds the database's write lock.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from hub import audit
from hub.mis_csv import ContactRow, Export, Progress, RowProblem, name_key, read_export
from hub.models import (
    CallAttempt,
    CampaignEntry,
    Concern,
    Guardian,
    Household,
    PhoneNumber,
    Pupil,
    PupilContact,
    StaffUser,
    utcnow,
)

ENTITIES = ("households", "pupils", "guardians", "numbers")
SAVING = "saving households"
_CHUNK = 500  # ids per IN (…) query, well under SQLite's variable limit
_BATCH = 200  # households worked out between writes (and progress reports)

_HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
_PUPILS: Table = Pupil.__table__  # type: ignore[assignment]
_GUARDIANS: Table = Guardian.__table__  # type: ignore[assignment]
_NUMBERS: Table = PhoneNumber.__table__  # type: ignore[assignment]
_LINKS: Table = PupilContact.__table__  # type: ignore[assignment]

_PUPIL_COLUMNS = ("mis_id", "forename", "surname", "year", "form", "vulnerable", "flags",
                  "key_adult_id")  # fmt: skip
_GUARDIAN_COLUMNS = ("mis_contact_id", "name", "do_not_contact", "preferred_times")
_NUMBER_COLUMNS = ("position", "label", "e164", "kind")
_LINK_COLUMNS = ("relationship", "priority", "parental_responsibility")


@dataclass
class ImportSummary:
    """What an import did, for the person who ran it."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    export: Export = field(default_factory=Export)
    pupils_not_in_file: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        """The summary as lines of text for a terminal."""
        out = []
        for entity in ENTITIES:
            text = (
                f"{entity:<11} {self.created[entity]:>6} created  {self.updated[entity]:>6} updated"
                f"  {self.unchanged[entity]:>6} unchanged"
            )
            if self.removed[entity]:
                text += f"  {self.removed[entity]:>6} removed"
            out.append(text)
        rejected = len(self.export.rejected)
        out.append(f"rows        {len(self.export.rows):>6} imported {rejected:>6} rejected")
        if self.pupils_not_in_file:
            out.append(
                f"{self.pupils_not_in_file} pupils already on the hub are not in this file "
                "and were left as they were."
            )
        if self.export.ignored_columns:
            out.append("Ignored columns: " + ", ".join(self.export.ignored_columns) + ".")
        if self.dry_run:
            out.append("Dry run: nothing was written.")
        return out


def import_file(
    session: Session,
    data: bytes,
    *,
    actor: StaffUser | str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read an export and apply its good rows; with ``dry_run`` roll everything back."""
    with _cycle_collector_paused():
        export = read_export(data, progress)
        summary = _Importer(session, export, progress, dry_run=dry_run).run()
    summary.dry_run = dry_run
    if dry_run:
        session.rollback()
        return summary
    audit.record(
        session,
        "people.imported",
        actor=actor,
        detail={
            "rows": len(export.rows),
            "rejected": len(export.rejected),
            **{f"{e}_created": summary.created[e] for e in ENTITIES},
            **{f"{e}_updated": summary.updated[e] for e in ENTITIES},
            **{f"{e}_removed": summary.removed[e] for e in ENTITIES},
        },
    )
    return summary


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while an import builds its records.

    A big import makes about a million objects that all live until it ends, and
    the collector would walk them all again each time their number grows by a
    quarter: a third of a 30,000-pupil import's time, for no garbage. Reference
    counting still frees everything else; the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _group_rows(rows: list[ContactRow]) -> list[list[ContactRow]]:
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


# Plain records of the rows an import reads and writes. Each keeps its column
# values, the columns changed since it was last written, and whether it is in the
# database yet (``saved``); links between records are references, resolved to ids
# only when written, because a new record has no id until its batch is written.


class _Record:
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
        """Note a column to write with the next batch."""
        if self.changed is None:
            self.changed = set()
        self.changed.add(column)


class _Household(_Record):
    __slots__ = ("guardians", "id", "pupils")

    def __init__(self, id: int | None = None) -> None:
        super().__init__({}, saved=id is not None)
        self.id = id
        self.guardians: list[_Guardian] = []  # in id order, then as added, like the ORM's
        self.pupils: set[_Pupil] = set()  # only pupils in the file


class _Pupil(_Record):
    __slots__ = ("household", "id", "links")

    def __init__(
        self, values: dict[str, Any], household: _Household | None, id: int | None = None
    ) -> None:
        super().__init__(values, saved=id is not None)
        self.id = id
        self.household = household
        self.links: list[_Link] = []


class _Guardian(_Record):
    __slots__ = ("household", "id", "links", "numbers")

    def __init__(
        self, values: dict[str, Any], household: _Household | None, id: int | None = None
    ) -> None:
        super().__init__(values, saved=id is not None)
        self.id = id
        self.household = household
        self.numbers: dict[str, _Number] = {}  # by E.164, in the order they are tried
        self.links: list[_Link] = []


class _Number(_Record):
    __slots__ = ("guardian",)

    def __init__(self, values: dict[str, Any], guardian: _Guardian, *, saved: bool) -> None:
        super().__init__(values, saved=saved)
        self.guardian = guardian


class _Link(_Record):
    __slots__ = ("guardian", "pupil")

    def __init__(
        self, values: dict[str, Any], pupil: _Pupil, guardian: _Guardian, *, saved: bool
    ) -> None:
        super().__init__(values, saved=saved)
        self.pupil = pupil
        self.guardian = guardian
        pupil.links.append(self)
        guardian.links.append(self)


def _chunks(ids: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


class _Importer:
    """Applies one export's rows to the database in one session."""

    def __init__(
        self, session: Session, export: Export, progress: Progress | None, *, dry_run: bool
    ) -> None:
        self.session = session
        self.export = export
        self.columns = export.columns
        self.progress = progress
        self.dry_run = dry_run
        self.summary = ImportSummary(export=export)
        self.claimed: set[_Household] = set()
        self.pupils: dict[str, _Pupil] = {}
        self.pupil_changed: dict[str, bool] = {}
        self.new_pupils: set[str] = set()
        self.wanted_links: dict[str, set[_Guardian]] = defaultdict(set)
        self.touched: list[_Household] = []
        # A guardian is one contact of the file: once matched, never matched again.
        self.used: set[_Guardian] = set()
        self.staff_ids: dict[str, int] | None = None
        # What the next write must do, table by table.
        self.new: dict[str, list[Any]] = defaultdict(list)
        self.dirty: dict[str, list[Any]] = defaultdict(list)
        self.gone: dict[str, list[Any]] = defaultdict(list)

    def run(self) -> ImportSummary:
        """Apply every good row and return what changed."""
        rows = self.export.rows
        self._load({row.pupil_id for row in rows})
        self.summary.pupils_not_in_file = self._count_pupils() - len(self.pupils)
        groups = _group_rows(rows)
        for done, group in enumerate(groups, start=1):
            self._apply_household(group)
            if done % _BATCH == 0 or done == len(groups):
                self._write()
                if self.progress is not None:
                    self.progress(SAVING, done, len(groups))
        self._remove_dropped_contacts()
        for mis_id, changed in self.pupil_changed.items():
            if mis_id not in self.new_pupils:
                (self.summary.updated if changed else self.summary.unchanged)["pupils"] += 1
        if self.new_pupils:
            self.summary.created["pupils"] = len(self.new_pupils)
        return self.summary

    def _count_pupils(self) -> int:
        return self.session.scalar(select(func.count()).select_from(_PUPILS)) or 0

    # Reading what the file's pupils already have.

    def _load(self, mis_ids: set[str]) -> None:
        """Read the file's pupils, their households' guardians, numbers and links."""
        execute = self.session.execute
        households: dict[int, _Household] = {}
        p, g, n, c = _PUPILS.c, _GUARDIANS.c, _NUMBERS.c, _LINKS.c
        for chunk in _chunks(mis_ids):
            query = select(p.id, p.household_id, *(p[name] for name in _PUPIL_COLUMNS))
            for row in execute(query.where(p.mis_id.in_(chunk))).all():
                household = households.get(row.household_id)
                if household is None:
                    household = households[row.household_id] = _Household(row.household_id)
                pupil = _Pupil(dict(zip(_PUPIL_COLUMNS, row[2:], strict=True)), household, row.id)
                household.pupils.add(pupil)
                self.pupils[row.mis_id] = pupil
        guardians: dict[int, _Guardian] = {}
        for chunk in _chunks(households):
            query = select(g.id, g.household_id, *(g[name] for name in _GUARDIAN_COLUMNS))
            for row in execute(query.where(g.household_id.in_(chunk)).order_by(g.id)).all():
                household = households[row.household_id]
                values = dict(zip(_GUARDIAN_COLUMNS, row[2:], strict=True))
                guardian = guardians[row.id] = _Guardian(values, household, row.id)
                household.guardians.append(guardian)
        for chunk in _chunks(guardians):
            query = select(n.guardian_id, *(n[name] for name in _NUMBER_COLUMNS))
            query = query.where(n.guardian_id.in_(chunk))
            for row in execute(query.order_by(n.guardian_id, n.position, n.id)).all():
                guardian = guardians[row.guardian_id]
                values = dict(zip(_NUMBER_COLUMNS, row[1:], strict=True))
                guardian.numbers[row.e164] = _Number(values, guardian, saved=True)
        # A guardian's links to pupils not in the file keep the guardian; a pupil's
        # links to a guardian of another household are still the pupil's contacts.
        by_id = {pupil.id: pupil for pupil in self.pupils.values()}
        link = select(c.id, c.pupil_id, c.guardian_id, *(c[name] for name in _LINK_COLUMNS))
        queries = [link.where(c.guardian_id.in_(chunk)) for chunk in _chunks(guardians)]
        elsewhere = link.join(_PUPILS, p.id == c.pupil_id).join(_GUARDIANS, g.id == c.guardian_id)
        elsewhere = elsewhere.where(g.household_id != p.household_id)
        queries += [elsewhere.where(c.pupil_id.in_(chunk)) for chunk in _chunks(by_id)]
        seen: set[int] = set()
        for query in queries:
            for row in execute(query).all():
                if row.id in seen:
                    continue
                seen.add(row.id)
                pupil = by_id.get(row.pupil_id) or _Pupil({}, None, row.pupil_id)
                guardian = guardians.get(row.guardian_id) or _Guardian({}, None, row.guardian_id)
                _Link(dict(zip(_LINK_COLUMNS, row[3:], strict=True)), pupil, guardian, saved=True)

    # Working out the changes, household by household.

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
            household = _Household()
            self.new["households"].append(household)
            self.summary.created["households"] += 1
        self.claimed.add(household)
        self.touched.append(household)
        candidates = list({id(g): g for h in existing for g in h.guardians}.values())
        contacts: dict[tuple[str, str], list[ContactRow]] = defaultdict(list)
        for row in rows:
            contacts[_contact_identity(row)].append(row)
        for contact_rows in contacts.values():
            guardian, guardian_changed = self._apply_guardian(
                household, contact_rows, candidates, self.used
            )
            changed |= guardian_changed
            for row in contact_rows:
                pupil = self._apply_pupil(household, row)
                changed |= self.pupil_changed[row.pupil_id]
                changed |= self._apply_link(pupil, guardian, row)
        if available:
            (self.summary.updated if changed else self.summary.unchanged)["households"] += 1

    def _merge(self, source: _Household, *, into: _Household) -> None:
        """Fold ``source`` into ``into``, keeping every call and concern on record."""
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
        if self.dry_run:
            return
        self._write()  # so every row of ``source`` is in the database to be moved
        assert source.id is not None and into.id is not None
        execute = self.session.execute
        for table in (_PUPILS, _GUARDIANS):
            execute(
                update(table).where(table.c.household_id == source.id).values(household_id=into.id)
            )
        taken = select(CampaignEntry.campaign_id).where(CampaignEntry.household_id == into.id)
        execute(
            update(CampaignEntry)
            .where(CampaignEntry.household_id == source.id)
            .where(CampaignEntry.campaign_id.not_in(taken))
            .values(household_id=into.id)
        )
        for model in (CallAttempt, Concern):
            execute(
                update(model).where(model.household_id == source.id).values(household_id=into.id)
            )
        audit.record(
            self.session,
            "household.merged",
            actor="import",
            target_type="household",
            target_id=into.id,
            detail={"merged_household": source.id},
        )
        execute(delete(_HOUSEHOLDS).where(_HOUSEHOLDS.c.id == source.id))

    def _apply_guardian(
        self,
        household: _Household,
        rows: list[ContactRow],
        candidates: list[_Guardian],
        used: set[_Guardian],
    ) -> tuple[_Guardian, bool]:
        first = rows[0]
        free = [g for g in candidates if g not in used]
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
            guardian = _Guardian(new_values | values, household)
            household.guardians.append(guardian)
            self.new["guardians"].append(guardian)
            self.summary.created["guardians"] += 1
            self._apply_numbers(guardian, numbers)
            used.add(guardian)
            return guardian, True
        used.add(guardian)
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

    def _apply_numbers(self, guardian: _Guardian, wanted: dict[str, tuple[str, str]]) -> bool:
        existing = guardian.numbers
        guardian.numbers = {}
        changed = False
        for position, (e164, (label, kind)) in enumerate(wanted.items()):
            number = existing.pop(e164, None)
            values = {"position": position, "label": label, "kind": kind}
            if number is None:
                number = _Number({"e164": e164, **values}, guardian, saved=False)
                self.new["numbers"].append(number)
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

    def _apply_pupil(self, household: _Household, row: ContactRow) -> _Pupil:
        pupil = self.pupils.get(row.pupil_id)
        if row.pupil_id in self.pupil_changed:  # an earlier row already applied this pupil
            assert pupil is not None
            return pupil
        values: dict[str, Any] = {"forename": row.forename, "surname": row.surname}
        for name in ("year", "form"):
            if name in self.columns:
                values[name] = getattr(row, name)
        if row.vulnerable is not None:
            values["vulnerable"] = row.vulnerable
        if row.flags is not None:
            values["flags"] = ",".join(f for f in row.flags if f.casefold() != "vulnerable")
        if "key_adult" in self.columns:
            values["key_adult_id"] = self._key_adult(row)
        if pupil is None:
            defaults = {"mis_id": row.pupil_id, "year": "", "form": "", "vulnerable": False,
                        "flags": "", "key_adult_id": None}  # fmt: skip
            pupil = _Pupil(defaults | values, household)
            household.pupils.add(pupil)
            self.new["pupils"].append(pupil)
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
        if self.staff_ids is None:
            self.staff_ids = dict(self.session.execute(select(StaffUser.email, StaffUser.id)).all())
        found = self.staff_ids.get(row.key_adult)
        if found is None:
            self.export.problems.append(RowProblem(
                row.line, f"key adult {row.key_adult} has no account on the hub; invite them, "
                "then import again", rejected=False,
            ))  # fmt: skip
        return found

    def _apply_link(self, pupil: _Pupil, guardian: _Guardian, row: ContactRow) -> bool:
        self.wanted_links[row.pupil_id].add(guardian)
        values = {
            "relationship": row.relationship,
            "priority": row.priority,
            "parental_responsibility": row.parental_responsibility,
        }
        link = next((c for c in pupil.links if c.guardian is guardian), None)
        if link is None:
            self.new["links"].append(_Link(values, pupil, guardian, saved=False))
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
        self._write()
        for household in self.touched:
            for guardian in list(household.guardians):
                if guardian.links:
                    continue
                self.summary.removed["guardians"] += 1
                self.summary.removed["numbers"] += len(guardian.numbers)
                household.guardians.remove(guardian)
                self._drop("guardians", guardian)
                if not self.dry_run:
                    audit.record(
                        self.session,
                        "guardian.removed",
                        actor="import",
                        target_type="guardian",
                        target_id=guardian.id,
                        detail={"reason": "no longer a contact in the MIS export"},
                    )
        self._write()

    # Writing: a few bulk statements per batch of households.

    def _touch(self, table: str, record: _Record) -> None:
        if record.saved:
            self.dirty[table].append(record)

    def _drop(self, table: str, record: _Record) -> None:
        record.gone = True
        if record.saved:
            self.gone[table].append(record)

    def _write(self) -> None:
        """Write what the households worked out since the last write."""
        new, dirty, gone = self.new, self.dirty, self.gone
        self.new, self.dirty, self.gone = defaultdict(list), defaultdict(list), defaultdict(list)
        if self.dry_run:
            return
        now = utcnow()
        households = [h for h in new["households"] if not h.gone]
        ids = self._insert(
            _HOUSEHOLDS, [{"created_at": now, "updated_at": now} for _ in households]
        )
        for household, household_id in zip(households, ids, strict=True):
            household.id, household.saved = household_id, True

        guardians = [g for g in new["guardians"] if not g.gone]
        ids = self._insert(_GUARDIANS, [{**g.values, "household_id": _id(g)} for g in guardians])
        for guardian, guardian_id in zip(guardians, ids, strict=True):
            guardian.id, guardian.saved = guardian_id, True
            guardian.changed = None
        self._update(_GUARDIANS, dirty["guardians"], lambda g: {"id": g.id})

        pupils = [p for p in new["pupils"] if not p.gone]
        ids = self._insert(_PUPILS, [{**p.values, "household_id": _id(p)} for p in pupils])
        for pupil, pupil_id in zip(pupils, ids, strict=True):
            pupil.id, pupil.saved = pupil_id, True
            pupil.changed = None
        self._update(_PUPILS, dirty["pupils"], lambda p: {"id": p.id})

        def link_key(link: Any) -> dict[str, Any]:
            return {"pupil_id": link.pupil.id, "guardian_id": link.guardian.id}

        self._delete(_LINKS, gone["links"], link_key)
        self._update(_LINKS, dirty["links"], link_key)
        links = [link for link in new["links"] if not link.gone]
        self._insert(_LINKS, [{**link.values, **link_key(link)} for link in links], returning=False)

        def number_key(number: Any) -> dict[str, Any]:
            return {"guardian_id": number.guardian.id, "e164": number.values["e164"]}

        numbers = [n for n in new["numbers"] if not n.gone]
        fresh = {"do_not_contact": False, "created_at": now}
        rows = [{**n.values, **number_key(n), **fresh} for n in numbers]
        # New numbers are written before old ones are deleted, so SQLite never hands
        # a deleted number's id to a new one; unless the old one has the same digits.
        wanted = {(row["guardian_id"], row["e164"]) for row in rows}
        clash = [n for n in gone["numbers"] if tuple(number_key(n).values()) in wanted]
        self._delete(_NUMBERS, clash, number_key)
        self._update(_NUMBERS, dirty["numbers"], number_key)
        self._insert(_NUMBERS, rows, returning=False)
        self._delete(_NUMBERS, [n for n in gone["numbers"] if n not in clash], number_key)

        # A guardian goes with its numbers (and any call's link to them, by the schema).
        removed = [g.id for g in gone["guardians"]]
        for chunk in _chunks(removed):
            self.session.execute(delete(_NUMBERS).where(_NUMBERS.c.guardian_id.in_(chunk)))
            self.session.execute(delete(_GUARDIANS).where(_GUARDIANS.c.id.in_(chunk)))
        for record in (*households, *guardians, *pupils, *links, *numbers):
            record.saved = True
            record.changed = None

    def _insert(
        self, table: Table, rows: list[dict[str, Any]], *, returning: bool = True
    ) -> list[int]:
        """Insert rows in one bulk statement; their new ids, in order."""
        if not rows:
            return []
        if not returning:
            self.session.execute(insert(table), rows)
            return []
        if self.session.get_bind().dialect.name == "sqlite":
            # SQLAlchemy can't batch an ordered RETURNING on SQLite, but SQLite gives
            # the rows of one INSERT rising ids in the order of its VALUES, one more
            # than the largest before; so sorted ids are the rows' ids, in order.
            statement = insert(table).returning(table.c.id)
            return sorted(self.session.execute(statement, rows).scalars())
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(self.session.execute(statement, rows).scalars())

    def _update(self, table: Table, records: list[_Record], key: Any) -> None:
        """Write the changed columns of ``records``, one statement per set of columns."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            if record.gone or not record.changed:
                continue
            columns = tuple(sorted(record.changed))
            values = {
                f"v_{c}": _id(record) if c == "household_id" else record.values[c] for c in columns
            }
            by_columns[columns].append({**{f"k_{k}": v for k, v in key(record).items()}, **values})
            record.changed = None
        for columns, params in by_columns.items():
            keys = [k.removeprefix("k_") for k in params[0] if k.startswith("k_")]
            statement = (
                update(table)
                .where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
                .values({c: bindparam(f"v_{c}") for c in columns})
            )
            self.session.execute(statement, params)

    def _delete(self, table: Table, records: list[_Record], key: Any) -> None:
        keys = [tuple(key(record).values()) for record in records]
        if not keys:
            return
        columns = tuple(table.c[name] for name in key(records[0]))
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            self.session.execute(delete(table).where(tuple_(*columns).in_(chunk)))


def _id(record: Any) -> int:
    """The id of the household a pupil or guardian record belongs to."""
    household = record.household
    assert household is not None and household.id is not None
    return household.id
