"""The database: SQLite settings, migrations matching the models, the audit log."""

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub import audit
from hub.db import MIGRATIONS, current_revision, head_revision, make_engine, open_database
from hub.exceptions import DatabaseError
from hub.models import AuditEvent, Base, Household, Pupil, PupilNote


def test_sqlite_is_opened_with_the_hub_settings(sqlite_database):
    with sqlite_database.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") >= 5000
        assert pragma("foreign_keys") == 1
        assert pragma("secure_delete") == 1


def test_a_new_database_is_migrated_to_the_newest_revision(database):
    assert current_revision(database.engine) == head_revision()


def test_the_migrations_build_exactly_what_the_models_describe(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_opening_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    for _ in range(2):
        with open_database(url) as db:
            assert current_revision(db.engine) == head_revision()


def test_the_database_file_is_private_to_the_hub_user(tmp_path):
    with open_database(f"sqlite:///{tmp_path / 'hub.db'}"):
        pass
    assert (tmp_path / "hub.db").stat().st_mode & 0o077 == 0


def test_an_unmigrated_database_is_refused_when_migration_is_off(tmp_path):
    with pytest.raises(DatabaseError, match="phonehub db upgrade"):
        open_database(f"sqlite:///{tmp_path / 'hub.db'}", migrate=False)


def test_a_database_folder_that_cannot_be_made_says_so(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="Cannot create the database folder"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'hub.db'}")


def test_foreign_keys_are_enforced(database):
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Pupil(mis_id="P1", household_id=999, forename="Zoë", surname="Nowak"))


def test_timestamps_come_back_in_utc(database):
    with database.session() as session:
        session.add(Household())
    with database.session() as session:
        household = session.scalars(select(Household)).one()
        assert household.created_at.tzinfo is UTC
        assert abs((datetime.now(UTC) - household.created_at).total_seconds()) < 60


def test_the_audit_log_is_append_only(database):
    with database.session() as session:
        audit.record(session, "people.imported", actor="cli", detail={"rows": 3})
    for statement in ("UPDATE audit_events SET actor = 'someone'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), database.session() as session:
            session.execute(text(statement))
    with database.session() as session:
        assert [e.actor for e in session.scalars(select(AuditEvent))] == ["cli"]


@pytest.mark.parametrize("value", ["07700 900123", "+447700900123", "call 020 7946 0123 back"])
def test_the_audit_log_refuses_anything_like_a_phone_number(database, value):
    with database.session() as session, pytest.raises(ValueError, match="phone number"):
        audit.record(session, "household.viewed", actor="cli", detail={"note": value})


def test_hubs_starting_together_migrate_a_new_database_once(database):
    # After a power cut every hub (and each hub's line and panel) starts at once,
    # and each brings the shared database to the newest migration first.
    url = database.engine.url.render_as_string(hide_password=False)
    database.engine.dispose()
    if url.startswith("sqlite"):
        Path(database.engine.url.database).unlink()
    else:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    start = time.time() + 3  # past every child's imports, so they really race
    script = (
        "import sys, time; from hub.db import open_database\n"
        "time.sleep(max(0, float(sys.argv[2]) - time.time()))\n"
        "open_database(sys.argv[1]).close()\n"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", script, url, str(start)], stderr=subprocess.PIPE,
                         text=True)
        for _ in range(6)
    ]  # fmt: skip
    errors = [child.communicate(timeout=60)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 6, "\n".join(errors)
    assert current_revision(database.engine) == head_revision()


def test_a_household_note_becomes_each_pupils_note_and_back(database):
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = database.engine
    command.downgrade(config, "0003")
    with database.engine.begin() as connection:
        for statement in (
            "INSERT INTO households (id, created_at, updated_at) "
            "VALUES (1, :at, :at), (2, :at, :at)",
            "INSERT INTO pupils (id, mis_id, household_id, forename, surname, year, form, "
            "vulnerable, flags) VALUES (1, 'A1', 1, 'Zoë', 'O''Brien', '7', '7A', false, ''), "
            "(2, 'A2', 1, 'Finn', 'O''Brien', '9', '9C', false, ''), "
            "(3, 'B1', 2, 'Kai', 'Nowak', '8', '8B', false, '')",
            "INSERT INTO campaigns (id, name, purpose, talking_points, cadence_days, recording, "
            "dsl_only, any_opted_in_staff, created_at) "
            "VALUES (1, 'Star of the week', 'positive', '', 14, false, false, true, :at)",
            "INSERT INTO campaign_entries (id, campaign_id, household_id, state, note, updated_at) "
            "VALUES (1, 1, 1, 'waiting', 'Both sang in the choir.', :at), "
            "(2, 1, 2, 'waiting', '', :at)",
            "INSERT INTO call_attempts (id, entry_id, household_id, requested_at, test_call, "
            "notes) VALUES (1, 1, 1, :at, false, '')",
        ):
            connection.execute(text(statement), {"at": datetime(2025, 1, 13, tzinfo=UTC)})

    command.upgrade(config, "head")

    with database.session() as session:
        notes = session.execute(
            select(PupilNote.entry_id, PupilNote.pupil_id, PupilNote.note).order_by(PupilNote.id)
        ).all()
        assert sorted(notes) == [
            (1, 1, "Both sang in the choir."),
            (1, 2, "Both sang in the choir."),
        ]
        # The calls are still the entry's: the change rebuilt no table under them.
        assert session.scalar(text("SELECT entry_id FROM call_attempts")) == 1
        session.execute(text("UPDATE pupil_notes SET note = 'Read a poem.' WHERE pupil_id = 1"))
    command.downgrade(config, "0003")
    with database.engine.connect() as connection:
        back = connection.execute(text("SELECT id, note FROM campaign_entries ORDER BY id")).all()
    assert back == [(1, "Finn: Both sang in the choir.; Zoë: Read a poem."), (2, "")]
    command.upgrade(config, "head")
