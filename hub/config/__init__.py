"""The hub's configuration: a TOML file read over the defaults in ``default.toml``.

Each key is declared once, in its section's dataclass (``sections``), with the
kind of setting that checks and converts it (``settings``); the default values live
only in ``default.toml``. ``loading`` reads the file and collects every problem in
it into one ConfigError, each as ``section.key: what is wrong``, so a technician
can fix the file in one pass; ``printing`` shows it back with secrets masked.

    >>> cfg = parse_config('[line]\\nring_timeout_s = 30')
    >>> cfg.line.ring_timeout_s, cfg.sip.transport
    (30, 'udp')
"""

from hub.config.loading import BUILT_IN, DEFAULT_PATH, ENV_VAR, load_config, parse_config
from hub.config.sections import (
    DAYS,
    AudioSection,
    CallerId,
    Config,
    DatabaseSection,
    DialFormat,
    DialplanSection,
    GpioSection,
    HubSection,
    LineSection,
    PinFactory,
    Pins,
    PositiveSection,
    RetentionSection,
    SchoolSection,
    SipSection,
    SpeechSection,
    Transport,
    WebSection,
)
from hub.config.settings import MASK, Setting, Table, setting

__all__ = [
    "BUILT_IN",
    "DAYS",
    "DEFAULT_PATH",
    "ENV_VAR",
    "MASK",
    "AudioSection",
    "CallerId",
    "Config",
    "DatabaseSection",
    "DialFormat",
    "DialplanSection",
    "GpioSection",
    "HubSection",
    "LineSection",
    "PinFactory",
    "Pins",
    "PositiveSection",
    "RetentionSection",
    "SchoolSection",
    "Setting",
    "SipSection",
    "SpeechSection",
    "Table",
    "Transport",
    "WebSection",
    "load_config",
    "parse_config",
    "setting",
]
