"""``phonehub doctor``: every check IT needs, one line each, OK or FAIL with the fix.

OK    config        /etc/phonehub/phonehub.toml is valid
FAIL  registration  credentials rejected: check [sip] username and password
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.config import Config, load_config
from hub.exceptions import PhoneHubError

MIN_FREE_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report, and any lines that explain it."""

    name: str
    ok: bool
    text: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        first = f"{'OK  ' if self.ok else 'FAIL'}  {self.name:<13} {self.text}"
        return "\n".join([first, *(f"{'':20}{line}" for line in self.details)])


def _config(path: str | None) -> tuple[Check, Config | None]:
    try:
        config = load_config(path)
    except PhoneHubError as exc:
        return Check("config", False, " ".join(str(exc).split())), None
    return Check("config", True, f"{config.source} is valid"), config


def _database(config: Config) -> Check:
    from hub.db import current_revision, head_revision, make_engine

    try:
        engine = make_engine(config.database.url)
        try:
            revision = current_revision(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        reason = str(exc).splitlines()[0]
        return Check("database", False, f"cannot open it ({reason}); check [database] url")
    if revision != head_revision():
        return Check("database", False, "not migrated; run: phonehub db upgrade")
    return Check("database", True, "reachable and migrated")


def _pjsua2(config: Config) -> list[Check]:
    try:
        import pjsua2  # noqa: F401
    except ImportError:
        return [Check("pjsua2", False, "not installed; run: scripts/build-pjsua2 "
                                       "--python /opt/phonehub/.venv/bin/python")]  # fmt: skip
    from hub.exceptions import LineError
    from hub.line.sip import SipStack, StackSettings

    # A throwaway stack on a spare port lists the sound devices as the line sees them.
    try:
        stack = SipStack(StackSettings("127.0.0.1", 0, "udp", (40000, 40100)))
    except LineError as exc:
        return [Check("pjsua2", False, str(exc))]
    try:
        version = stack.endpoint.libVersion().full
        devices = [
            Device(d.name, d.driver, int(d.inputCount), int(d.outputCount))
            for d in stack.sound_devices()
            if d.inputCount or d.outputCount
        ]
    finally:
        stack.close()
    if not _uses_alsa():
        fix = "run scripts/build-pjsua2 (make setup and the installer do)"
        return [Check("pjsua2", False, f"{version} was built without ALSA, so no handset can "
                                       f"work; {fix}")]  # fmt: skip
    return [Check("pjsua2", True, f"{version} with ALSA"), _audio(config, devices)]


def _uses_alsa() -> bool:
    """Whether the pjsua2 this process loaded was linked with ALSA (libasound)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return True  # cannot tell; the device list says the rest
    return "libasound.so" in maps


@dataclass(frozen=True)
class Device:
    """A sound device as pjsua2 lists it."""

    name: str
    driver: str
    inputs: int
    outputs: int


def _audio(config: Config, devices: list[Device]) -> Check:
    """Whether the configured handset is there, with every device pjsua2 can use."""
    audio = config.audio
    chosen = {audio.capture, audio.playback}
    width = max((len(d.name) for d in devices), default=0)
    listed = tuple(
        f"{'*' if d.name in chosen else ' '} {d.name:<{width}}  "
        f"microphone {'yes' if d.inputs else 'no '}  speaker {'yes' if d.outputs else 'no'}"
        for d in devices
    )
    if audio.headless:
        could = "the sound devices the hub could use:" if devices else "ALSA lists none"
        return Check("audio", True, f'no handset ([audio] device = "null"); {could}', listed)
    for part, name, field in (("microphone", audio.capture, "inputs"),
                              ("speaker", audio.playback, "outputs")):  # fmt: skip
        if not any(d.name == name and getattr(d, field) for d in devices):
            choose = ("set [audio] device to one of these (aplay -L names them the same way):"
                      if devices else "ALSA lists no sound devices at all")  # fmt: skip
            return Check("audio", False, f'the {part} "{name}" is not connected: plug the '
                                         f"handset in, or {choose}", listed)  # fmt: skip
    from hub.line.handset import HandsetWatch

    problem = HandsetWatch(audio.capture, audio.playback, lambda _problem: None).check()
    if problem is not None:
        return Check("audio", False, f"{problem}; check the handset's cable, and that the "
                                     "hub's user is in the audio group", listed)  # fmt: skip
    where = f'"{audio.capture}"' if len(chosen) == 1 else (
        f'microphone "{audio.capture}", speaker "{audio.playback}"')  # fmt: skip
    return Check("audio", True, f"the handset is connected: {where}", listed)


def _speech(config: Config) -> Check:
    from hub import languages, spoken

    if shutil.which("espeak-ng") is None:
        return Check("speech", False, "espeak-ng is missing; run: sudo apt-get install espeak-ng")
    have = spoken.speakable()
    others = [lang for lang in languages.LANGUAGES if not lang.english]
    missing = [lang.name for lang in others if lang not in have]
    details = [f"voices: {', '.join(lang.name for lang in have) or 'none'}"]
    if missing:
        details.append(f"no voice (those families hear English): {', '.join(missing)}")
    unspoken = [languages.by_code(code).name for code in _written_languages(config)
                if languages.by_code(code) not in have]  # fmt: skip
    if unspoken:
        return Check("speech", False, f"messages are written in {', '.join(unspoken)} but "
                     "espeak-ng has no voice for it; run: sudo apt-get install espeak-ng-data",
                     tuple(details))  # fmt: skip
    return Check("speech", True, f"espeak-ng speaks English and {len(have)} of the "
                 f"{len(others)} other languages families speak most", tuple(details))  # fmt: skip


def _written_languages(config: Config) -> list[str]:
    """The languages the school has written spoken messages in; none if the database is away."""
    from sqlalchemy import select

    from hub.db import open_database
    from hub.models import SpokenMessage

    try:
        with (
            open_database(config.database.url, migrate=False) as database,
            database.session() as session,
        ):
            return list(session.scalars(select(SpokenMessage.language)))
    except Exception:  # the database check says what is wrong with it
        return []


def _gpio(config: Config) -> Check:
    from hardware.exceptions import GpioError
    from hardware.leds import make_pin_factory

    try:
        factory = make_pin_factory(config.gpio.pin_factory)
    except GpioError as exc:
        return Check("gpio", False, str(exc))
    if factory is not None:
        factory.close()
    return Check("gpio", True, f"pin factory {config.gpio.pin_factory or 'automatic'}")


def _registration(config: Config) -> Check:
    from hub.control_client import ControlClient
    from hub.line.states import registration_words

    try:
        status = ControlClient(config.line.control_socket, timeout=5).request("status")["status"]
    except PhoneHubError as exc:
        return Check("registration", False, str(exc))
    state = status["registration"]
    fixes = {
        "credentials_rejected": "credentials rejected: check [sip] username and password, "
        "then restart the line",
        "unregistered": f"{registration_words(status)}; check [sip] registrar and the "
        "network to the trunk",
        "safe_mode": status.get("fault") or "the line is in safe mode",
    }
    if state in fixes:
        return Check("registration", False, fixes[state])
    return Check("registration", True, state.replace("_", " "))


def _disk(config: Config) -> Check:
    folder = Path(config.hub.data_dir)
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        return Check("disk", False, f"only {free // 2**20} MB free under {folder}; "
                                    "delete old recordings or backups")  # fmt: skip
    return Check("disk", True, f"{free // 2**30} GB free under {folder}")


def _clock(run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> Check:
    # Calling hours and "two school days" need the right time.
    if shutil.which("timedatectl") is None:
        return Check("clock", True, "cannot tell whether it is synchronised (no timedatectl)")
    result = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                 capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        return Check("clock", True, "cannot tell whether it is synchronised")
    if result.stdout.strip() == "yes":
        return Check("clock", True, "synchronised")
    return Check("clock", False, "not synchronised; run: sudo timedatectl set-ntp true")


def diagnose(config_path: str | None) -> list[Check]:
    """Every check, in the order IT would fix them."""
    first, config = _config(config_path)
    if config is None:
        return [first]
    return [
        first,
        _database(config),
        *_pjsua2(config),
        _speech(config),
        _gpio(config),
        _registration(config),
        _disk(config),
        _clock(),
    ]
