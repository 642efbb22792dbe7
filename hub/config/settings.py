"""The kinds of setting: how each config key is checked, converted and shown.

A section's dataclass field names its kind in metadata, ``setting(Integer(5, 300))``;
the kind turns the TOML value into the Python one or raises ValueError with the
words that follow ``section.key:`` in the message a technician reads.
"""

from __future__ import annotations

import difflib
import json
import re
import string
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.numbers import KIND_DESCRIPTIONS, NEVER_DIALLED, Kind, classify, parse

MASK = "********"

_SCHOOL_KINDS = (Kind.GEOGRAPHIC, Kind.MOBILE, Kind.NON_GEOGRAPHIC, Kind.FREEPHONE)
_DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")

_CLOCK = r"([01]\d|2[0-3]):[0-5]\d"


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
            raise ValueError(f"must be true or false, not {as_toml(value)}")
        return value


class BooleanOrAuto(Setting):
    """true, false, or "auto" (the hub decides)."""

    def convert(self, value: object) -> bool | str:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(f'must be true, false or "auto", not {as_toml(value)}')


class Choice(Setting):
    """One of a fixed set of strings."""

    def __init__(self, options: Iterable[str]) -> None:
        self.options = tuple(options)

    def convert(self, value: object) -> str:
        text = _text(value)
        if text not in self.options:
            hint = did_you_mean(text, self.options)
            raise ValueError(f"must be {_one_of(self.options)}, not {as_toml(text)}{hint}")
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
            raise ValueError(f"must be a list in square brackets, not {as_toml(value)}")
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
            raise ValueError(f"must be an absolute path, not {as_toml(text)}")
        return Path(text)

    def dump(self, value: Path | None) -> str:
        return "" if value is None else str(value)


class TimeRange(Setting):
    """A daily window on the 24-hour clock, "HH:MM-HH:MM"; it may end at "24:00", midnight."""

    def convert(self, value: object) -> str:
        text = _text(value)
        if not re.fullmatch(f"{_CLOCK}-(?:{_CLOCK}|24:00)", text):
            raise ValueError(f'must be HH:MM-HH:MM, like "08:00-19:00", not {as_toml(text)}')
        start, end = text.split("-")
        if start >= end:
            raise ValueError(f"must end later than it starts, not {as_toml(text)}")
        return text


class TimeZone(Setting):
    """An IANA time zone name such as "Europe/London"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        try:
            zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(text, zoneinfo.available_timezones())
            raise ValueError(f"must be a time zone name, not {as_toml(text)}{hint}") from None
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
            raise ValueError(f"{as_toml(text)} is {description}; give the school's own landline")
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
                f"must start with {_one_of(_DATABASE_SCHEMES)}, not {as_toml(_mask_url(url))}"
            )
        return url

    def dump(self, value: str) -> str:
        return _mask_url(value)


class DialString(Setting):
    """What the trunk is asked to dial as it is written: digits, maybe a leading +."""

    def convert(self, value: object) -> str:
        text = _text(value).replace(" ", "")
        if text and not re.fullmatch(r"\+?[0-9]{2,20}", text):
            raise ValueError(f"must be digits as the phone system dials them, not {as_toml(text)}")
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


def as_toml(value: object) -> str:
    """``value`` written as TOML, as show() prints it and messages quote it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's string escapes are TOML's too, but TOML also wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(map(as_toml, value)) + "]"
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text in quotes, not {as_toml(value)}")
    return value


def _whole(value: object) -> int:
    # TOML's true and false are ints to Python; a person would not call them numbers.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {as_toml(value)}")
    return value


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


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def dotted(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
