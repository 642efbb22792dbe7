"""Importing families: ``phonehub import`` of a 3,000- and a 30,000-pupil MIS export.

Each import runs the real CLI in a subprocess against a fresh, already migrated
database (SQLite, and PostgreSQL from the tests' throwaway server), so the figure
is what IT waits for at the terminal. The CLI's own start-up (Python, config,
opening the database) is measured on its own with ``phonehub user list``, so a
reader can see how much of an import figure is not the import.

The export is realistic for a trust-sized MIS: one row per pupil–contact pair
with the MIS's contact ids, ~1.3 pupils per household (siblings share their
contacts), one or two contacts each, a mobile for everyone, some home and work
numbers, and a bad row now and then. Ofcom's drama ranges hold only ~3,000
numbers, so in the 30,000 file each number belongs to many unrelated contacts.
With contact ids the importer groups households by pupil and contact id, never
by a number, so that reuse merges no families. It does make the file cheaper to
check than a real one (each distinct text is checked once), so the cost of
checking 1,000 distinct numbers is measured too, and the 30,000 figure's note
says what a file of real, distinct numbers would add.
"""

from __future__ import annotations

import csv
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import Figure
from hub.sample import (
    FLAGS,
    FORENAMES,
    FORMS,
    HEADERS,
    RELATIONSHIPS,
    SURNAMES,
    adult_forename,
)
from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
PHONEHUB = [sys.executable, "-m", "cli"]
SMALL, LARGE = 3_000, 30_000
TARGET_LARGE_S = 10.0
BAD_ROW_EVERY = 997  # about one row in a thousand has a mistyped mobile
STARTUP_RUNS = 3


def export_csv(path: Path, pupils: int, seed: int = 6) -> dict[str, int]:
    """Write an MIS contacts export of ``pupils`` pupils; returns what it holds."""
    rng = random.Random(seed)
    surnames = [f"{a}-{b}" if a != b else a for a in SURNAMES for b in SURNAMES[:8]]
    households = contacts = rows = bad = pupil_no = slots = 0
    distinct: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADERS)
        while pupil_no < pupils:
            households += 1
            surname = rng.choice(surnames)
            relations = rng.choice(RELATIONSHIPS)
            home = f"01632 960{rng.randrange(1000):03d}" if rng.random() < 0.4 else ""
            family = []
            taken: set[str] = set()
            for priority in range(1, (1 if rng.random() < 0.35 else 2) + 1):
                contacts += 1
                work = f"020 7946 0{rng.randrange(1000):03d}" if rng.random() < 0.2 else ""
                family.append(
                    (
                        f"C{contacts:07d}",
                        f"{adult_forename(rng, relations[priority - 1], taken)} {surname}",
                        relations[priority - 1],
                        priority,
                        [f"07700 900{rng.randrange(1000):03d}", home, work],
                    )
                )
                numbers = [n for n in family[-1][4] if n]
                slots += len(numbers)
                distinct.update(numbers)
            children = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
            for _ in range(min(children, pupils - pupil_no)):
                pupil_no += 1
                year = rng.randint(1, 13)
                form = f"{year}{rng.choice(FORMS)}"
                forename = rng.choice(FORENAMES)
                vulnerable = "Yes" if rng.random() < 0.03 else "No"
                flags = rng.choice(FLAGS)
                for contact_id, name, relationship, priority, numbers in family:
                    rows += 1
                    phones = list(numbers)
                    if rows % BAD_ROW_EVERY == 0:
                        phones[0] = "07700 9001"  # a digit short: rejected, one sentence
                        bad += 1
                    writer.writerow(
                        (f"P{pupil_no:07d}", forename, surname, f"Year {year}", form,
                         vulnerable, flags, contact_id, name, relationship, priority, "Yes",
                         *phones, "No")
                    )  # fmt: skip
    return {"pupils": pupils, "households": households, "rows": rows, "bad_rows": bad,
            "contact_numbers": slots, "distinct_numbers": len(distinct)}  # fmt: skip


