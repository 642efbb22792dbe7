"""The ``phonehub`` command as IT uses it: users, import, config, db, errors."""

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import ProgressBar
from hardware.exceptions import GpioError
from hub.sample import school_csv

PASSWORD = "correct horse battery"


def test_user_add_list_and_disable(cli):
    added = cli(
        "user",
        "add",
        "Ann.Head@school.example",
        "--name",
        "Ann Head",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.status == 0
    assert added.out == "Added ann.head@school.example (Ann Head) as admin.\n"
    cli(
        "user",
        "add",
        "sam@school.example",
        "--name",
        "Sam Teacher",
        "--role",
        "staff",
        "--opted-in",
        "--password-stdin",
        stdin=PASSWORD,
    )

    disabled = cli("user", "disable", "sam@school.example")
    assert disabled.out == "sam@school.example can no longer sign in.\n"

    listing = cli("user", "list").out.splitlines()
    assert listing[0].split() == ["EMAIL", "ROLE", "STATE", "CALLS", "NAME"]
    assert listing[1].split() == ["ann.head@school.example", "admin", "active", "-", "Ann", "Head"]
    assert listing[2].split() == [
        "sam@school.example",
        "staff",
        "disabled",
        "opted",
        "in",
        "Sam",
        "Teacher",
    ]
    assert PASSWORD not in "".join(listing)


def test_user_list_on_a_new_hub_says_how_to_start(cli):
    assert "phonehub user add EMAIL" in cli("user", "list").out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "admin"], "short\n", "at least 12 characters"),
        (["--role", "staff"], PASSWORD, "There is already an account for ann@school.example."),
    ],
)
def test_user_add_errors_are_one_sentence(cli, args, stdin, message):
    cli(
        "user",
        "add",
        "ann@school.example",
        "--name",
        "Ann",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD,
    )
    result = cli(
        "user", "add", "ann@school.example", "--name", "Ann", *args, "--password-stdin", stdin=stdin
    )
    assert result.status == 1
    assert result.err.startswith("phonehub: error: ")
    assert message in result.err
    assert result.err.count("\n") == 1


def test_user_add_without_a_terminal_asks_for_password_stdin(cli):
    result = cli("user", "add", "ann@school.example", "--name", "Ann", "--role", "admin", stdin="")
    assert result.status == 1
    assert "use --password-stdin" in result.err


def test_disabling_an_unknown_account(cli):
    result = cli("user", "disable", "nobody@school.example")
    assert (result.status, result.err) == (
        1,
        "phonehub: error: There is no account for nobody@school.example.\n",
    )


def test_import_names_bad_rows_and_prints_a_summary(cli, tmp_path):
    export = tmp_path / "contacts.csv"
    export.write_text(
        "UPN,Forename,Surname,Contact Name,Mobile\n"
        "A1,Zoë,O'Brien,Siân O'Brien,07700 900001\n"
        "A2,Finn,O'Brien,Siân O'Brien,0909 879 0001\n"
        ",Kai,Nowak,Farah Nowak,07700 900002\n",
        encoding="utf-8",
    )
    result = cli("import", str(export))
    assert result.status == 0
    lines = result.out.splitlines()
    assert lines[:2] == [
        "contacts.csv: line 3: the Mobile number is a premium-rate number, "
        "which the hub will never dial (rejected)",
        "contacts.csv: line 4: the pupil id is empty (rejected)",
    ]
    assert lines[2].split() == ["households", "1", "created", "0", "updated", "0", "unchanged"]
    assert lines[6].split() == ["rows", "1", "imported", "2", "rejected"]
    assert "7700" not in result.out


def test_import_dry_run_then_real(cli, tmp_path):
    export = tmp_path / "school.csv"
    export.write_text(school_csv(40), encoding="utf-8")
    assert "Dry run: nothing was written." in cli("import", "--dry-run", str(export)).out
    assert "40 created" in cli("import", str(export)).out.splitlines()[1].replace("  ", " ")
    again = cli("import", str(export)).out.splitlines()
    assert again[1].split()[:2] == ["pupils", "0"]


def test_import_of_a_missing_file(cli, tmp_path):
    result = cli("import", str(tmp_path / "nope.csv"))
    assert result.status == 1
    assert (
        result.err == f"phonehub: error: Cannot read {tmp_path / 'nope.csv'}: "
        "No such file or directory.\n"
    )


def test_import_of_an_unreadable_file_writes_nothing(cli, tmp_path):
    export = tmp_path / "contacts.csv"
    export.write_bytes(b"")
    result = cli("import", str(export))
    assert (result.status, result.err) == (1, "phonehub: error: The file is empty.\n")


