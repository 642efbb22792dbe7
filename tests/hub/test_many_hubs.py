"""Many hubs on one PostgreSQL: eight hub processes, four staff each, one campaign.

Every claim goes through ``SELECT … FOR UPDATE SKIP LOCKED`` on a real PostgreSQL
server; the test checks what the school would: every family called exactly once,
none lost, none called twice, and every hub visible on any hub's status page.
Numbers are Ofcom drama numbers; names are made up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from hub.config import parse_config
from hub.db import open_database
from hub.exceptions import LineError
from hub.line.attempts import machine_id, register_hub
from hub.models import (
    AuditEvent,
    CallAttempt,
    Campaign,
    CampaignEntry,
    EntryState,
    Guardian,
    Household,
    Hub,
    PhoneNumber,
    Pupil,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from tests.postgres import PostgresServer
from tests.web.conftest import Accounts
from web import create_app

# Eight hub processes at once take every core.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone

HUBS, STAFF_PER_HUB, HOUSEHOLDS = 8, 4, 2000
ROOT = Path(__file__).resolve().parents[2]


def hub_panel(url: str, folder: Path) -> Flask:
    """The panel of a hub called hub-1 whose database is at ``url``."""
    config = parse_config(
        f'[hub]\nname = "hub-1"\ndata_dir = "{folder}"\n'
        f'[database]\nurl = "{url}"\n'
        f'[line]\ncontrol_socket = "{folder / "line.sock"}"\n'
    )
    return create_app({"PHONEHUB": config, "TESTING": True})


def seed(url: str) -> tuple[int, list[list[int]]]:
    """One open campaign of HOUSEHOLDS families, and STAFF_PER_HUB staff for each hub."""
    with open_database(url) as database, database.session() as session:
        campaign = Campaign(name="Autumn welfare calls", purpose=Purpose.WELFARE, cadence_days=14)
        households = []
        for n in range(HOUSEHOLDS):
            household = Household(
                pupils=[Pupil(mis_id=f"P{n:05d}", forename="Ada", surname=f"Lovelace{n}",
                              year="8", form="8L")],
            )  # fmt: skip
            guardian = Guardian(household=household, name=f"Ruth Lovelace{n}")
            guardian.numbers = [
                PhoneNumber(label="mobile", e164=f"+447700900{n % 1000:03d}", kind="mobile")
            ]
            households.append(household)
        session.add(campaign)
        session.add_all(households)
        session.flush()
        session.add_all(
            CampaignEntry(campaign_id=campaign.id, household_id=household.id)
            for household in households
        )
        staff = [
            [
                StaffUser(email=f"caller{hub}-{n}@school.example", name=f"Caller {hub}-{n}",
                          role=Role.STAFF, password_hash="-", opted_in=True, active=True)
                for n in range(STAFF_PER_HUB)
            ]
            for hub in range(HUBS)
        ]  # fmt: skip
        session.add_all(person for team in staff for person in team)
        session.flush()
        return campaign.id, [[person.id for person in team] for team in staff]


def test_eight_hubs_share_one_campaign_and_every_family_is_called_exactly_once(
    postgres: PostgresServer, tmp_path: Path
):
    url = postgres.new_database()
    campaign_id, staff = seed(url)
    hubs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.hub.hub_worker", url, f"hub-{n + 1}",
             str(campaign_id), *map(str, team)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for n, team in enumerate(staff)
    ]  # fmt: skip
    try:
        for hub in hubs:
            assert hub.stdout is not None and hub.stdout.readline().strip() == "ready"
        for hub in hubs:  # all eight start together
            assert hub.stdin is not None
            hub.stdin.write("go\n")
            hub.stdin.flush()
        results = [hub.communicate(timeout=240) for hub in hubs]
    finally:
        for hub in hubs:
            hub.kill()
    for hub, (_out, err) in zip(hubs, results, strict=True):
        assert hub.returncode == 0, err
    claims = [
        (int(staff_id), entry_id)
        for out, _ in results
        for staff_id, entry_ids in json.loads(out.splitlines()[-1]).items()
        for entry_id in entry_ids
    ]
    counted = Counter(entry_id for _, entry_id in claims)

    with open_database(url) as database, database.session() as session:
        entry_ids = set(
            session.scalars(
                select(CampaignEntry.id).where(CampaignEntry.campaign_id == campaign_id)
            )
        )
        # Every family claimed once: none twice, none lost.
        assert [entry for entry, times in counted.items() if times > 1] == []
        assert set(counted) == entry_ids and len(entry_ids) == HOUSEHOLDS
        states = Counter(session.scalars(select(CampaignEntry.state)))
        assert states == {EntryState.DONE: HOUSEHOLDS}
        # One call per family, made by the member of staff who claimed it.
        calls = session.execute(select(CallAttempt.entry_id, CallAttempt.staff_id)).all()
        assert sorted(calls) == sorted((entry, person) for person, entry in claims)
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "entry.claimed")
            )
            == HOUSEHOLDS
        )
        # The work was shared: every hub and most of the staff made calls.
        per_hub = Counter(session.scalars(select(Hub.name).join(CallAttempt)))
        assert sorted(per_hub) == sorted(f"hub-{n + 1}" for n in range(HUBS))
        callers = {person for person, _ in claims}
        assert len(callers) > HUBS * STAFF_PER_HUB // 2

    # An admin signed in on any one hub's panel sees all eight hubs.
    app = hub_panel(url, tmp_path)
    try:
        accounts = Accounts(app)
        client = app.test_client()
        accounts.login(client, accounts.add(Role.ADMIN, email="office@school.example"))
        page = client.get("/hub/").get_data(as_text=True)
    finally:
        app.extensions["phonehub.db"].close()
    for n in range(HUBS):
        assert f"hub-{n + 1}</td>" in page


def test_two_hubs_given_one_name_are_told_apart(database, tmp_path: Path):
    office, pastoral = machine_id(tmp_path / "office"), machine_id(tmp_path / "pastoral")
    assert office != pastoral and machine_id(tmp_path / "office") == office
    hub_id = register_hub(database, "raspberrypi", office)
    # The same machine restarting keeps its row (and so its calls).
    assert register_hub(database, "raspberrypi", office) == hub_id
    # A second Pi cloned from the same image is refused while the first is alive...
    with pytest.raises(LineError, match="Another hub is already using the name 'raspberrypi'"):
        register_hub(database, "raspberrypi", pastoral)
    # ...and may take the name over once the first has been silent a while (replaced).
    with database.session() as session:
        session.get(Hub, hub_id).last_seen_at = utcnow() - timedelta(minutes=5)
    assert register_hub(database, "raspberrypi", pastoral) == hub_id
    with database.session() as session:
        assert session.get(Hub, hub_id).machine == pastoral


def test_the_panel_says_when_the_shared_database_is_unreachable(tmp_path: Path, caplog):
    server = PostgresServer()  # its own server, so stopping it disturbs no other test
    server.start()
    app = hub_panel(server.new_database(), tmp_path)
    try:
        accounts = Accounts(app)
        client = app.test_client()
        accounts.login(client, accounts.add(Role.STAFF, email="sam@school.example"))
        assert client.get("/desk/").status_code == 200
    except BaseException:
        server.stop()
        raise
    server.stop()  # the database server goes away (a network or server outage)
    try:
        response = client.get("/desk/")
    finally:
        app.extensions["phonehub.db"].close()
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The hub cannot reach its database just now, so nothing on this page was saved." in page
    assert "Traceback" not in page
    assert "database unreachable (OperationalError)" in caplog.text
