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

An import has three steps, each in a module of its own: ``store.load`` reads
what the file's pupils already have into a snapshot of plain records, a
``Reconciliation`` works out the changes in memory a batch of households at a
time, and ``store.write`` writes each batch with one bulk statement per table. A
dry run (the panel's preview) is the same without the writing, so it never
holds the database's write lock.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from hub import audit
from hub.mis_csv import Progress, read_export
from hub.models import StaffUser
from hub.people import store
from hub.people.reconcile import Reconciliation
from hub.people.summary import ENTITIES, ImportSummary

__all__ = ["ENTITIES", "SAVING", "ImportSummary", "import_file"]

SAVING = "saving households"


def import_file(
    session: Session,
    data: bytes,
    *,
    actor: StaffUser | str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read an export and apply its good rows; with ``dry_run`` write nothing."""
    with _cycle_collector_paused():
        export = read_export(data, progress)
        reconciliation = Reconciliation(export, store.load(session, export))
        for batch in reconciliation.batches():
            if not dry_run:
                store.write(session, batch)
            if progress is not None:
                progress(SAVING, batch.households, reconciliation.households)
    summary = reconciliation.summary
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