def test_config_shows_the_effective_config_with_secrets_masked(cli):
    secret = cli.config.parent / "sip-password"
    secret.write_text("s3cret-trunk-pass\n")
    cli.config.write_text(
        cli.config.read_text() + '\n[sip]\nregistrar = "sip.example.net"\nusername = "school"\n'
        f'password_file = "{secret}"\n\n[database]\n'
        'url = "postgresql://hub:db-pass-123@db.example/phonehub"\n'
    )
    result = cli("config")
    assert result.status == 0
    assert "s3cret-trunk-pass" not in result.out
    assert "db-pass-123" not in result.out
    assert 'url = "postgresql://hub:********@db.example/phonehub"' in result.out
    assert 'number = "+441632960000"' in result.out


def test_a_config_error_lists_every_problem(cli):
    cli.config.write_text('[schol]\nname = "x"\n\n[line]\nring_timeout_s = "forty"\n')
    result = cli("config")
    assert result.status == 1
    assert result.err.startswith("phonehub: error: ")
    assert "schol: unknown section (did you mean school?)" in result.err
    assert "line.ring_timeout_s: " in result.err


def test_db_upgrade_and_status(cli):
    assert "needs: phonehub db upgrade" in cli("db", "status").out
    assert "up to date" in cli("db", "upgrade").out
    assert "up to date" in cli("db", "status").out


def test_debug_shows_the_traceback(cli, monkeypatch):
    monkeypatch.setenv("DEBUG", "1")
    result = cli("user", "disable", "nobody@school.example")
    assert "Traceback (most recent call last)" in result.err
    assert result.err.endswith("phonehub: error: There is no account for nobody@school.example.\n")


def test_the_progress_bar_draws_only_on_a_terminal(tmp_path):
    class Terminal:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    terminal = Terminal()
    bar = ProgressBar(terminal, width=10)
    bar("reading rows", 5, 10)
    bar("reading rows", 10, 10)
    bar("saving households", 2, 4)
    bar.close()
    assert terminal.text == (
        "\rreading rows      [#####.....] 5/10"
        "\rreading rows      [##########] 10/10\n"
        "\rsaving households [#####.....] 2/4\n"
    )
    with open(tmp_path / "log", "w") as not_a_terminal:
        silent = ProgressBar(not_a_terminal)
        silent("reading rows", 1, 2)
        silent.close()
    assert (tmp_path / "log").read_text() == ""


def test_the_installed_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "phonehub"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cli"]
    env = {**os.environ, "PHONEHUB_CONFIG": str(tmp_path / "missing.toml")}
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("phonehub ")
    failed = subprocess.run([*command, "config"], capture_output=True, text=True, env=env)
    assert failed.returncode == 1
    assert failed.stderr.startswith("phonehub: error: ")
    assert "missing.toml" in failed.stderr


def _type_at_prompts(command: list[str], answers: list[tuple[str, str]]) -> str:
    """Run ``command`` on a pseudo-terminal, answering each prompt; returns all it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own with the pty as its terminal
        os.execv(command[0], command)
    seen = ""
    pending = list(answers)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 1024).decode()
                except OSError:  # the child has gone and the pty is closed
                    break
                if not chunk:
                    break
                seen += chunk
            if pending and pending[0][0] in seen:
                os.write(fd, (pending.pop(0)[1] + "\n").encode())
                seen += "\n<typed>\n"
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return f"{seen}\n<exit {os.waitstatus_to_exitcode(status)}>"


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (PASSWORD, "Added ann@school.example (Ann Head) as admin."),
        (PASSWORD + "x", "phonehub: error: The two passwords differ; nothing was changed."),
    ],
)
def test_user_add_asks_for_the_password_twice_without_echo(cli, second, expected):
    command = [
        sys.executable,
        "-m",
        "cli",
        "--config",
        str(cli.config),
        "user",
        "add",
        "ann@school.example",
        "--name",
        "Ann Head",
        "--role",
        "admin",
    ]
    output = _type_at_prompts(command, [("Password", PASSWORD), ("again", second)])
    assert expected in output
    assert PASSWORD not in output  # never echoed
    listed = "ann@school.example" in cli("user", "list").out
    assert listed == expected.startswith("Added")


def test_a_hardware_error_is_one_line(cli, monkeypatch):
    def broken(_config):
        raise GpioError("cannot use GPIO 22 for the status lights (in use)")

    monkeypatch.setattr("cli.main._maintenance", broken)
    result = cli("maintenance")

    assert (result.status, result.out) == (1, "")
    assert result.err == "phonehub: error: cannot use GPIO 22 for the status lights (in use)\n"
