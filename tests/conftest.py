"""Fixtures shared by every test: a real SQLite database and a CLI runner.

``make test`` runs the suite in two parts. Most tests share the machine's cores,
several at once (pytest-xdist): each starts its own peers (Kamailio, lines, panels,
PostgreSQL) on ports the kernel hands out, so they never meet. The modules marked
``pytestmark = pytest.mark.alone`` then run one test at a time with nothing beside
them: they measure sound or the wall clock, which a busy machine would stretch, or
they take every core themselves. A plain ``pytest`` runs everything, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main
from hub.db import Database, open_database
from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1, shared by the session's tests."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of each kind the hub supports, chosen by URL alone."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    with open_database(url) as db:
        yield db


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for what only SQLite has (pragmas, the file)."""
    with open_database(f"sqlite:///{tmp_path / 'hub.db'}") as db:
        yield db


@dataclass
class Result:
    """What a CLI run printed and returned."""

    status: int
    out: str
    err: str


class Cli:
    """Runs ``phonehub`` in-process against a config whose data lives in tmp_path."""

    def __init__(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.data = tmp_path / "data"
        self.config = tmp_path / "phonehub.toml"
        self.config.write_text(
            f'[hub]\ndata_dir = "{self.data}"\n\n[school]\nnumber = "01632 960000"\n'
        )
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    @property
    def database_url(self) -> str:
        """The URL of the database the CLI uses."""
        return f"sqlite:///{self.data / 'phonehub.db'}"

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            import io

            self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        status = main(["--config", str(self.config), *args])
        captured = self.capsys.readouterr()
        return Result(status, captured.out, captured.err)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``phonehub`` commands as IT would, with a throwaway config and database."""
    monkeypatch.delenv("PHONEHUB_CONFIG", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    return Cli(tmp_path, capsys, monkeypatch)
