"""Loading the configuration: the user's TOML file laid over ``default.toml``.

Loading collects every problem in the file and raises one ConfigError listing them
all, each as ``section.key: what is wrong``, so a technician can fix the file in
one pass.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from hub.config.addresses import split_sip_uri
from hub.config.sections import Config
from hub.config.settings import Table, as_toml, did_you_mean, dotted
from hub.exceptions import ConfigError

DEFAULT_PATH = Path("/etc/phonehub/phonehub.toml")
ENV_VAR = "PHONEHUB_CONFIG"
BUILT_IN = "built-in defaults"

T = TypeVar("T")


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
        problems.append(f"{path}: must be a table, not {as_toml(raw)}")
        return {}
    kinds = {f.name: f.metadata["setting"] for f in fields(cls) if "setting" in f.metadata}
    for key in raw:
        if key not in kinds:
            problems.append(f"{dotted(path, key)}: unknown {noun}{did_you_mean(key, kinds)}")
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        if isinstance(kind, Table):
            values[name] = _convert(kind.cls, raw[name], dotted(path, name), kind.noun, problems)
            continue
        try:
            values[name] = kind.convert(raw[name])
        except ValueError as exc:
            problems.append(f"{dotted(path, name)}: {exc}")
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
    for key in ("registrar", "proxy"):
        if sip.get(key) and "transport" in sip:
            problem = _transport_mismatch(sip[key], sip["transport"])
            if problem:
                problems.append(f"sip.{key}: {problem}")

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


def _transport_mismatch(uri: str, transport: str) -> str | None:
    """Why a server URI cannot be reached on sip.transport, or None if it can."""
    scheme, _, params = split_sip_uri(uri)
    if scheme == "sips" and transport != "tls":
        return f'is a sips: address, which needs sip.transport = "tls", not "{transport}"'
    for param in params:
        name, _, value = param.partition("=")
        if name.lower() == "transport" and value.lower() != transport:
            return (f'says transport={value} but sip.transport is "{transport}"; make them '
                    "agree")  # fmt: skip
    return None


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