def number_check_ms() -> float:
    """Milliseconds to check 1,000 distinct numbers the way a real family's number is.

    The importer checks each distinct text once. The drama blocks hold only ~3,000
    numbers, so a big test file repeats them; a real file of that size has a
    different number for nearly every contact. 020 7946 0xxx goes through the full
    validation a real number does (07700 900xxx and 01632 960xxx are short-cut).
    """
    from hub.numbers import parse

    texts = [f"020 7946 0{i:03d}" for i in range(1000)]
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            parse(text)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _phonehub(config: Path, *args: str) -> float:
    """Run one ``phonehub`` command to completion; its wall-clock time in seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DEBUG", None)
    started = time.perf_counter()
    done = subprocess.run(
        [*PHONEHUB, "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"phonehub {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return elapsed


def _config(folder: Path, database_url: str | None = None) -> Path:
    """A config whose data (and, unless given, SQLite database) live in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = f'[hub]\ndata_dir = "{folder / "data"}"\n\n[school]\nnumber = "01632 960000"\n'
    if database_url:
        text += f'\n[database]\nurl = "{database_url}"\n'
    path = folder / "phonehub.toml"
    path.write_text(text)
    return path


@contextmanager
def _postgres() -> Iterator[PostgresServer | None]:
    """The tests' throwaway PostgreSQL server, or None where it can't start."""
    try:
        server = PostgresServer()
        server.start()
    except Exception as exc:  # no PostgreSQL here: the SQLite figures still stand
        print(f"  (no PostgreSQL: {exc})", flush=True)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


def run() -> list[Figure]:
    """Time fresh imports, a weekly re-import and the CLI's start-up."""
    folder = Path(tempfile.mkdtemp(prefix="phonehub-bench-import-"))
    try:
        return _run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path) -> list[Figure]:
    small, large = folder / "school-3000.csv", folder / "trust-30000.csv"
    small_facts = export_csv(small, SMALL)
    large_facts = export_csv(large, LARGE)
    check_ms = number_check_ms()
    # What checking each contact's own number would add, had the file real numbers.
    unseen = large_facts["contact_numbers"] - large_facts["distinct_numbers"]
    real_numbers_s = unseen * check_ms / 1000 / 1000  # check_ms is for 1,000 numbers
    shape = (
        f"{large_facts['households']} households, {large_facts['rows']} rows"
        f" ({large_facts['bad_rows']} bad)"
    )
    real = (
        f"only {large_facts['distinct_numbers']} distinct (drama) numbers; checking a real"
        f" file's {large_facts['contact_numbers']} would add ~{real_numbers_s:.1f} s"
    )
    figures: list[Figure] = []

    # Start-up: Python, the config, opening (and checking the migrations of) the database.
    config = _config(folder / "startup")
    _phonehub(config, "db", "upgrade")
    startup = min(_phonehub(config, "user", "list") for _ in range(STARTUP_RUNS))
    figures.append(
        Figure(
            "importing.cli_startup",
            "CLI start-up (phonehub user list)",
            round(startup, 2),
            "s",
            note="included in every import figure below",
        )
    )

    small_config = _config(folder / "small")
    _phonehub(small_config, "db", "upgrade")
    small_s = _phonehub(small_config, "import", str(small))
    figures.append(
        Figure(
            "importing.sqlite.3000",
            "Import 3,000 pupils (SQLite)",
            round(small_s, 2),
            "s",
            note=f"fresh database; {small_facts['households']} households",
        )
    )

    large_config = _config(folder / "large")
    _phonehub(large_config, "db", "upgrade")
    large_s = _phonehub(large_config, "import", str(large))
    again_s = _phonehub(large_config, "import", str(large))
    figures.append(
        Figure(
            "importing.sqlite.30000",
            "Import 30,000 pupils (SQLite)",
            round(large_s, 2),
            "s",
            target=TARGET_LARGE_S,
            note=f"fresh database; {shape}; {real}",
        )
    )
    figures.append(
        Figure(
            "importing.sqlite.30000_again",
            "Re-import the same 30,000 (SQLite)",
            round(again_s, 2),
            "s",
            note="nothing changed, as most weeks",
        )
    )
    figures.append(
        Figure(
            "importing.number_check",
            "Check 1,000 distinct phone numbers",
            round(check_ms, 1),
            "ms",
            note="the full validation a real number gets",
        )
    )

    with _postgres() as server:
        if server is not None:
            pg_config = _config(folder / "pg", server.new_database())
            _phonehub(pg_config, "db", "upgrade")
            pg_s = _phonehub(pg_config, "import", str(large))
            figures.append(
                Figure(
                    "importing.postgresql.30000",
                    "Import 30,000 pupils (PostgreSQL)",
                    round(pg_s, 2),
                    "s",
                    note="fresh database, the tests' server on 127.0.0.1 (fsync off)",
                )
            )
    return figures
