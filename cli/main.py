"""The ``phonehub`` command: config, database, users, import and the demo.

Every command loads the config (``--config``, ``PHONEHUB_CONFIG`` or
/etc/phonehub/phonehub.toml). A PhoneHubError or HardwareError is printed as
``phonehub: error: <sentence>`` with exit status 1; set DEBUG=1 for the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from hardware.exceptions import HardwareError
from hub import __version__, users
from hub.config import Config, load_config
from hub.db import Database, current_revision, head_revision, make_engine, open_database
from hub.exceptions import PhoneHubError, UserError
from hub.models import Role
from hub.people import import_file

CLI_ACTOR = "cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phonehub",
        description="School Phone Hub: phone families from the school's own number.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $PHONEHUB_CONFIG or /etc/phonehub/phonehub.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("config", help="print the effective config, secrets masked")

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply any migrations the database hasn't had")
    db_commands.add_parser("status", help="show the database's migration and the newest one")

    user = commands.add_parser("user", help="staff accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("email")
    add.add_argument("--name", required=True, help="the person's name as staff will see it")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.add_argument(
        "--opted-in", action="store_true", help="the person has opted in to making calls"
    )
    user_commands.add_parser("list", help="list every account")
    disable = user_commands.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("email")

    importer = commands.add_parser("import", help="import families from an MIS contacts CSV")
    importer.add_argument("file", type=Path, metavar="FILE.csv")
    importer.add_argument(
        "--dry-run", action="store_true", help="check the file and report, but write nothing"
    )

    commands.add_parser("line", help="run the line daemon (SIP, calls, LEDs) in the foreground")
    commands.add_parser("web", help="serve the panel over HTTPS on [web] bind and port")
    commands.add_parser("doctor", help="check config, database, SIP, sound, GPIO, disk and clock")
    commands.add_parser(
        "maintenance", help="nightly: purge old numbers and recordings, back up, check the database"
    )
    commands.add_parser("status", help="the line's registration and call, from the running daemon")
    test_call = commands.add_parser(
        "test-call", help="ring a number from the school's line, to check what a phone shows"
    )
    test_call.add_argument("number", help="the number to ring, e.g. your own mobile")
    test_call.add_argument(
        "--as",
        dest="as_email",
        required=True,
        metavar="ADMIN_EMAIL",
        help="the admin account the call is made and audited as",
    )
    practice = commands.add_parser(
        "practice-line", help="run a pretend parent's phone that rings, answers and records"
    )
    practice.add_argument("--number", default="07700900123", help="the number it answers as")
    practice.add_argument("--bind", default="127.0.0.1:5062", metavar="HOST:PORT")
    practice.add_argument("--rtp-ports", default="42000-42100", metavar="LOW-HIGH")
    practice.add_argument("--registrar", default="", help="register here, e.g. sip:127.0.0.1:5060")
    practice.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the registration password from standard input",
    )
    practice.add_argument("--domain", default="", help="SIP domain (default: the registrar's)")
    practice.add_argument("--transport", default="udp", choices=["udp", "tcp"])
    practice.add_argument(
        "--ring",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long it rings before answering",
    )
    practice.add_argument("--no-answer", action="store_true", help="ring and never answer")
    practice.add_argument(
        "--early-media",
        action="store_true",
        help="ring with audio before answering (a 183), as many networks do",
    )
    practice.add_argument(
        "--press",
        default="",
        metavar="KEYS",
        help="keys to press once answered, as a member of staff's phone presses 1 to be put "
        "through to the family",
    )
    practice.add_argument(
        "--press-after",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long after answering the keys are pressed (default 3)",
    )
    practice.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="append every INVITE and call event here as JSON lines",
    )
    practice.add_argument(
        "--greeting",
        type=Path,
        metavar="WAV",
        help="what the pretend parent says on answering (default: a spoken greeting)",
    )
    practice.add_argument(
        "--record-dir",
        type=Path,
        metavar="DIR",
        help="where recordings of calls go (default: data_dir/practice)",
    )

    demo = commands.add_parser(
        "demo", help="run the whole hub on a sample school, with the practice line as its trunk"
    )
    demo.add_argument("--data", type=Path, metavar="DIR", help="keep the demo's data in DIR")
    demo.add_argument("--port", type=int, default=8080, help="the panel's port (default 8080)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``phonehub`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (PhoneHubError, HardwareError) as exc:
        if os.environ.get("DEBUG"):
            traceback.print_exc()
        print(f"phonehub: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("phonehub: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from cli.demo import run_demo

        return run_demo(args.data, args.port)
    if args.command == "doctor":
        from cli.doctor import diagnose

        checks = diagnose(args.config)
        for check in checks:
            print(check, flush=True)
        return 0 if all(check.ok for check in checks) else 1
    config = load_config(args.config)
    if args.command == "config":
        print(config.show(), end="")
        return 0
    if args.command == "db":
        return _db(args, config)
    if args.command == "web":
        return _web(config)
    if args.command == "maintenance":
        return _maintenance(config)
    if args.command in ("line", "practice-line", "status", "test-call"):
        from cli import line

        return line.run(args, config)
    with open_database(config.database.url) as database:
        if args.command == "user":
            return _user(args, database)
        return _import(args, database)


def _maintenance(config: Config) -> int:
    from hub.control_client import ControlClient
    from hub.exceptions import ControlError, DatabaseError
    from hub.maintenance import run_maintenance
    from hub.models import utcnow

    with open_database(config.database.url) as database:
        try:
            report = run_maintenance(config, database, now=utcnow())
        except DatabaseError as exc:
            # Light the red LED too, if the line is running, so someone notices.
            with contextlib.suppress(ControlError):
                ControlClient(config.line.control_socket, timeout=5).request(
                    "fault", message=str(exc)
                )
            raise
    for line in report.lines:
        print(line)
    return 0


def _web(config: Config) -> int:
    from web.serve import serve

    return serve(config)


def _db(args: argparse.Namespace, config: Config) -> int:
    engine = make_engine(config.database.url)
    try:
        if args.db_command == "upgrade":
            with open_database(config.database.url):
                pass
        current, head = current_revision(engine), head_revision()
        state = "up to date" if current == head else "needs: phonehub db upgrade"
        print(f"database at {current or 'empty'}, newest {head}: {state}")
    finally:
        engine.dispose()
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("No terminal to ask for a password on; use --password-stdin.")
    password = getpass.getpass("Password (12 characters or more): ")
    users.check_password_rules(password)
    if getpass.getpass("The same password again: ") != password:
        raise UserError("The two passwords differ; nothing was changed.")
    return password


def _user(args: argparse.Namespace, database: Database) -> int:
    if args.user_command == "add":
        password = _read_password(args.password_stdin)
        with database.session() as session:
            user = users.add(
                session,
                args.email,
                args.name,
                Role(args.role),
                password,
                actor=CLI_ACTOR,
                opted_in=args.opted_in,
            )
            print(f"Added {user.email} ({user.name}) as {user.role.value}.")
    elif args.user_command == "disable":
        with database.session() as session:
            user = users.disable(session, args.email, actor=CLI_ACTOR)
            print(f"{user.email} can no longer sign in.")
    else:
        with database.session() as session:
            _print_users(session, sys.stdout)
    return 0


def _print_users(session: Session, out: TextIO) -> None:
    accounts = users.all_users(session)
    if not accounts:
        print(
            "No accounts yet; add one with: phonehub user add EMAIL --name NAME --role admin",
            file=out,
        )
        return
    width = max(len(u.email) for u in accounts)
    print(f"{'EMAIL':<{width}}  {'ROLE':<5}  {'STATE':<8}  {'CALLS':<7}  NAME", file=out)
    for u in accounts:
        state = "active" if u.active else "disabled"
        calls = "opted in" if u.opted_in else "-"
        print(f"{u.email:<{width}}  {u.role.value:<5}  {state:<8}  {calls:<7}  {u.name}", file=out)


class ProgressBar:
    """A one-line progress bar per phase on a terminal; silent when output isn't one."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.active = stream.isatty()
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total`` in ``phase``; a new phase starts a new line."""
        if not self.active or total <= 0:
            return
        if self.phase and phase != self.phase:
            self.stream.write("\n")
        self.phase = phase
        filled = self.width * min(done, total) // total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{phase:<17} [{bar}] {done}/{total}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line so what follows starts on a new one."""
        if self.phase:
            self.stream.write("\n")
            self.stream.flush()
            self.phase = ""


def _import(args: argparse.Namespace, database: Database) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise PhoneHubError(f"Cannot read {args.file}: {exc.strerror}.") from exc
    bar = ProgressBar()
    try:
        with database.session() as session:
            summary = import_file(
                session, data, actor=CLI_ACTOR, dry_run=args.dry_run, progress=bar
            )
    finally:
        bar.close()
    for problem in summary.export.problems:
        kind = "rejected" if problem.rejected else "warning"
        print(f"{args.file.name}: {problem} ({kind})")
    for line in summary.lines():
        print(line)
    return 0
