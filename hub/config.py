"""The hub's configuration: a TOML file read over the defaults in ``default.toml``.

Each key is declared once here, with the setting that checks and converts it; the
default values live only in ``default.toml``. Loading collects every problem in
the file and raises one ConfigError listing them all, each as
``section.key: what is wrong``, so a technician can fix the file in one pass.

    >>> cfg = parse_config('[line]\\nring_timeout_s = 30')
    >>> cfg.line.ring_timeout_s, cfg.sip.transport
    (30, 'udp')
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import socket
import string
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.exceptions import ConfigError
from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, classify, parse

DEFAULT_PATH = Path("/etc/phonehub/phonehub.toml")
ENV_VAR = "PHONEHUB_CONFIG"
BUILT_IN = "built-in defaults"
MASK = "********"

Transport = Literal["udp", "tcp", "tls"]
CallerId = Literal["from", "from+pai", "from+ppi"]
DialFormat = Literal["national", "e164"]
PinFactory = Literal["", "mock", "lgpio", "rpigpio", "pigpio", "native"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_SCHOOL_KINDS = (Kind.GEOGRAPHIC, Kind.MOBILE, Kind.NON_GEOGRAPHIC, Kind.FREEPHONE)
_DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")

_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::(?P<port>\d{1,5}))?")
_CLOCK = r"([01]\d|2[0-3]):[0-5]\d"

T = TypeVar("T")


class Setting:
    """How one key is checked and turned into its Python value."""

    def convert(self, value: object) -> Any:
        """The Python value for a TOML value; ValueError saying what is wrong if it is bad."""
        raise NotImplementedError

    def dump(self, value: Any) -> object:
        """The TOML value that shows ``value`` to a person."""
        return value


@dataclass(frozen=True)
class Table:
    """A nested TOML table holding the keys of ``cls``; ``noun`` names a key in messages."""

    cls: type
    noun: str = "key"


def setting(kind: Setting | Table) -> dict[str, Setting | Table]:
    """The field metadata that makes a dataclass field a config key read by ``kind``."""
    return {"setting": kind}


class Text(Setting):
    """A string; ``required`` refuses an empty one."""

    def __init__(self, required: bool = False) -> None:
        self.required = required

    def convert(self, value: object) -> str:
        text = _text(value)
        if self.required and not text.strip():
            raise ValueError("must not be empty")
        return text


class Secret(Text):
    """A string never shown to anyone."""

    def dump(self, value: str) -> str:
        return MASK if value else ""


class Integer(Setting):
    """A whole number from ``low`` to ``high`` (no upper bound if None)."""

    def __init__(self, low: int, high: int | None = None) -> None:
        self.low, self.high = low, high

    def convert(self, value: object) -> int:
        number = _whole(value)
        if self.high is None and number < self.low:
            raise ValueError(f"must be at least {self.low}, not {number}")
        if self.high is not None and not self.low <= number <= self.high:
            raise ValueError(f"must be from {self.low} to {self.high}, not {number}")
        return number


class Boolean(Setting):
    """true or false."""

    def convert(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {_toml(value)}")
        return value


class BooleanOrAuto(Setting):
    """true, false, or "auto" (the hub decides)."""

    def convert(self, value: object) -> bool | str:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(f'must be true, false or "auto", not {_toml(value)}')


class Choice(Setting):
    """One of a fixed set of strings."""

    def __init__(self, options: Iterable[str]) -> None:
        self.options = tuple(options)

    def convert(self, value: object) -> str:
        text = _text(value)
        if text not in self.options:
            hint = _did_you_mean(text, self.options)
            raise ValueError(f"must be {_one_of(self.options)}, not {_toml(text)}{hint}")
        return text


class KindChoice(Choice):
    """A kind of number that staff may be allowed to call."""

    def __init__(self) -> None:
        super().__init__(k for k in Kind if k not in NEVER_DIALLED | {Kind.INTERNATIONAL})

    def convert(self, value: object) -> Kind:
        text = _text(value)
        if text in NEVER_DIALLED:
            raise ValueError(f"{text} can never be allowed")
        if text == Kind.INTERNATIONAL:
            raise ValueError("allow international numbers with dialplan.international = true")
        return Kind(super().convert(text))


class ListOf(Setting):
    """A non-empty list, each item read by ``item``."""

    def __init__(self, item: Setting) -> None:
        self.item = item

    def convert(self, value: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError(f"must be a list in square brackets, not {_toml(value)}")
        if not value:
            raise ValueError("must not be empty")
        return tuple(self.item.convert(item) for item in value)

    def dump(self, value: tuple[Any, ...]) -> list[object]:
        return [self.item.dump(item) for item in value]


class PathSetting(Setting):
    """A file or folder path; ``optional`` lets "" mean none; ``absolute`` requires a full path."""

    def __init__(self, optional: bool = False, absolute: bool = True) -> None:
        self.optional, self.absolute = optional, absolute

    def convert(self, value: object) -> Path | None:
        text = _text(value)
        if self.optional and not text:
            return None
        if self.absolute and not text.startswith("/"):
            raise ValueError(f"must be an absolute path, not {_toml(text)}")
        return Path(text)

    def dump(self, value: Path | None) -> str:
        return "" if value is None else str(value)


class Host(Setting):
    """A hostname or IP address; ``optional`` allows ""."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def convert(self, value: object) -> str:
        text = _text(value)
        if not (self.optional and not text) and not _is_host(text):
            raise ValueError(f"must be a hostname or IP address, not {_toml(text)}")
        return text


