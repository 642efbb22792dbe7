"""Importing an MIS contacts export into households, on a real SQLite database."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.exceptions import ImportFileError
from hub.models import (
    AuditEvent,
    Campaign,
    CampaignEntry,
    Guardian,
    Household,
    PhoneNumber,
    Pupil,
    Purpose,
)
from hub.people import ImportSummary, import_file
from hub.sample import school_csv


def row(text: str) -> tuple[str, ...]:
    """A row written as one line, its values separated by commas."""
    return tuple(text.split(","))


HEADER = (
    "UPN", "Forename", "Surname", "Year", "Form", "Contact Name", "Relationship", "Priority",
    "Mobile", "Home", "Work", "Parental Responsibility", "Do Not Contact",
)  # fmt: skip
ZOE_MUM = row("A1,Zoë,O'Brien,Year 3,3B,Siân O'Brien,Mother,1,07700 900001,01632 960001,,Yes,No")
ZOE_DAD = row("A1,Zoë,O'Brien,Year 3,3B,Seán O'Brien,Father,2,07700 900002,,020 7946 0002,Yes,No")
FINN_MUM = row("A2,Finn,O'Brien,Year 6,6A,Siân O'Brien,Mother,1,07700 900001,01632 960001,,Yes,No")

KAI_MUM = row("B1,Kai,Nowak,2,2A,Farah Nowak,Mother,1,07700 900777,,,Yes,No")


def export(*rows: tuple[str, ...], header: tuple[str, ...] = HEADER, delimiter: str = ",") -> str:
    """CSV text as an MIS would write it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def run(database, text: str | bytes, **options) -> ImportSummary:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with database.session() as session:
        return import_file(session, data, actor="cli", **options)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def counts(database) -> tuple[int, int, int, int]:
    with database.session() as session:
        return tuple(count(session, m) for m in (Household, Pupil, Guardian, PhoneNumber))


def households(database) -> list[dict]:
    """Every household as a plain structure, to compare before and after."""
    with database.session() as session:
        result = []
        for household in session.scalars(select(Household).order_by(Household.id)):
            result.append(
                {
                    "id": household.id,
                    "pupils": [(p.mis_id, p.name, p.year, p.form) for p in household.pupils],
                    "guardians": [
                        (g.id, g.name, [(n.label, n.e164, n.kind) for n in g.numbers])
                        for g in household.guardians
                    ],
                }
            )
        return result


def test_a_pupil_with_two_contacts_makes_one_household(database):
    summary = run(database, export(ZOE_MUM, ZOE_DAD))
    assert summary.created == {"households": 1, "pupils": 1, "guardians": 2, "numbers": 4}
    assert summary.export.problems == []
    [household] = households(database)
    assert household["pupils"] == [("A1", "Zoë O'Brien", "3", "3B")]
    mum, dad = household["guardians"]
    assert mum[1:] == (
        "Siân O'Brien",
        [("mobile", "+447700900001", "mobile"), ("home", "+441632960001", "geographic")],
    )
    assert dad[1:] == (
        "Seán O'Brien",
        [("mobile", "+447700900002", "mobile"), ("work", "+442079460002", "geographic")],
    )
    with database.session() as session:
        pupil = session.scalars(select(Pupil)).one()
        links = sorted((c.guardian.name, c.relationship_, c.priority) for c in pupil.contacts)
    assert links == [("Seán O'Brien", "Father", 2), ("Siân O'Brien", "Mother", 1)]


def test_siblings_who_share_a_contact_are_one_household(database):
    summary = run(database, export(ZOE_MUM, ZOE_DAD, FINN_MUM))
    assert summary.created == {"households": 1, "pupils": 2, "guardians": 2, "numbers": 4}
    [household] = households(database)
    assert [p[0] for p in household["pupils"]] == ["A2", "A1"]  # by surname, then forename


def test_a_contact_id_links_siblings_even_when_the_name_is_written_differently(database):
    header = (*HEADER, "Contact ID")
    rows = (
        (*ZOE_MUM, "C1"),
        row("A2,Finn,O'Brien,6,6A,Mrs S O'Brien,Mother,1,07700 900009,,,Yes,No,C1"),
    )
    summary = run(database, export(*rows, header=header))
    assert summary.created["households"] == 1
    assert summary.created["guardians"] == 1


