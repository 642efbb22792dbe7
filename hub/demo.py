"""``phonehub demo``: a sample school on this machine, with nothing to configure.

It writes a config and a SQLite database into a data folder (a temporary one,
or ``--data DIR`` to keep it), imports a made-up school's MIS export and creates
one account per role, then shows what the hub now holds as staff would see it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hub import users
from hub.config import load_config
from hub.db import open_database
from hub.models import Guardian, Household, Pupil, Role, StaffUser
from hub.numbers import format_for_people, mask
from hub.people import import_file
from hub.sample import school_csv

DEMO_SCHOOL = "Northfield School (demo)"
DEMO_NUMBER = "01632 960000"
DEMO_PASSWORD = "practice-phone-hub"
DEMO_ACCOUNTS = (
    ("admin@demo.example", "Alex Admin", Role.ADMIN),
    ("staff@demo.example", "Sam Teacher", Role.STAFF),
    ("dsl@demo.example", "Dana Safeguarding", Role.DSL),
)

CONFIG_TEMPLATE = """\
# Written by `phonehub demo`. A real hub reads /etc/phonehub/phonehub.toml.
[hub]
name = "demo"
data_dir = "{data}"

[school]
name = "{school}"
number = "{number}"

[line]
control_socket = "{data}/line.sock"
"""


def run_demo(data_dir: Path | None) -> int:
    """Set up (or reopen) the demo school and print what it holds."""
    data = (data_dir or Path(tempfile.mkdtemp(prefix="phonehub-demo-"))).resolve()
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_path = data / "phonehub.toml"
    if not config_path.exists():
        config_path.write_text(
            CONFIG_TEMPLATE.format(data=data, school=DEMO_SCHOOL, number=DEMO_NUMBER)
        )
    config = load_config(config_path)
    with open_database(config.database.url) as database, database.session() as session:
        if session.scalar(select(func.count()).select_from(Pupil)) == 0:
            summary = import_file(session, school_csv().encode(), actor="demo")
            print("Imported the sample school's MIS export:")
            for line in summary.lines():
                print("  " + line)
        _ensure_accounts(session)
        print()
        _show_households(session)
    print()
    print(f"School:   {config.school.name}, calling from {format_for_people(config.school.number)}")
    print(f"Data:     {data}   (config: {config_path})")
    print("Accounts (password for each: " + DEMO_PASSWORD + "):")
    for email, name, role in DEMO_ACCOUNTS:
        print(f"  {role.value:<5}  {email:<22} {name}")
    print()
    print("Try: phonehub --config " + str(config_path) + " user list")
    return 0


def _ensure_accounts(session: Session) -> None:
    for email, name, role in DEMO_ACCOUNTS:
        if users.find(session, email) is None:
            users.add(session, email, name, role, DEMO_PASSWORD, actor="demo", opted_in=True)


def _show_households(session: Session) -> None:
    households = session.scalars(
        select(Household)
        .options(
            selectinload(Household.pupils),
            selectinload(Household.guardians).selectinload(Guardian.numbers),
        )
        .order_by(Household.id)
        .limit(5)
    ).all()
    total = session.scalar(select(func.count()).select_from(Household))
    staff = session.scalar(select(func.count()).select_from(StaffUser))
    print(f"The first households of {total}, as staff see them ({staff} accounts):")
    for household in households:
        pupils = ", ".join(f"{p.name} (Y{p.year} {p.form})" for p in household.pupils)
        print(f"  {pupils}")
        for guardian in household.guardians:
            numbers = ", ".join(mask(n.e164, n.label) for n in guardian.numbers) or "no number"
            print(f"      {guardian.name}: {numbers}")
