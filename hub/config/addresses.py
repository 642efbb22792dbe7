"""Settings that name a place on the network: a host, a listening address, a SIP server.

The SIP server keeps the URI parameters ITSPs publish ("sip:host:5060;transport=tcp");
``split_sip_uri`` and ``sip_uri_with`` take them apart and add to them without doubling.
"""

from __future__ import annotations

import ipaddress
import re

from hub.config.settings import Setting, _text, as_toml

_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::(?P<port>\d{1,5}))?")


class Host(Setting):
    """A hostname or IP address; ``optional`` allows ""."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def convert(self, value: object) -> str:
        text = _text(value)
        if not (self.optional and not text) and not is_host(text):
            raise ValueError(f"must be a hostname or IP address, not {as_toml(text)}")
        return text


class HostPort(Setting):
    """A local address and port to listen on, "host:port" or "[IPv6]:port"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        try:
            _, port = split_host_port(text)
        except ValueError:
            port = None
        if port is None:
            raise ValueError(
                'must be address:port with a port from 1 to 65535, like "0.0.0.0:5060", '
                f"not {as_toml(text)}"
            )
        return text


class SipServer(Setting):
    """A SIP server, kept as a SIP URI: "host", "host:port", or a URI as ITSPs publish it.

    "sip:host:port", "sips:host", with parameters: "sip:host;lr",
    "sip:host:5060;transport=tcp".
    """

    def convert(self, value: object) -> str:
        text = _text(value)
        if not text:
            return ""
        scheme, host_port, params = split_sip_uri(text)
        try:
            split_host_port(host_port)
            if any(not _URI_PARAM.fullmatch(param) for param in params):
                raise ValueError(text)
        except ValueError:
            raise ValueError(
                "must be host, host:port or a SIP URI such as sip:host:port;transport=tcp, "
                f"not {as_toml(text)}"
            ) from None
        return f"{scheme}:{host_port}" + "".join(f";{param}" for param in params)


_URI_PARAM = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(=[A-Za-z0-9\-_.!~*'()\[\]:]+)?")


def split_sip_uri(text: str) -> tuple[str, str, list[str]]:
    """("sip" or "sips", "host[:port]", ["lr", "transport=tcp"]) from a server as written."""
    scheme = "sip"
    found = re.match(r"(?i)(sips?):", text)
    if found:
        scheme, text = found.group(1).lower(), text[found.end() :]
    host_port, *params = text.split(";")
    return scheme, host_port, [param for param in params if param]


def sip_uri_with(uri: str, *params: str) -> str:
    """``uri`` with each of ``params`` ("lr", "transport=tcp") it does not already name."""
    scheme, host_port, have = split_sip_uri(uri)
    names = {param.split("=", 1)[0].lower() for param in have}
    extra = [p for p in params if p and p.split("=", 1)[0].lower() not in names]
    return f"{scheme}:{host_port}" + "".join(f";{param}" for param in [*have, *extra])


class PortRange(Setting):
    """A range of local UDP ports for call audio, "LOW-HIGH"."""

    def convert(self, value: object) -> str:
        text = _text(value)
        match = re.fullmatch(r"(\d{1,5})-(\d{1,5})", text)
        if not match:
            raise ValueError(f'must be FIRST-LAST, like "40000-40100", not {as_toml(text)}')
        low, high = int(match[1]), int(match[2])
        if low < 1024 or high > 65535:
            raise ValueError(f"must lie from 1024 to 65535, not {as_toml(text)}")
        # RTP takes the even port of each pair and RTCP the odd one above it.
        if low % 2:
            raise ValueError(f"must start on an even port, not {low}")
        if high - low < 3:
            raise ValueError(f"must span at least 4 ports, lowest first, not {as_toml(text)}")
        return text


def is_host(text: str) -> bool:
    """True for an IP address or a DNS hostname."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        # Digits and dots that are not an address are a mistyped address, not a name.
        return bool(_HOSTNAME.fullmatch(text)) and not re.fullmatch(r"[\d.]+", text)
    return True


def split_host_port(text: str) -> tuple[str, int | None]:
    """("host", port or None) from "host[:port]" or "[IPv6][:port]"; ValueError if malformed."""
    match = _HOST_PORT.fullmatch(text)
    if not match:
        raise ValueError(text)
    host, port = match["host"], int(match["port"]) if match["port"] else None
    valid = (":" in host and is_host(host[1:-1])) if host.startswith("[") else is_host(host)
    if not valid or (port is not None and not 1 <= port <= 65535):
        raise ValueError(text)
    return host, port