class HostPort(Setting):
    """A local address and port to listen on, "host:port" or "[IPv6]:port"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        try:
            _, port = _split_host_port(text)
        except ValueError:
            port = None
        if port is None:
            raise ValueError(
                'must be address:port with a port from 1 to 65535, like "0.0.0.0:5060", '
                f"not {_toml(text)}"
            )
        return text


class SipServer(Setting):
    """A SIP server, written "host", "host:port" or "sip:host[:port]", kept as a SIP URI."""

    def convert(self, value: object) -> str:
        text = _text(value)
        if not text:
            return ""
        try:
            _split_host_port(text.removeprefix("sip:"))
        except ValueError:
            raise ValueError(
                f"must be host, host:port or sip:host:port, not {_toml(text)}"
            ) from None
        return "sip:" + text.removeprefix("sip:")


class PortRange(Setting):
    """A range of local UDP ports for call audio, "LOW-HIGH"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        match = re.fullmatch(r"(\d{1,5})-(\d{1,5})", text)
        if not match:
            raise ValueError(f'must be FIRST-LAST, like "40000-40100", not {_toml(text)}')
        low, high = int(match[1]), int(match[2])
        if low < 1024 or high > 65535:
            raise ValueError(f"must lie from 1024 to 65535, not {_toml(text)}")
        # RTP takes the even port of each pair and RTCP the odd one above it.
        if low % 2:
            raise ValueError(f"must start on an even port, not {low}")
        if high - low < 3:
            raise ValueError(f"must span at least 4 ports, lowest first, not {_toml(text)}")
        return text


class TimeRange(Setting):
    """A daily window on the 24-hour clock, "HH:MM-HH:MM"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        if not re.fullmatch(f"{_CLOCK}-{_CLOCK}", text):
            raise ValueError(f'must be HH:MM-HH:MM, like "08:00-19:00", not {_toml(text)}')
        start, end = text.split("-")
        if start >= end:
            raise ValueError(f"must end later than it starts, not {_toml(text)}")
        return text


class TimeZone(Setting):
    """An IANA time zone name such as "Europe/London"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        try:
            zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = _did_you_mean(text, zoneinfo.available_timezones())
            raise ValueError(f"must be a time zone name, not {_toml(text)}{hint}") from None
        return text


class SchoolNumber(Setting):
    """The school's own UK number, kept in E.164; empty until the school sets it."""

    def convert(self, value: object) -> str:
        text = _text(value)
        if not text:
            return ""
        kind = classify(text)
        if kind not in _SCHOOL_KINDS:
            description = KIND_DESCRIPTIONS[kind]
            raise ValueError(f"{_toml(text)} is {description}; give the school's own landline")
        return parse(text).e164


class Template(Setting):
    """Text with {placeholders} from a fixed set."""

    def __init__(self, *placeholders: str) -> None:
        self.placeholders = placeholders

    def convert(self, value: object) -> str:
        text = Text(required=True).convert(value)
        stray = "has a { or } that is not a placeholder; write {{ or }} for a brace"
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError:
            raise ValueError(stray) from None
        unknown = [f"{{{name}}}" for name in dict.fromkeys(names) if name not in self.placeholders]
        if unknown:
            known = " and ".join(f"{{{name}}}" for name in self.placeholders)
            plural = "s" if len(unknown) > 1 else ""
            raise ValueError(f"unknown placeholder{plural} {', '.join(unknown)}; use {known}")
        try:
            text.format(**dict.fromkeys(self.placeholders, ""))
        except ValueError:
            raise ValueError(stray) from None
        return text