def test_the_same_name_with_no_number_in_common_is_a_different_family(database):
    other = row("B1,Kai,Nowak,2,2A,Siân O'Brien,Mother,1,07700 900777,,,Yes,No")
    summary = run(database, export(ZOE_MUM, other))
    assert summary.created["households"] == 2


def test_importing_the_same_file_again_changes_nothing(database):
    text = export(ZOE_MUM, ZOE_DAD, FINN_MUM)
    run(database, text)
    before = households(database)
    summary = run(database, text)
    assert summary.created == summary.updated == summary.removed == {}
    assert summary.unchanged == {"households": 1, "pupils": 2, "guardians": 2, "numbers": 4}
    assert households(database) == before


def test_an_updated_file_updates_in_place(database):
    run(database, export(ZOE_MUM, ZOE_DAD, FINN_MUM))
    [before] = households(database)
    moved_on = row(
        "A1,Zoë,O'Brien,Year 4,4C,Siân O'Brien,Mother,1,07700 900011,01632 960001,020 7946 0011,"
        "Yes,No"
    )
    finn = (*FINN_MUM[:8], *moved_on[8:])
    summary = run(database, export(moved_on, ZOE_DAD, finn))
    assert summary.created == {"numbers": 2}
    assert summary.removed == {"numbers": 1}
    assert summary.updated == {"households": 1, "pupils": 1, "guardians": 1}
    assert summary.unchanged == {"pupils": 1, "guardians": 1, "numbers": 3}
    [after] = households(database)
    assert after["id"] == before["id"]
    assert after["pupils"] == [("A2", "Finn O'Brien", "6", "6A"), ("A1", "Zoë O'Brien", "4", "4C")]
    mum = after["guardians"][0]
    assert mum[0] == before["guardians"][0][0]
    assert mum[2] == [
        ("mobile", "+447700900011", "mobile"),
        ("home", "+441632960001", "geographic"),
        ("work", "+442079460011", "geographic"),
    ]
    assert counts(database) == (1, 2, 2, 5)


def test_a_contact_the_mis_no_longer_lists_can_no_longer_be_called(database):
    run(database, export(ZOE_MUM, ZOE_DAD))
    summary = run(database, export(ZOE_MUM))
    assert summary.removed == {"guardians": 1, "numbers": 2}
    [household] = households(database)
    assert [g[1] for g in household["guardians"]] == ["Siân O'Brien"]
    with database.session() as session:
        numbers = session.scalars(select(PhoneNumber.e164)).all()
        removed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "guardian.removed")
        ).all()
    assert "+447700900002" not in numbers
    assert len(removed) == 1


def test_pupils_missing_from_a_partial_file_are_left_alone(database):
    run(database, export(ZOE_MUM, KAI_MUM))
    summary = run(database, export(KAI_MUM))
    assert summary.pupils_not_in_file == 1
    assert counts(database) == (2, 2, 2, 3)
    assert any(
        "1 pupils already on the hub are not in this file" in line for line in summary.lines()
    )


def test_a_new_sibling_joins_the_existing_household(database):
    run(database, export(ZOE_MUM, ZOE_DAD))
    [before] = households(database)
    summary = run(database, export(ZOE_MUM, ZOE_DAD, FINN_MUM))
    assert summary.created == {"pupils": 1}
    [after] = households(database)
    assert after["id"] == before["id"]
    assert len(after["pupils"]) == 2


def test_families_the_mis_now_links_are_merged_keeping_their_campaigns(database):
    finn_alone = row("A2,Finn,O'Brien,6,6A,Aoife Brannigan,Grandmother,1,07700 900555,,,No,No")
    run(database, export(ZOE_MUM, finn_alone))
    with database.session() as session:
        finn_household = session.scalars(select(Pupil).where(Pupil.mis_id == "A2")).one()
        campaign = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE)
        session.add(campaign)
        session.add(CampaignEntry(campaign=campaign, household_id=finn_household.household_id))
    summary = run(database, export(ZOE_MUM, FINN_MUM, finn_alone))
    assert summary.removed == {"households": 1}
    [household] = households(database)
    assert {p[0] for p in household["pupils"]} == {"A1", "A2"}
    with database.session() as session:
        entry = session.scalars(select(CampaignEntry)).one()
        assert entry.household_id == household["id"]


