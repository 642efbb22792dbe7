"""Working out an import's changes in memory: plain rows and a snapshot in, changes out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.mis_csv import read_export
from hub.people.reconcile import Batch, Reconciliation, Writes
from hub.people.records import Snapshot
from hub.people.summary import ImportSummary

HEADER = "Pupil MIS ID,Forename,Surname,Year,Form,Contact ID,Contact Name,Relationship,Priority,"
HEADER += "Mobile,Parental Responsibility"
ZOE_MUM = "A1,Zoe,Obi,Year 3,3B,C1,Sian Obi,Mother,1,07700 900001,Yes"
FINN_MUM = "A2,Finn,Obi,Year 6,6A,C1,Sian Obi,Mother,1,07700 900001,Yes"
KAI_DAD = "B1,Kai,Nowak,Year 2,2A,C2,Piotr Nowak,Father,1,07700 900777,Yes"


@dataclass
class Changes:
    summary: ImportSummary
    households: int
    batches: list[Batch]

    def records(self, kind: str, table: str) -> list[Any]:
        """Every record of ``table`` that is ``new``, ``dirty`` or ``gone``, in order."""
        return [
            record
            for batch in self.batches
            for step in batch.steps
            if isinstance(step, Writes)
            for record in getattr(step, kind)[table]
        ]


def changes(snapshot: Snapshot, *rows: str) -> Changes:
    """The changes of importing ``rows`` into what ``snapshot`` holds."""
    export = read_export("\r\n".join((HEADER, *rows)).encode())
    assert export.problems == []
    reconciliation = Reconciliation(export, snapshot)
    batches = list(reconciliation.batches())
    return Changes(reconciliation.summary, reconciliation.households, batches)


def on_the_hub(**pupils: int) -> Snapshot:
    """A snapshot of Zoe (A1) and her mother, and of other pupils of hers (MIS id=pupil id)."""
    snapshot = Snapshot(pupil_count=1 + len(pupils))
    values = {"mis_id": "A1", "forename": "Zoe", "surname": "Obi", "year": "3", "form": "3B",
              "vulnerable": False, "flags": "", "key_adult_id": None}  # fmt: skip
    snapshot.add_pupil(10, 1, values)
    guardian = {"mis_contact_id": "C1", "name": "Sian Obi", "do_not_contact": False,
                "preferred_times": ""}  # fmt: skip
    snapshot.add_guardian(20, 1, guardian)
    number = {"position": 0, "label": "mobile", "e164": "+447700900001", "kind": "mobile"}
    snapshot.add_number(20, number)
    link = {"relationship": "Mother", "priority": 1, "parental_responsibility": True}
    snapshot.add_link(10, 20, link)
    for pupil_id in pupils.values():
        snapshot.add_link(pupil_id, 20, link)  # a pupil the file may not list
    return snapshot


def test_a_new_family_is_created_whole():
    found = changes(Snapshot(), ZOE_MUM, FINN_MUM, KAI_DAD)

    assert found.summary.created == {"households": 2, "pupils": 3, "guardians": 2, "numbers": 2}
    assert found.summary.updated == found.summary.removed == {}
    assert found.households == 2
    assert [len(h.pupils) for h in found.records("new", "households")] == [2, 1]
    assert len(found.records("new", "links")) == 3


def test_the_same_file_again_changes_nothing():
    found = changes(on_the_hub(), ZOE_MUM)

    assert found.summary.unchanged == {"households": 1, "pupils": 1, "guardians": 1, "numbers": 1}
    assert found.summary.created == found.summary.updated == found.summary.removed == {}
    assert all(not found.records(kind, "numbers") for kind in ("new", "dirty", "gone"))


def test_a_changed_number_replaces_the_old_one():
    found = changes(on_the_hub(), ZOE_MUM.replace("07700 900001", "07700 900002"))

    assert found.summary.created["numbers"] == found.summary.removed["numbers"] == 1
    assert found.summary.updated["guardians"] == 1
    assert [n.values["e164"] for n in found.records("new", "numbers")] == ["+447700900002"]
    assert [n.values["e164"] for n in found.records("gone", "numbers")] == ["+447700900001"]


def test_a_pupil_who_left_is_left_alone_and_keeps_their_contact():
    found = changes(on_the_hub(left=11), ZOE_MUM)

    assert found.summary.pupils_not_in_file == 1
    assert found.summary.removed == {}
    assert found.records("gone", "links") == found.records("gone", "guardians") == []


def test_a_sibling_joins_the_existing_household():
    snapshot = on_the_hub()
    found = changes(snapshot, ZOE_MUM, FINN_MUM)

    assert found.summary.created == {"pupils": 1}
    assert found.summary.updated["households"] == 1
    assert found.summary.unchanged["guardians"] == 1
    (finn,) = found.records("new", "pupils")
    assert finn.values["mis_id"] == "A2"
    assert finn.household is snapshot.households[1]
    (link,) = found.records("new", "links")
    assert link.pupil is finn and link.guardian is snapshot.guardians[20]


def test_a_contact_the_file_no_longer_lists_is_removed():
    snapshot = on_the_hub()
    found = changes(snapshot, ZOE_MUM.replace("C1,Sian Obi,Mother", "C3,Ama Obi,Aunt"))

    assert found.summary.created["guardians"] == found.summary.removed["guardians"] == 1
    assert found.summary.removed["numbers"] == 1  # the old mother's number, with her
    assert found.records("gone", "guardians") == [snapshot.guardians[20]]
