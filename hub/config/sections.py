"""The config file's sections: one frozen dataclass per [section], one field per key.

Each field declares its key's setting kind (hub.config.settings); the default
values live only in ``default.toml``.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Literal, get_args

from hub.config.addresses import (
    Host,
    HostPort,
    PortRange,
    SipServer,
    split_host_port,
    split_sip_uri,
)
from hub.config.printing import show_config
from hub.config.settings import (
    Boolean,
    BooleanOrAuto,
    Choice,
    DatabaseUrl,
    DialString,
    GpioPin,
    Integer,
    KindChoice,
    ListOf,
    PathSetting,
    SchoolNumber,
    Secret,
    Table,
    Template,
    Text,
    TimeRange,
    TimeZone,
    setting,
)
from hub.numbers import Kind

Transport = Literal["udp", "tcp", "tls"]
CallerId = Literal["from", "from+pai", "from+ppi"]
DialFormat = Literal["national", "e164"]
Dtmf = Literal["auto", "rfc4733", "info"]
PinFactory = Literal["", "mock", "lgpio", "rpigpio", "pigpio", "native"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The nations with their own bank holidays, as [dialplan] nation names them.
NATIONS = ("england-and-wales", "scotland", "northern-ireland")


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
    dtmf: Dtmf = field(metadata=setting(Choice(get_args(Dtmf))))

    @property
    def effective_domain(self) -> str:
        """The SIP domain: sip.domain, else the registrar's host ("" if neither is set)."""
        if self.domain or not self.registrar:
            return self.domain
        return split_host_port(split_sip_uri(self.registrar)[1])[0]

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
    max_calls: int = field(metadata=setting(Integer(1, 8)))
    interpreter_number: str = field(metadata=setting(DialString()))


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
    nation: str = field(metadata=setting(Choice(NATIONS)))
    school_days_only: bool = field(metadata=setting(Boolean()))

    @property
    def calling_window(self) -> tuple[time, time]:
        """The start and end of calling_hours."""
        start, end = self.calling_hours.split("-")
        # "24:00", the end of the day, is the last moment a time can be.
        return time.fromisoformat(start), time.max if end == "24:00" else time.fromisoformat(end)

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
    require_two_step: bool = field(metadata=setting(Boolean()))


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
class PositiveSection:
    """[positive]: positive calls home as each member of staff's weekly habit."""

    reminder_day: str = field(metadata=setting(Choice(DAYS)))
    reminder_hours: str = field(metadata=setting(TimeRange()))
    call_length_min: int = field(metadata=setting(Integer(1, 60)))
    reflect_after_days: int = field(metadata=setting(Integer(0, 28)))

    @property
    def reminder_window(self) -> tuple[time, time]:
        """The start and end of reminder_hours."""
        start, end = self.reminder_hours.split("-")
        return time.fromisoformat(start), time.max if end == "24:00" else time.fromisoformat(end)


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
    positive: PositiveSection = field(metadata=setting(Table(PositiveSection)))
    # Where the values came from, for people; two configs with equal values are equal.
    source: str = field(compare=False)

    def show(self) -> str:
        """The effective configuration as TOML, every key, with secrets masked."""
        return show_config(self, self.source)
