"""Nothing lost when the database is away: the line's journal of call events.

First the journal alone on a SQLite database; then the line daemon on a PostgreSQL
server stopped in the middle of a call and started again after it ended.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.db import Database, open_database
from hub.line.journal import Journal
from hub.models import AuditEvent, CallAttempt, EndReason, Hub
from tests.line.conftest import PHONEHUB, Family, wait_until
from tests.postgres import PostgresServer

AT = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def event(attempt: int, state: str, seconds: int, **more: object) -> dict[str, object]:
    """A call event as the line publishes it, ``seconds`` after 10:00."""
    at = (AT + timedelta(seconds=seconds)).isoformat()
    return {"event": "call", "attempt": attempt, "state": state, "at": at, "sip_status": None,
            **more}  # fmt: skip


@pytest.fixture
def hub_and_call(sqlite_database: Database) -> tuple[int, int]:
    """This hub's row and one call it is making: their ids."""
    family = Family(sqlite_database)
    attempt = family.attempt(family.number("+447700900123"))
    with sqlite_database.session() as session:
        hub = Hub(name="test-hub")
        session.add(hub)
        session.flush()
        return hub.id, attempt


def audited(database: Database, attempt: int, action: str) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.target_id == attempt))  # fmt: skip


def test_kept_events_survive_a_restart_and_are_written_in_order_then_cleared(
    sqlite_database, hub_and_call, tmp_path
):
    hub_id, attempt = hub_and_call
    journal = Journal(tmp_path)
    journal.append(event(attempt, "answered", 5))
    journal.append(event(attempt, "ended", 65, end_reason="completed", ended_by="staff"))
    assert journal.path.stat().st_mode & 0o777 == 0o600
    # A power cut: the next start finds both, in order.
    again = Journal(tmp_path)
    assert [entry.event["state"] for entry in again.entries] == ["answered", "ended"]
    assert again.replay(sqlite_database, hub_id) == 2
    assert not again.path.exists() and len(again) == 0
    with sqlite_database.session() as session:
        row = session.get(CallAttempt, attempt)
        assert (row.answered_at, row.ended_at) == (AT + timedelta(seconds=5),
                                                   AT + timedelta(seconds=65))  # fmt: skip
        assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")


def test_an_event_is_written_once_even_if_the_hub_stops_before_clearing_the_journal(
    sqlite_database, hub_and_call, tmp_path, monkeypatch
):
    hub_id, attempt = hub_and_call
    journal = Journal(tmp_path)
    journal.append(event(attempt, "ended", 30, end_reason="interrupted", ended_by="handset"))

    def power_cut() -> None:
        raise SystemExit("power cut")

    # Committed, and then the hub stops before the file is removed.
    monkeypatch.setattr(journal, "clear", power_cut)
    with pytest.raises(SystemExit):
        journal.replay(sqlite_database, hub_id)
    assert audited(sqlite_database, attempt, "call.interrupted") == 1
    again = Journal(tmp_path)
    assert len(again) == 1
    first_batch = again.entries[0].batch
    assert again.replay(sqlite_database, hub_id) == 0
    assert audited(sqlite_database, attempt, "call.interrupted") == 1
    assert not again.path.exists()
    # The next time the database is away starts a new batch, never mistaken for this one.
    later = Journal(tmp_path)
    later.append(event(attempt, "ended", 90, end_reason="interrupted", ended_by="handset"))
    assert later.entries[0].batch != first_batch
    assert later.replay(sqlite_database, hub_id) == 1
    assert audited(sqlite_database, attempt, "call.interrupted") == 2


def test_a_line_cut_short_by_a_power_cut_is_skipped_and_the_rest_kept(
    sqlite_database, hub_and_call, tmp_path, caplog
):
    hub_id, attempt = hub_and_call
    journal = Journal(tmp_path)
    journal.append(event(attempt, "answered", 5))
    with journal.path.open("a") as torn:
        torn.write('{"batch": "')
    again = Journal(tmp_path)
    assert len(again) == 1
    assert "journal line 2 is incomplete" in caplog.text
    assert again.replay(sqlite_database, hub_id) == 1


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def test_a_call_that_ends_while_postgresql_is_down_is_written_once_it_is_back(
    make_line, kamailio, practice_line, own_postgres
):
    url = own_postgres.new_database()
    with open_database(url) as database:
        family = Family(database)
        attempt = family.attempt(family.number("+447700900123"))
        line = make_line(kamailio, database={"url": url})
        line.start()
        events = line.client.events()
        next(events)
        line.client.request("dial", attempt=attempt)
        seen: dict[str, dict] = {}
        for call_event in events:
            if call_event.get("event") != "call":
                continue
            seen[call_event["state"]] = call_event
            if call_event["state"] == "answered":
                wait_until(lambda: family.row(attempt).answered_at, what="the answer written")
                own_postgres.halt()
                line.client.request("hangup")
            if call_event["state"] == "ended":
                break
        wait_until(lambda: "1 call event kept" in (line.status()["database"] or ""), timeout=15,
                   what="the status to say the event is kept")  # fmt: skip
        assert line.status()["lights"]["red"] != "off"
        shown = subprocess.run([*PHONEHUB, "--config", str(line.config_path), "status"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "database:     the database cannot be written (" in shown
        assert "1 call event kept on this hub, to be written when it is back" in shown
        kept = line.folder / "journal" / "call-events.jsonl"
        assert kept.stat().st_mode & 0o777 == 0o600
        for written in ("7700900123", "7700 900123", "Testfamily"):
            assert written not in kept.read_text()

        own_postgres.resume()
        wait_until(lambda: line.status()["database"] is None, timeout=20,
                   what=f"the journal written\n{line.log()}")  # fmt: skip
        assert not kept.exists()
        assert line.status()["lights"]["red"] == "off"
        row = family.row(attempt)
        assert row.answered_at == datetime.fromisoformat(seen["answered"]["at"])
        assert row.ended_at == datetime.fromisoformat(seen["ended"]["at"])
        assert (row.end_reason, row.ended_by) == (EndReason.COMPLETED, "staff")

        # Started again, the line finds nothing to write twice and nothing to call interrupted.
        line.stop(signal.SIGTERM)
        line.start()
        assert family.row(attempt).ended_at == row.ended_at
        assert audited(database, attempt, "call.interrupted") == 0
        with database.session() as session:
            assert session.scalar(select(Hub.journal_applied)).endswith(":1")
