"""Opening the database: engine settings, SQLite pragmas and migrations.

SQLite on one Pi and PostgreSQL shared by many hubs are both chosen by URL alone.
Every process that opens the database brings it to the newest migration first, so
a hub updated in place never runs new code on an old schema.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, String, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.functions import GenericFunction

from hub.exceptions import DatabaseError

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK_KEY = 0x50484D47  # "PHMG": PostgreSQL advisory lock held while migrating

# Applied to every SQLite connection. WAL lets the panel read while the line
# writes; FULL sync because a lost call record is worse than a slower write;
# secure_delete so a purged phone number is overwritten, not just unlinked.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
    # SQLite's own lower() knows only A to Z: "ÉLODIE" would not find "Élodie".
    dbapi_connection.create_function("unicode_lower", 1, _lower, deterministic=True)


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text


class folded(GenericFunction[str]):
    """Text in lower case for a case-blind search, letters beyond A to Z too: Python's
    str.lower on SQLite (registered on each connection), lower() on PostgreSQL, which
    knows them. Compare it with ``str.lower()`` of what was typed."""

    type = String()
    inherit_cache = True


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"


@compiles(folded)
def _folded_elsewhere(element: folded, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


CONNECT_TIMEOUT_S = 5


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the hub's settings; creates a SQLite file's folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).parent
            try:
                folder.mkdir(mode=0o750, parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"Cannot create the database folder {folder} ({exc.strerror}); "
                    "create it for the phonehub user or change [database] url."
                ) from exc
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # A server gone from the network fails a write in seconds, not minutes, so the
        # line's call events go to its journal (hub/line/journal.py) while it is away.
        return create_engine(url, pool_pre_ping=True,
                             connect_args={"connect_timeout": CONNECT_TIMEOUT_S})  # fmt: skip
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration this version of the hub knows."""
    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None, "the migrations folder has no head"
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time per database, across every hub.

    After a power cut all the hubs sharing a database (and each hub's line and
    panel) start together, and every one of them migrates first; without this
    they race to create the same tables and all but one fail.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                connection.commit()
        return
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Apply every migration the database hasn't had yet."""
    # A fresh SQLite file holds family data: readable by the hub's user only.
    old_umask = os.umask(0o077)
    try:
        with _migration_lock(engine):
            command.upgrade(_alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"Could not migrate the database: {_reason(exc)}.") from exc
    finally:
        os.umask(old_umask)


def _reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    return str(original or exc).splitlines()[0].rstrip(".")


@dataclass
class Database:
    """An open, migrated database: its engine and a session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on error."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release every pooled connection; safe to call twice."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open the database at ``url`` and bring it to the newest migration."""
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        elif current_revision(engine) != head_revision():
            raise DatabaseError(
                "The database is not at the newest migration; run: phonehub db upgrade."
            )
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"Could not open the database: {_reason(exc)}.") from exc
    except DatabaseError:
        engine.dispose()
        raise
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def take_write_lock(session: Session) -> None:
    """On SQLite, hold the database's write lock until the session ends.

    pysqlite opens a transaction only at the first write, so a read before it can
    decide on data another hub is changing; BEGIN IMMEDIATE waits (busy_timeout) for
    the lock first. Already in a transaction means a write has happened, so the lock
    is already held. PostgreSQL's row locks (``with_for_update``) do this job there.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def scrub_wal(engine: Engine) -> None:
    """On SQLite, move everything into the database file and empty the write-ahead log.

    With ``secure_delete`` a deleted row is overwritten in the file, but the log can
    still hold earlier copies of its pages until they are checkpointed.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
