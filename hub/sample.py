"""A made-up school's MIS export, for the demo, staff training, tests and benchmarks.

Every name is invented and every number is in one of Ofcom's blocks reserved for
drama (07700 900xxx, 01632 960xxx, 020 7946 0xxx), so nothing here can ring a
real family. The same seed always gives the same file.
"""

from __future__ import annotations

import csv
import io
import random

# fmt: off
HEADERS = (
    "Pupil MIS ID", "Legal Forename", "Legal Surname", "Year", "Reg Group", "Vulnerable", "Flags",
    "Contact ID", "Contact Name", "Relationship", "Priority", "Parental Responsibility",
    "Telephone (Mobile)", "Telephone (Home)", "Telephone (Work)", "Do Not Contact",
)
# fmt: on

# fmt: off
FORENAMES = (
    "Zoë", "Siân", "Seán", "Chloé", "Aoife", "Niamh", "Amara", "Tomasz", "Kwame", "Priya",
    "Oliver", "Isla", "Mohammed", "Freya", "Arjun", "Maya", "Eilidh", "Dafydd", "Leon", "Ruby",
    "Hamza", "Poppy", "Noah", "Ava", "Idris", "Elsie", "Kai", "Lily", "Rhys", "Nia", "Yusuf",
    "Grace", "Ellis", "Martha", "Ibrahim", "Bethan", "Oscar", "Hana", "Finley", "Esme",
)
# fmt: on
# fmt: off
SURNAMES = (
    "O'Brien", "Nowak", "Okafor", "Ahmed", "Kowalski", "MacLeod", "Fairweather", "Penhaligon",
    "Ashdown", "Thistlewood", "Quillfeather", "Marchbank", "Oduya", "Brannigan", "Llewellyn",
    "Castellano", "Featherstone", "Ravensworth", "Dimitriou", "Hollingsworth", "Kingsley-Amis",
    "Nakamura", "Oyelaran", "Pemberton", "Rosewarne", "Szymańska", "Trevithick", "Underhill",
    "Vasquez-Hale", "Whitlock", "Yardley", "Zielinski", "Abernethy", "Blackwood", "Cheung",
    "Delacroix", "Elphinstone", "Fitzwilliam", "Gallagher", "Hargreaves",
)
# fmt: on
# fmt: off
WOMEN = ("Sarah", "Aisling", "Bronwen", "Farah", "Joanne", "Catrin", "Rosalind", "Nkechi", "Morag",
         "Eleri")
MEN = ("James", "Gareth", "Marek", "Dev", "Callum", "Stefan", "Imran", "Bartosz", "Rhodri",
       "Kwabena")
# A generation older than the parents.
GRANDMOTHERS = ("Margaret", "Brenda", "Maureen", "Gwendolyn", "Pauline", "Dorothy")
# First names that fit each relationship, so no "Gareth Nowak (Mother)" on a card.
ADULT_FORENAMES = {
    "Mother": WOMEN, "Aunt": WOMEN, "Grandmother": GRANDMOTHERS,
    "Father": MEN, "Stepfather": MEN, "Carer": WOMEN + MEN,
}
RELATIONSHIPS = (
    ("Mother", "Father"), ("Mother", "Stepfather"), ("Father", "Grandmother"), ("Carer", "Aunt"),
)
# fmt: on
FORMS = ("A", "B", "C")
FLAGS = ("", "", "", "", "SEN", "PP", "EAL", "SEN;PP")


def adult_forename(rng: random.Random, relationship: str, taken: set[str]) -> str:
    """A first name that fits ``relationship``, not one already ``taken`` in the family."""
    name = rng.choice([n for n in ADULT_FORENAMES[relationship] if n not in taken])
    taken.add(name)
    return name


def _number(rng: random.Random, kind: str, used: set[str]) -> str:
    """A drama-range number not yet given out (until a block runs out)."""
    blocks = {
        "mobile": ("07700 900{:03d}", 1000),
        "home": ("01632 960{:03d}", 1000),
        "work": ("020 7946 0{:03d}", 1000),
    }
    pattern, size = blocks[kind]
    for _ in range(20):
        number = pattern.format(rng.randrange(size))
        if number not in used:
            break
    used.add(number)
    return number


def school_csv(pupils: int = 60, seed: int = 2026) -> str:
    """The CSV text of an MIS contacts export for a school of ``pupils`` pupils."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    used: set[str] = set()
    pupil_no = 0
    contact_no = 0
    while pupil_no < pupils:
        surname = rng.choice(SURNAMES)
        contacts = []
        relations = rng.choice(RELATIONSHIPS)
        taken: set[str] = set()
        for priority in range(1, rng.choice((1, 2, 2)) + 1):
            contact_no += 1
            numbers = [_number(rng, "mobile", used)]
            numbers.append(_number(rng, "home", used) if rng.random() < 0.4 else "")
            numbers.append(_number(rng, "work", used) if rng.random() < 0.2 else "")
            contacts.append(
                (
                    f"C{contact_no:06d}",
                    f"{adult_forename(rng, relations[priority - 1], taken)} {surname}",
                    relations[priority - 1],
                    priority,
                    numbers,
                )
            )
        for _ in range(min(rng.choice((1, 1, 2, 2, 3)), pupils - pupil_no)):
            pupil_no += 1
            year = rng.randint(1, 11)
            vulnerable = "Yes" if rng.random() < 0.03 else "No"
            flags = rng.choice(FLAGS)
            forename = rng.choice(FORENAMES)
            form = f"{year}{rng.choice(FORMS)}"
            for contact_id, name, relationship, priority, numbers in contacts:
                writer.writerow(
                    (
                        f"P{pupil_no:06d}",
                        forename,
                        surname,
                        f"Year {year}",
                        form,
                        vulnerable,
                        flags,
                        contact_id,
                        name,
                        relationship,
                        priority,
                        "Yes",
                        *numbers,
                        "No",
                    )
                )
    return out.getvalue()