def test_a_contact_the_mis_splits_between_families_keeps_each_pupils_own_numbers(database):
    # Without contact ids, one name with no number in common is two people: the
    # second must not take over the first's guardian (and with it her numbers).
    header = ("UPN", "Forename", "Surname", "Contact Name", "Mobile")
    zoe, kai = row("P1,Zoë,Ng,Ivy Ng,07700 900001"), row("P2,Kai,Ng,Ivy Ng,07700 900001")
    run(database, export(zoe, kai, header=header))
    kai_elsewhere = row("P2,Kai,Ng,Ivy Ng,07700 900002")
    summary = run(database, export(zoe, kai_elsewhere, header=header))
    assert summary.created == {"households": 1, "guardians": 1, "numbers": 1}
    assert summary.removed == {}
    with database.session() as session:
        numbers = {
            pupil.mis_id: [n.e164 for c in pupil.contacts for n in c.guardian.numbers]
            for pupil in session.scalars(select(Pupil))
        }
        homes = {p.mis_id: p.household_id for p in session.scalars(select(Pupil))}
    assert numbers == {"P1": ["+447700900001"], "P2": ["+447700900002"]}
    assert homes["P1"] != homes["P2"]


def test_a_dry_run_reports_exactly_what_the_import_then_does(database):
    before = school_csv(300, seed=3)
    run(database, before)
    lines = before.splitlines()
    header, rows = lines[0], lines[1:]
    # A week later: pupils left, a contact changed number, a new pupil joined a family.
    changed = rows[151].replace("07700 900", "01632 960")
    joined = rows[200].replace(rows[200].split(",")[0], "P999999")
    after = "\n".join([header, *rows[10:150], changed, *rows[152:], joined])
    preview = run(database, after, dry_run=True)
    real = run(database, after)
    assert preview.lines()[:-1] == real.lines()
    assert (preview.created, preview.updated, preview.removed) == (
        real.created, real.updated, real.removed,
    )  # fmt: skip
    assert real.created or real.updated or real.removed


def test_flags_mark_vulnerable_pupils(database):
    header = (*HEADER, "Flags")
    row = (*ZOE_MUM, "SEN; Vulnerable; PP")
    run(database, export(row, header=header))
    with database.session() as session:
        pupil = session.scalars(select(Pupil)).one()
        assert pupil.vulnerable
        assert pupil.flags == "PP,SEN"


def test_what_the_export_does_not_say_is_kept(database):
    run(database, export(ZOE_MUM))
    with database.session() as session:
        session.scalars(select(Pupil)).one().vulnerable = True  # set by the DSL on the panel
        session.scalars(select(PhoneNumber)).first().do_not_contact = True  # set by an admin
    run(database, export(ZOE_MUM))
    with database.session() as session:
        assert session.scalars(select(Pupil)).one().vulnerable
        assert (
            session.scalars(select(PhoneNumber).order_by(PhoneNumber.position))
            .first()
            .do_not_contact
        )


def test_a_contact_with_no_number_is_imported_with_a_warning(database):
    no_number = row("A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,1,,,,Yes,No")
    summary = run(database, export(no_number))
    assert [str(p) for p in summary.export.warnings] == [
        "line 2: Siân O'Brien has no phone number; imported without one"
    ]
    assert counts(database) == (1, 1, 1, 0)


def bad(**changes: str) -> tuple[str, ...]:
    """Zoë's row with some columns changed, named like ``contact_name=...``."""
    row = dict(zip((h.lower() for h in HEADER), ZOE_MUM, strict=True))
    row.update({k.replace("_", " "): v for k, v in changes.items()})
    return tuple(row.values())


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (bad(upn=""), "the pupil id is empty"),
        (bad(surname=""), "pupil A1 has no surname"),
        (bad(contact_name=""), "the contact's name is empty for pupil A1"),
        (bad(mobile="07700 9001"), "the Mobile number is not a valid phone number"),
        (bad(mobile="ask at the office"), "the Mobile number is not a phone number"),
        (
            bad(home="0909 879 0001"),
            "the Home number is a premium-rate number, which the hub will never dial",
        ),
        (bad(work="118 118"), "the Work number is a short code, which the hub will never dial"),
        (
            bad(work="070 0000 0001"),
            "the Work number is a personal (070) number, which the hub will never dial",
        ),
        (bad(year="Purple"), "year group 'Purple' is not a year (use N1, N2, R or 1 to 14)"),
        (bad(priority="first"), "contact priority 'first' is not a whole number from 1 up"),
        (
            bad(parental_responsibility="maybe"),
            "parental responsibility is 'maybe', which is neither yes nor no",
        ),
        (
            bad(do_not_contact="sometimes"),
            "do not contact is 'sometimes', which is neither yes nor no",
        ),
        ((*ZOE_MUM, "stray"), "has 14 values but the header has 13 columns (a stray comma?)"),
    ],
)
def test_each_bad_row_is_named_by_line_and_the_good_rows_still_import(database, bad_row, message):
    summary = run(database, export(KAI_MUM, bad_row, ZOE_DAD))
    assert [str(p) for p in summary.export.rejected] == [f"line 3: {message}"]
    with database.session() as session:
        assert count(session, Pupil) == 2  # B1, and A1 from its good row
    assert len(summary.export.rows) == 2


def test_a_repeated_row_and_a_renamed_pupil_point_at_the_first_line(database):
    renamed = bad(forename="Zoe-Marie")
    summary = run(database, export(ZOE_MUM, ZOE_MUM, renamed))
    assert [str(p) for p in summary.export.rejected] == [
        "line 3: repeats Siân O'Brien as a contact of pupil A1 (see line 2)",
        "line 4: pupil A1 is named differently on line 2",
    ]


def test_a_number_never_appears_in_a_problem(database):
    summary = run(database, export(bad(mobile="07700 9001"), bad(home="0909 879 0001")))
    for problem in summary.export.problems:
        assert not re.search(r"\d{4}", str(problem).removeprefix(f"line {problem.line}: "))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_excel_encodings_keep_names_intact(database, encoding):
    curly = row("A3,Chloé,D’Arcy,R,RB,Siân D’Arcy,Mother,1,07700 900003,,,Yes,No")
    data = export(ZOE_MUM, curly, delimiter="\t" if encoding == "utf-16" else ",")
    summary = run(database, data.encode(encoding))
    assert summary.export.problems == []
    names = {p[1] for h in households(database) for p in h["pupils"]}
    assert names == {"Zoë O'Brien", "Chloé D’Arcy"}
    assert {p[2] for h in households(database) for p in h["pupils"]} == {"3", "R"}


def test_a_semicolon_separated_file_works(database):
    summary = run(database, export(ZOE_MUM, ZOE_DAD, delimiter=";"))
    assert summary.created["guardians"] == 2


def test_column_names_are_matched_loosely(database):
    header = row(
        "Adno,Legal Forename,Legal Surname,NC Year,Reg Group,Contact Forename,Contact Surname,"
        "Relationship to Pupil,Contact Priority,Telephone (Mobile),Home Telephone,Some Other Column"
    )
    values = row("A1,Zoë,O'Brien,3,3B,Siân,O'Brien,Mother,1,07700 900001,01632 960001,ignored")
    summary = run(database, export(values, header=header))
    assert summary.created == {"households": 1, "pupils": 1, "guardians": 1, "numbers": 2}
    assert summary.export.ignored_columns == ["Some Other Column"]
    assert "Ignored columns: Some Other Column." in summary.lines()


def _home_languages(database) -> dict[str, str]:
    with database.session() as session:
        return dict(session.execute(select(Pupil.mis_id, Pupil.home_language)).all())


@pytest.mark.parametrize("column", ["Home Language", "First Language", "Language", "Main Language"])
def test_a_pupils_home_language_is_read_from_any_of_its_usual_columns(database, column):
    header = (*HEADER, column)
    run(database, export((*ZOE_MUM, "Polish"), (*KAI_MUM, "POL"), header=header))
    assert _home_languages(database) == {"A1": "Polish", "B1": "POL"}
    # Read again with a change, and then from a file that has no such column: the
    # change is taken, and a file that says nothing about it leaves it as it was.
    run(database, export((*ZOE_MUM, "English"), (*KAI_MUM, "POL"), header=header))
    assert _home_languages(database) == {"A1": "English", "B1": "POL"}
    run(database, export(ZOE_MUM, KAI_MUM))
    assert _home_languages(database) == {"A1": "English", "B1": "POL"}


def _xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\r\n \r\n", "The file is empty."),
        (export().encode(), "The file has a header row but no pupils in it."),
        (_xlsx(), "That is an Excel workbook, not a CSV file"),
        (bytes(range(256)) * 4, "not a CSV text file the hub can read"),
        (b"\x81\x8d\x8f\x90\x9d,UPN\n", "not a CSV text file the hub can read"),
        (
            b"Name,Score\nKai,3\n",
            "This doesn't look like an MIS contacts export: it has no pupil id",
        ),
        (b"UPN,Forename,Surname,Contact Name\nA1,Zo,Ab,Mum\n", "no phone column"),
    ],
)
def test_an_unreadable_file_gives_one_error_and_writes_nothing(database, data, message):
    with pytest.raises(ImportFileError, match=re.escape(message)):
        run(database, data)
    assert counts(database) == (0, 0, 0, 0)
    with database.session() as session:
        assert count(session, AuditEvent) == 0


def test_a_dry_run_reports_but_writes_nothing(database):
    summary = run(database, export(ZOE_MUM, ZOE_DAD), dry_run=True)
    assert summary.created["guardians"] == 2
    assert "Dry run: nothing was written." in summary.lines()
    assert counts(database) == (0, 0, 0, 0)


def test_an_import_is_audited_without_any_number(database):
    run(database, export(ZOE_MUM, ZOE_DAD))
    with database.session() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor) == ("people.imported", "cli")
    assert event.detail["households_created"] == 1
    assert event.detail["numbers_created"] == 4
    assert "7700" not in str(event.detail)


def test_a_school_of_three_thousand_pupils(database):
    text = school_csv(3000, seed=7)
    rows = list(csv.DictReader(io.StringIO(text)))
    pupils = {r["Pupil MIS ID"] for r in rows}
    families = {frozenset(r["Contact ID"] for r in rows if r["Pupil MIS ID"] == p) for p in pupils}
    contacts = {r["Contact ID"] for r in rows}
    progress: list[tuple[str, int, int]] = []

    summary = run(database, text, progress=lambda *report: progress.append(report))

    assert summary.export.problems == []
    assert len(pupils) == 3000
    assert summary.created["pupils"] == 3000
    assert summary.created["households"] == len(families)
    assert summary.created["guardians"] == len(contacts)
    rows_read = [p for p in progress if p[0] == "reading rows"]
    assert rows_read[0] == ("reading rows", 500, len(rows))
    assert rows_read[-1] == ("reading rows", len(rows), len(rows))
    assert progress[-1] == ("saving households", len(families), len(families))
    again = run(database, text)
    assert again.created == again.updated == again.removed == {}
    assert again.unchanged["pupils"] == 3000


def test_a_key_adult_column_links_pupils_to_staff_accounts(database):
    from hub import users
    from hub.models import Role

    with database.session() as session:
        users.add(session, "tutor@school.example", "Tara Tutor", Role.STAFF,
                  "correct horse battery", actor="test")  # fmt: skip
    header = (*HEADER, "Key Adult Email")
    summary = run(database, export((*ZOE_MUM, "Tutor@School.example"),
                                   (*KAI_MUM, "nobody@school.example"), header=header))  # fmt: skip
    assert [str(p) for p in summary.export.warnings] == [
        "line 3: key adult nobody@school.example has no account on the hub; invite them, "
        "then import again"
    ]
    with database.session() as session:
        pupils = {p.mis_id: p.key_adult_id for p in session.scalars(select(Pupil))}
    assert pupils["A1"] is not None and pupils["B1"] is None