class DatabaseUrl(Setting):
    """An SQLAlchemy URL for SQLite or PostgreSQL; its password is never shown."""

    def convert(self, value: object) -> str:
        url = _text(value)
        if url and not url.startswith(_DATABASE_SCHEMES):
            raise ValueError(
                f"must start with {_one_of(_DATABASE_SCHEMES)}, not {_toml(_mask_url(url))}"
            )
        return url

    def dump(self, value: str) -> str:
        return _mask_url(value)


class DialString(Setting):
    """What the trunk is asked to dial as it is written: digits, maybe a leading +."""

    def convert(self, value: object) -> str:
        text = _text(value).replace(" ", "")
        if text and not re.fullmatch(r"\+?[0-9]{2,20}", text):
            raise ValueError(f"must be digits as the phone system dials them, not {_toml(text)}")
        return text


class GpioPin(Setting):
    """A BCM GPIO number; ``optional`` allows 0 for a part that is not fitted."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def convert(self, value: object) -> int:
        pin = _whole(value)
        if not (2 <= pin <= 27 or (self.optional and pin == 0)):
            fitted = "0 (not fitted) or " if self.optional else ""
            raise ValueError(f"must be {fitted}a BCM GPIO number from 2 to 27, not {pin}")
        return pin


@dataclass(frozen=True)
class HubSection:
    """[hub]: this machine."""

    name: str = field(metadata=setting(Text()))
    data_dir: Path = field(metadata=setting(PathSetting()))


@dataclass(frozen=True)
class SchoolSection:
    """[school]: who is calling."""

    name: str = field(metadata=setting(Text(required=True)))
    number: str = field(metadata=setting(SchoolNumber()))


@dataclass(frozen=True)
class SipSection:
    """[sip]: the trunk or PBX the line uses."""

    registrar: str = field(metadata=setting(SipServer()))
    domain: str = field(metadata=setting(Host(optional=True)))
    username: str = field(metadata=setting(Text()))
    # Secrets stay out of repr() so that no log line or traceback can show them.
    password: str = field(metadata=setting(Secret()), repr=False)
    password_file: Path | None = field(metadata=setting(PathSetting(optional=True, absolute=False)))
    proxy: str = field(metadata=setting(SipServer()))
    transport: Transport = field(metadata=setting(Choice(get_args(Transport))))
    tls_ca_file: Path = field(metadata=setting(PathSetting()))
    bind: str = field(metadata=setting(HostPort()))
    rtp_ports: str = field(metadata=setting(PortRange()))
    caller_id: CallerId = field(metadata=setting(Choice(get_args(CallerId))))
    dial_format: DialFormat = field(metadata=setting(Choice(get_args(DialFormat))))
    reregister_s: int = field(metadata=setting(Integer(5, 3600)))

    @property
    def effective_domain(self) -> str:
        """The SIP domain: sip.domain, else the registrar's host ("" if neither is set)."""
        if self.domain or not self.registrar:
            return self.domain
        return _split_host_port(self.registrar.removeprefix("sip:"))[0]

    @property
    def bind_host(self) -> str:
        """The address part of sip.bind, without IPv6 brackets."""
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        """The port part of sip.bind."""
        return int(self.bind.rpartition(":")[2])

    @property
    def rtp_port_range(self) -> tuple[int, int]:
        """The first and last RTP port."""
        low, high = self.rtp_ports.split("-")
        return int(low), int(high)


@dataclass(frozen=True)
class LineSection:
    """[line]: the line daemon's timers and control socket."""

    ring_timeout_s: int = field(metadata=setting(Integer(5, 300)))
    rtp_timeout_s: int = field(metadata=setting(Integer(5, 300)))
    control_socket: Path = field(metadata=setting(PathSetting()))
    practice_number: str = field(metadata=setting(DialString()))


