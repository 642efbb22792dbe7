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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

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
)

ENTITIES = ("households", "pupils", "guardians", "numbers")
SAVING = "saving households"
_CHUNK = 500  # ids per IN (…) query, well under SQLite's variable limit


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
    export = read_export(data, progress)
    summary = _Importer(session, export, progress).run()
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


class _Importer:
    """Applies one export's rows to the database in one session."""

    def __init__(self, session: Session, export: Export, progress: Progress | None) -> None:
        self.session = session
        self.export = export
        self.columns = export.columns
        self.progress = progress
        self.summary = ImportSummary(export=export)
        self.claimed: set[Household] = set()
        self.pupils: dict[str, Pupil] = {}
        self.pupil_changed: dict[str, bool] = {}
        self.new_pupils: set[str] = set()
        self.wanted_links: dict[str, set[Guardian]] = defaultdict(set)
        self.touched: list[Household] = []
        self.staff_ids: dict[str, int] | None = None

    def run(self) -> ImportSummary:
        """Apply every good row and return what changed."""
        rows = self.export.rows
        self.pupils = self._load_pupils({row.pupil_id for row in rows})
        self.summary.pupils_not_in_file = self._count_pupils() - len(self.pupils)
        groups = _group_rows(rows)
        for done, group in enumerate(groups, start=1):
            self._apply_household(group)
            if self.progress is not None and (done % 200 == 0 or done == len(groups)):
                self.progress(SAVING, done, len(groups))
        self._remove_dropped_contacts()
        for mis_id, changed in self.pupil_changed.items():
            if mis_id not in self.new_pupils:
                (self.summary.updated if changed else self.summary.unchanged)["pupils"] += 1
        if self.new_pupils:
            self.summary.created["pupils"] = len(self.new_pupils)
        return self.summary

    def _count_pupils(self) -> int:
        return self.session.scalar(select(func.count()).select_from(Pupil)) or 0

    def _load_pupils(self, mis_ids: set[str]) -> dict[str, Pupil]:
        found: dict[str, Pupil] = {}
        ids = sorted(mis_ids)
        household = selectinload(Pupil.household)
        guardians = household.selectinload(Household.guardians)
        options = (
            guardians.selectinload(Guardian.numbers),
            guardians.selectinload(Guardian.contacts),
            household.selectinload(Household.pupils).selectinload(Pupil.contacts),
        )
        for start in range(0, len(ids), _CHUNK):
            query = select(Pupil).where(Pupil.mis_id.in_(ids[start : start + _CHUNK]))
            for pupil in self.session.scalars(query.options(*options)):
                found[pupil.mis_id] = pupil
        return found

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
            self.session.add(household)
            self.summary.created["households"] += 1
        self.claimed.add(household)
        self.touched.append(household)
        candidates = list({g.id: g for h in existing for g in h.guardians}.values())
        contacts: dict[tuple[str, str], list[ContactRow]] = defaultdict(list)
        for row in rows:
            contacts[_contact_identity(row)].append(row)
        used: set[Guardian] = set()
        for contact_rows in contacts.values():
            guardian, guardian_changed = self._apply_guardian(
                household, contact_rows, candidates, used
            )
            changed |= guardian_changed
            for row in contact_rows:
                pupil = self._apply_pupil(household, row)
                changed |= self.pupil_changed[row.pupil_id]
                changed |= self._apply_link(pupil, guardian, row)
        if available:
            (self.summary.updated if changed else self.summary.unchanged)["households"] += 1

    def _merge(self, source: Household, *, into: Household) -> None:
        """Fold ``source`` into ``into``, keeping every call and concern on record."""
        for pupil in list(source.pupils):
            pupil.household = into
        for guardian in list(source.guardians):
            guardian.household = into
        self.session.flush()
        taken = select(CampaignEntry.campaign_id).where(CampaignEntry.household_id == into.id)
        self.session.execute(
            update(CampaignEntry)
            .where(CampaignEntry.household_id == source.id)
            .where(CampaignEntry.campaign_id.not_in(taken))
            .values(household_id=into.id)
        )
        for model in (CallAttempt, Concern):
            self.session.execute(
                update(model).where(model.household_id == source.id).values(household_id=into.id)
            )
        self.summary.removed["households"] += 1
        audit.record(
            self.session,
            "household.merged",
            actor="import",
            target_type="household",
            target_id=into.id,
            detail={"merged_household": source.id},
        )
        self.claimed.add(source)
        self.session.delete(source)
        self.session.flush()

    def _apply_guardian(
        self,
        household: Household,
        rows: list[ContactRow],
        candidates: list[Guardian],
        used: set[Guardian],
    ) -> tuple[Guardian, bool]:
        first = rows[0]
        free = [g for g in candidates if g not in used]
        guardian = next(
            (g for g in free if first.contact_id and g.mis_contact_id == first.contact_id), None
        ) or next(
            (
                g
                for g in free
                if name_key(g.name) == first.contact_key
                and (not first.contact_id or not g.mis_contact_id)
            ),
            None,
        )
        values: dict[str, object] = {"name": first.contact_name}
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
            guardian = Guardian(**values)
            household.guardians.append(guardian)
            self.summary.created["guardians"] += 1
            self._apply_numbers(guardian, numbers)
            used.add(guardian)
            return guardian, True
        used.add(guardian)
        if guardian.household is not household:
            guardian.household = household
        changed = _assign(guardian, values)
        changed |= self._apply_numbers(guardian, numbers)
        (self.summary.updated if changed else self.summary.unchanged)["guardians"] += 1
        return guardian, changed

    def _apply_numbers(self, guardian: Guardian, wanted: dict[str, tuple[str, str]]) -> bool:
        existing = {n.e164: n for n in guardian.numbers}
        changed = False
        for position, (e164, (label, kind)) in enumerate(wanted.items()):
            number = existing.pop(e164, None)
            values = {"position": position, "label": label, "kind": kind}
            if number is None:
                guardian.numbers.append(PhoneNumber(e164=e164, **values))
                self.summary.created["numbers"] += 1
                changed = True
            elif _assign(number, values):
                self.summary.updated["numbers"] += 1
                changed = True
            else:
                self.summary.unchanged["numbers"] += 1
        for number in existing.values():
            guardian.numbers.remove(number)
            self.summary.removed["numbers"] += 1
            changed = True
        return changed

    def _apply_pupil(self, household: Household, row: ContactRow) -> Pupil:
        pupil = self.pupils.get(row.pupil_id)
        if row.pupil_id in self.pupil_changed:  # an earlier row already applied this pupil
            assert pupil is not None
            return pupil
        values: dict[str, object] = {"forename": row.forename, "surname": row.surname}
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
            pupil = Pupil(mis_id=row.pupil_id, household=household, **values)
            self.session.add(pupil)
            self.pupils[row.pupil_id] = pupil
            self.new_pupils.add(row.pupil_id)
            self.pupil_changed[row.pupil_id] = True
            return pupil
        changed = _assign(pupil, values)
        if pupil.household is not household:
            pupil.household = household
            changed = True
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

    def _apply_link(self, pupil: Pupil, guardian: Guardian, row: ContactRow) -> bool:
        self.wanted_links[row.pupil_id].add(guardian)
        values = {
            "relationship_": row.relationship,
            "priority": row.priority,
            "parental_responsibility": row.parental_responsibility,
        }
        link = next((c for c in pupil.contacts if c.guardian is guardian), None)
        if link is None:
            pupil.contacts.append(PupilContact(guardian=guardian, **values))
            return True
        return _assign(link, values)

    def _remove_dropped_contacts(self) -> None:
        """For pupils in the file, drop contacts it no longer lists; then unlinked guardians."""
        for mis_id, wanted in self.wanted_links.items():
            pupil = self.pupils[mis_id]
            for link in list(pupil.contacts):
                if link.guardian not in wanted:
                    pupil.contacts.remove(link)
                    link.guardian.contacts.remove(link)
        self.session.flush()
        for household in self.touched:
            for guardian in list(household.guardians):
                if guardian.contacts:
                    continue
                self.summary.removed["guardians"] += 1
                self.summary.removed["numbers"] += len(guardian.numbers)
                audit.record(
                    self.session,
                    "guardian.removed",
                    actor="import",
                    target_type="guardian",
                    target_id=guardian.id,
                    detail={"reason": "no longer a contact in the MIS export"},
                )
                household.guardians.remove(guardian)
        self.session.flush()


def _assign(obj: object, values: dict[str, object]) -> bool:
    """Set attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed
