"""Reading an import's snapshot from the database, and writing its changes back.

A trust's export has tens of thousands of rows, so neither side goes through the
ORM's unit of work one object at a time: ``load`` reads what the file's pupils
already have with a few batched queries, and ``write`` writes a batch of
households with one bulk statement per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from hub import audit, models
from hub.mis_csv import Export
from hub.models import CallAttempt, CampaignEntry, Concern, StaffUser, utcnow
from hub.people.reconcile import Batch, Merge, Writes
from hub.people.records import Record, Snapshot

_CHUNK = 500  # ids per IN (…) query, well under SQLite's variable limit

_HOUSEHOLDS: Table = models.Household.__table__  # type: ignore[assignment]
_PUPILS: Table = models.Pupil.__table__  # type: ignore[assignment]
_GUARDIANS: Table = models.Guardian.__table__  # type: ignore[assignment]
_NUMBERS: Table = models.PhoneNumber.__table__  # type: ignore[assignment]
_LINKS: Table = models.PupilContact.__table__  # type: ignore[assignment]

_PUPIL_COLUMNS = ("mis_id", "forename", "surname", "year", "form", "home_language",
                  "vulnerable", "flags", "key_adult_id")  # fmt: skip
_GUARDIAN_COLUMNS = ("mis_contact_id", "name", "do_not_contact", "preferred_times")
_NUMBER_COLUMNS = ("position", "label", "e164", "kind")
_LINK_COLUMNS = ("relationship", "priority", "parental_responsibility")

Key = Callable[[Any], dict[str, Any]]


def _chunks(ids: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def load(session: Session, export: Export) -> Snapshot:
    """Read the file's pupils, their households' guardians, numbers and links."""
    execute = session.execute
    snapshot = Snapshot()
    snapshot.pupil_count = session.scalar(select(func.count()).select_from(_PUPILS)) or 0
    if any(row.key_adult for row in export.rows):
        snapshot.staff_ids = dict(execute(select(StaffUser.email, StaffUser.id)).all())
    p, g, n, c = _PUPILS.c, _GUARDIANS.c, _NUMBERS.c, _LINKS.c
    for chunk in _chunks({row.pupil_id for row in export.rows}):
        query = select(p.id, p.household_id, *(p[name] for name in _PUPIL_COLUMNS))
        for row in execute(query.where(p.mis_id.in_(chunk))).all():
            values = dict(zip(_PUPIL_COLUMNS, row[2:], strict=True))
            snapshot.add_pupil(row.id, row.household_id, values)
    for chunk in _chunks(snapshot.households):
        query = select(g.id, g.household_id, *(g[name] for name in _GUARDIAN_COLUMNS))
        for row in execute(query.where(g.household_id.in_(chunk)).order_by(g.id)).all():
            values = dict(zip(_GUARDIAN_COLUMNS, row[2:], strict=True))
            snapshot.add_guardian(row.id, row.household_id, values)
    for chunk in _chunks(snapshot.guardians):
        query = select(n.guardian_id, *(n[name] for name in _NUMBER_COLUMNS))
        query = query.where(n.guardian_id.in_(chunk))
        for row in execute(query.order_by(n.guardian_id, n.position, n.id)).all():
            snapshot.add_number(row.guardian_id, dict(zip(_NUMBER_COLUMNS, row[1:], strict=True)))
    link = select(c.id, c.pupil_id, c.guardian_id, *(c[name] for name in _LINK_COLUMNS))
    queries = [link.where(c.guardian_id.in_(chunk)) for chunk in _chunks(snapshot.guardians)]
    elsewhere = link.join(_PUPILS, p.id == c.pupil_id).join(_GUARDIANS, g.id == c.guardian_id)
    elsewhere = elsewhere.where(g.household_id != p.household_id)
    queries += [elsewhere.where(c.pupil_id.in_(chunk)) for chunk in _chunks(snapshot.pupils_by_id)]
    seen: set[int] = set()
    for query in queries:
        for row in execute(query).all():
            if row.id in seen:
                continue
            seen.add(row.id)
            values = dict(zip(_LINK_COLUMNS, row[3:], strict=True))
            snapshot.add_link(row.pupil_id, row.guardian_id, values)
    return snapshot


def write(session: Session, batch: Batch) -> None:
    """Write one batch of changes, step by step."""
    for step in batch.steps:
        if isinstance(step, Merge):
            _merge(session, step)
        else:
            _Writer(session).write(step)


def _merge(session: Session, merge: Merge) -> None:
    """Move every row of one household to another, keeping every call and concern."""
    source, into = merge.source.id, merge.into.id
    assert source is not None and into is not None
    execute = session.execute
    for table in (_PUPILS, _GUARDIANS):
        execute(update(table).where(table.c.household_id == source).values(household_id=into))
    taken = select(CampaignEntry.campaign_id).where(CampaignEntry.household_id == into)
    execute(
        update(CampaignEntry)
        .where(CampaignEntry.household_id == source)
        .where(CampaignEntry.campaign_id.not_in(taken))
        .values(household_id=into)
    )
    for model in (CallAttempt, Concern):
        execute(update(model).where(model.household_id == source).values(household_id=into))
    audit.record(
        session,
        "household.merged",
        actor="import",
        target_type="household",
        target_id=into,
        detail={"merged_household": source},
    )
    execute(delete(_HOUSEHOLDS).where(_HOUSEHOLDS.c.id == source))


class _Writer:
    """Writes one step's records: a few bulk statements per table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def write(self, writes: Writes) -> None:
        """Insert, update and delete the records of ``writes``, parents first."""
        new, dirty, gone = writes.new, writes.dirty, writes.gone
        for guardian in gone["guardians"]:
            audit.record(
                self.session,
                "guardian.removed",
                actor="import",
                target_type="guardian",
                target_id=guardian.id,
                detail={"reason": "no longer a contact in the MIS export"},
            )
        now = utcnow()
        households = [h for h in new["households"] if not h.gone]
        ids = self._insert(
            _HOUSEHOLDS, [{"created_at": now, "updated_at": now} for _ in households]
        )
        for household, household_id in zip(households, ids, strict=True):
            household.id = household_id

        guardians = [g for g in new["guardians"] if not g.gone]
        ids = self._insert(_GUARDIANS, [{**g.values, "household_id": _id(g)} for g in guardians])
        for guardian, guardian_id in zip(guardians, ids, strict=True):
            guardian.id = guardian_id
        self._update(_GUARDIANS, dirty["guardians"], lambda g: {"id": g.id})

        pupils = [p for p in new["pupils"] if not p.gone]
        ids = self._insert(_PUPILS, [{**p.values, "household_id": _id(p)} for p in pupils])
        for pupil, pupil_id in zip(pupils, ids, strict=True):
            pupil.id = pupil_id
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

    def _update(self, table: Table, records: list[Record], key: Key) -> None:
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

    def _delete(self, table: Table, records: list[Record], key: Key) -> None:
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