@dataclass(frozen=True)
class AudioSection:
    """[audio]: the handset's sound device, its levels and its echo cancellation."""

    device: str = field(metadata=setting(Text(required=True)))
    capture_device: str = field(metadata=setting(Text()))
    playback_device: str = field(metadata=setting(Text()))
    microphone_gain_db: int = field(metadata=setting(Integer(-20, 20)))
    speaker_gain_db: int = field(metadata=setting(Integer(-20, 20)))
    echo_cancellation: bool | str = field(metadata=setting(BooleanOrAuto()))
    capture_buffer_ms: int = field(metadata=setting(Integer(10, 500)))
    playback_buffer_ms: int = field(metadata=setting(Integer(10, 500)))

    @property
    def capture(self) -> str:
        """The ALSA device the microphone is read from ("null": none)."""
        return self.capture_device or self.device

    @property
    def playback(self) -> str:
        """The ALSA device the earpiece or speaker is played to ("null": none)."""
        return self.playback_device or self.device

    @property
    def headless(self) -> bool:
        """True when the hub has no handset at all."""
        return self.capture == "null"

    @property
    def cancel_echo(self) -> bool:
        """Whether to cancel echo: as set, or ("auto") unless the device says it is a headset.

        A headset's earpiece does not reach its microphone; a handset's or desk phone's
        loudspeaker does, and the family would hear themselves back.
        """
        if self.echo_cancellation != "auto":
            return bool(self.echo_cancellation)
        names = f"{self.capture} {self.playback}".lower()
        return not any(word in names for word in ("headset", "headphone"))


@dataclass(frozen=True)
class DialplanSection:
    """[dialplan]: which numbers may be called, how often and when."""

    allowed: tuple[Kind, ...] = field(metadata=setting(ListOf(KindChoice())))
    international: bool = field(metadata=setting(Boolean()))
    per_staff_per_hour: int = field(metadata=setting(Integer(1)))
    per_number_per_day: int = field(metadata=setting(Integer(1)))
    per_hub_per_day: int = field(metadata=setting(Integer(1)))
    calling_hours: str = field(metadata=setting(TimeRange()))
    calling_days: tuple[str, ...] = field(metadata=setting(ListOf(Choice(DAYS))))
    timezone: str = field(metadata=setting(TimeZone()))

    @property
    def calling_window(self) -> tuple[time, time]:
        """The start and end of calling_hours."""
        start, end = self.calling_hours.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The time zone calling_hours are in."""
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class WebSection:
    """[web]: the staff panel."""

    bind: str = field(metadata=setting(Host()))
    port: int = field(metadata=setting(Integer(1, 65535)))
    https: bool = field(metadata=setting(Boolean()))
    tls_cert: Path | None = field(metadata=setting(PathSetting(optional=True)))
    tls_key: Path | None = field(metadata=setting(PathSetting(optional=True)))
    session_idle_minutes: int = field(metadata=setting(Integer(5, 720)))
    threads: int = field(metadata=setting(Integer(16, 1000)))


@dataclass(frozen=True)
class DatabaseSection:
    """[database]: where families and call logs are kept."""

    url: str = field(metadata=setting(DatabaseUrl()), repr=False)  # it may hold a password


@dataclass(frozen=True)
class Pins:
    """[gpio.pins]: the BCM pin of each status LED and the button."""

    green: int = field(metadata=setting(GpioPin()))
    amber: int = field(metadata=setting(GpioPin()))
    red: int = field(metadata=setting(GpioPin()))
    hangup_button: int = field(metadata=setting(GpioPin(optional=True)))


@dataclass(frozen=True)
class GpioSection:
    """[gpio]: the status LEDs and button."""

    pin_factory: PinFactory = field(metadata=setting(Choice(get_args(PinFactory))))
    pins: Pins = field(metadata=setting(Table(Pins, noun="pin")))


@dataclass(frozen=True)
class SpeechSection:
    """[speech]: the prompts spoken to parents."""

    voice: str = field(metadata=setting(Text(required=True)))
    rate: int = field(metadata=setting(Integer(80, 400)))
    voicemail_message: str = field(metadata=setting(Template("school", "number")))
    recording_notice: str = field(metadata=setting(Text(required=True)))


@dataclass(frozen=True)
class RetentionSection:
    """[retention]: how long personal data is kept."""

    number_days: int = field(metadata=setting(Integer(1, 3650)))
    recording_days: int = field(metadata=setting(Integer(1, 3650)))


@dataclass(frozen=True)
class Config:
    """The effective configuration, one attribute per [section]."""

    hub: HubSection = field(metadata=setting(Table(HubSection)))
    school: SchoolSection = field(metadata=setting(Table(SchoolSection)))
    sip: SipSection = field(metadata=setting(Table(SipSection)))
    line: LineSection = field(metadata=setting(Table(LineSection)))
    audio: AudioSection = field(metadata=setting(Table(AudioSection)))
    dialplan: DialplanSection = field(metadata=setting(Table(DialplanSection)))
    web: WebSection = field(metadata=setting(Table(WebSection)))
    database: DatabaseSection = field(metadata=setting(Table(DatabaseSection)))
    gpio: GpioSection = field(metadata=setting(Table(GpioSection)))
    speech: SpeechSection = field(metadata=setting(Table(SpeechSection)))
    retention: RetentionSection = field(metadata=setting(Table(RetentionSection)))
    # Where the values came from, for people; two configs with equal values are equal.
    source: str = field(compare=False)

    def show(self) -> str:
        """The effective configuration as TOML, every key, with secrets masked."""
        lines = [f"# Effective configuration, from {self.source}.", f"# Secrets show as {MASK}."]
        _dump(self, "", lines)
        return "\n".join(lines) + "\n"


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """The configuration from ``path``, else $PHONEHUB_CONFIG, else /etc (if it exists)."""
    env = os.environ if environ is None else environ
    named = path if path is not None else env.get(ENV_VAR)
    file = Path(named) if named else DEFAULT_PATH
    try:
        # utf-8-sig because Windows editors put a byte-order mark in front.
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        if not named and isinstance(exc, FileNotFoundError):
            return parse_config("", BUILT_IN)  # a dev machine, with no /etc file
        via = f" from {ENV_VAR}" if path is None and named else ""
        raise ConfigError([f"cannot read {file}{via} ({exc.strerror})"], str(file)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(["not UTF-8 text; save it again as UTF-8"], str(file)) from exc
    return parse_config(text, str(file), file.absolute().parent)


def parse_config(text: str, source: str = "config", base_dir: Path | None = None) -> Config:
    """The configuration from TOML ``text`` over the defaults; ConfigError lists every problem."""
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib gives the place only in the message: "Invalid value (at line 3, column 7)",
        # or "(at end of document)", which a person finds on the last line.
        what, _, where = str(exc).partition(" (at ")
        last_line = f"line {len(text.splitlines()) or 1}"
        where = where.removesuffix(")").replace("end of document", last_line)
        raise ConfigError(
            [f"{where}: not valid TOML ({what[:1].lower()}{what[1:]})"], source
        ) from exc
    problems: list[str] = []
    values = _convert(Config, _merge(_defaults(), user), "", "section", problems)
    _settle(values, base_dir, problems)
    if problems:
        raise ConfigError(problems, source)
    return _build(Config, values, source=source)


def _defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files("hub").joinpath("default.toml").read_text("utf-8"))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the keys of ``over`` laid on top, table by table."""
    merged = dict(base)
    for key, value in over.items():
        both_tables = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if both_tables else value
    return merged


def _convert(cls: type, raw: object, path: str, noun: str, problems: list[str]) -> dict[str, Any]:
    """The values of ``cls``'s keys read from the TOML table ``raw``; bad keys are left out."""
    if not isinstance(raw, dict):
        problems.append(f"{path}: must be a table, not {_toml(raw)}")
        return {}
    kinds = {f.name: f.metadata["setting"] for f in fields(cls) if "setting" in f.metadata}
    for key in raw:
        if key not in kinds:
            problems.append(f"{_dotted(path, key)}: unknown {noun}{_did_you_mean(key, kinds)}")
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        if isinstance(kind, Table):
            values[name] = _convert(kind.cls, raw[name], _dotted(path, name), kind.noun, problems)
            continue
        try:
            values[name] = kind.convert(raw[name])
        except ValueError as exc:
            problems.append(f"{_dotted(path, name)}: {exc}")
    return values


def _settle(values: dict[str, Any], base_dir: Path | None, problems: list[str]) -> None:
    """Fill in the values that default to other keys, and check keys that go together."""
    hub, sip, web, database = values["hub"], values["sip"], values["web"], values["database"]
    if hub.get("name") == "":
        hub["name"] = socket.gethostname()
    if database.get("url") == "" and "data_dir" in hub:
        database["url"] = f"sqlite:///{hub['data_dir'] / 'phonehub.db'}"

    password, password_file = sip.get("password"), sip.get("password_file")
    if password and password_file:
        problems.append("sip.password_file: set this or sip.password, not both")
    elif password_file:
        sip["password_file"] = path = (Path(base_dir or ".") / password_file).absolute()
        sip["password"] = _read_secret(path, problems)
    elif password == "" and "password_file" in sip and sip.get("registrar"):
        problems.append(
            "sip.password: must be set when sip.registrar is set (or use sip.password_file)"
        )
    if sip.get("registrar") and sip.get("username") == "":
        problems.append("sip.username: must be set when sip.registrar is set")

    # Passwords and families' details must never cross the school network in clear.
    if web.get("https") is False and web.get("bind") not in (None, "127.0.0.1", "::1", "localhost"):
        problems.append('web.https: may be false only when web.bind is "127.0.0.1"')
    for have, missing in (("tls_cert", "tls_key"), ("tls_key", "tls_cert")):
        if web.get(have) and missing in web and web[missing] is None:
            problems.append(f"web.{missing}: must be set when web.{have} is set")

    audio = values["audio"]
    capture = audio.get("capture_device") or audio.get("device")
    playback = audio.get("playback_device") or audio.get("device")
    if capture and playback and (capture == "null") != (playback == "null"):
        problems.append(
            "audio.device: a handset needs both a microphone and a speaker; set "
            'capture_device and playback_device both to devices, or device = "null"'
        )

    used: dict[int, str] = {}
    for name, pin in values["gpio"].get("pins", {}).items():
        if pin in used:
            problems.append(f"gpio.pins.{name}: pin {pin} is already used by gpio.pins.{used[pin]}")
        elif pin:
            used[pin] = name


def _read_secret(path: Path, problems: list[str]) -> str:
    """The password kept in ``path``, without the newline an editor adds."""
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        problems.append(f"sip.password_file: cannot read {path} ({exc.strerror})")
        return ""
    except UnicodeDecodeError:
        problems.append(f"sip.password_file: {path} is not UTF-8 text")
        return ""
    if not secret:
        problems.append(f"sip.password_file: {path} is empty")
    return secret


def _build(cls: type[T], values: dict[str, Any], **extra: Any) -> T:
    """An instance of the section dataclass ``cls`` from converted ``values``."""
    for f in fields(cls):  # type: ignore[arg-type]
        kind, value = f.metadata.get("setting"), values.get(f.name)
        if kind is not None:
            extra[f.name] = _build(kind.cls, value) if isinstance(kind, Table) else value
    return cls(**extra)


def _dump(section: object, path: str, lines: list[str]) -> None:
    """Append ``section``'s keys as TOML lines, its nested tables after them."""
    tables = []
    for f in fields(section):  # type: ignore[arg-type]
        kind = f.metadata.get("setting")
        value = getattr(section, f.name)
        if isinstance(kind, Table):
            tables.append((_dotted(path, f.name), value))
        elif kind is not None:
            lines.append(f"{f.name} = {_toml(kind.dump(value))}")
    for name, table in tables:
        lines += ["", f"[{name}]"]
        _dump(table, name, lines)


def _toml(value: object) -> str:
    """``value`` written as TOML, as show() prints it and messages quote it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's string escapes are TOML's too, but TOML also wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text in quotes, not {_toml(value)}")
    return value


def _whole(value: object) -> int:
    # TOML's true and false are ints to Python; a person would not call them numbers.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {_toml(value)}")
    return value


def _is_host(text: str) -> bool:
    """True for an IP address or a DNS hostname."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        # Digits and dots that are not an address are a mistyped address, not a name.
        return bool(_HOSTNAME.fullmatch(text)) and not re.fullmatch(r"[\d.]+", text)
    return True


def _split_host_port(text: str) -> tuple[str, int | None]:
    """("host", port or None) from "host[:port]" or "[IPv6][:port]"; ValueError if malformed."""
    match = _HOST_PORT.fullmatch(text)
    if not match:
        raise ValueError(text)
    host, port = match["host"], int(match["port"]) if match["port"] else None
    valid = (":" in host and _is_host(host[1:-1])) if host.startswith("[") else _is_host(host)
    if not valid or (port is not None and not 1 <= port <= 65535):
        raise ValueError(text)
    return host, port


def _mask_url(url: str) -> str:
    """``url`` with the password in it, if any, replaced by the mask."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # no URL at all, so no password in one
    if not parsed.password:
        return url
    # SQLAlchemy masks with "***"; show every secret the one way, as show() says.
    return parsed.render_as_string(hide_password=True).replace(":***@", f":{MASK}@", 1)


def _one_of(options: Iterable[str]) -> str:
    shown = [option or '""' for option in options]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _dotted(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
