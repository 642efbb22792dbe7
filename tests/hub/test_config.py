"""The config file: defaults, every error message, where the file comes from, show()."""

import dataclasses
import socket
import tomllib
from datetime import time
from importlib import resources
from pathlib import Path

import pytest

from hub import config
from hub.config import BUILT_IN, Config, Table, load_config, loading, parse_config
from hub.config.addresses import sip_uri_with
from hub.exceptions import ConfigError
from hub.numbers import Kind


def problems_of(text: str) -> list[str]:
    """The problems parse_config reports for ``text``."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def schema_keys(cls: type, prefix: str = "") -> set[str]:
    """Every dotted key the dataclass ``cls`` declares, nested tables included."""
    keys = set()
    for f in dataclasses.fields(cls):
        kind = f.metadata.get("setting")
        if isinstance(kind, Table):
            keys |= schema_keys(kind.cls, f"{prefix}{f.name}.")
        elif kind is not None:
            keys.add(prefix + f.name)
    return keys


def toml_keys(table: dict, prefix: str = "") -> set[str]:
    """Every dotted key in a parsed TOML document."""
    keys = set()
    for name, value in table.items():
        if isinstance(value, dict):
            keys |= toml_keys(value, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_default_toml_covers_every_key_of_the_schema_and_nothing_else():
    default = tomllib.loads(resources.files("hub").joinpath("default.toml").read_text("utf-8"))
    assert toml_keys(default) == schema_keys(Config)


def test_defaults_load_and_are_valid():
    cfg = parse_config("")
    assert cfg.hub.name == socket.gethostname()
    assert cfg.hub.data_dir == Path("/var/lib/phonehub")
    assert cfg.school.number == ""
    assert cfg.sip.registrar == ""
    assert cfg.sip.transport == "udp"
    assert (cfg.sip.bind_host, cfg.sip.bind_port) == ("0.0.0.0", 5060)
    assert cfg.sip.rtp_port_range == (40000, 40100)
    assert cfg.line.ring_timeout_s == 45
    assert cfg.dialplan.allowed == (Kind.GEOGRAPHIC, Kind.MOBILE)
    assert cfg.dialplan.calling_window == (time(8), time(19))
    assert cfg.dialplan.zone.key == "Europe/London"
    assert cfg.web.tls_cert is None
    assert cfg.database.url == "sqlite:////var/lib/phonehub/phonehub.db"
    assert cfg.gpio.pins.green == 17
    assert cfg.gpio.pins.hangup_button == 0
    assert "{school}" in cfg.speech.voicemail_message
    assert cfg.source == "config"


def test_user_values_override_defaults_key_by_key():
    cfg = parse_config(
        """
        [hub]
        data_dir = "/srv/hub"
        [sip]
        transport = "tls"
        [gpio.pins]
        red = 5
        """
    )
    assert cfg.sip.transport == "tls"
    assert cfg.sip.caller_id == "from+pai"
    assert cfg.gpio.pins == config.Pins(green=17, amber=27, red=5, hangup_button=0)
    assert cfg.database.url == "sqlite:////srv/hub/phonehub.db"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("01632 960123", "+441632960123"),
        ("07700 900123", "+447700900123"),
        ("020 7946 0123", "+442079460123"),
        ("+44 1632 960123", "+441632960123"),
    ],
)
def test_school_number_is_kept_in_e164(text, number):
    assert parse_config(f'[school]\nnumber = "{text}"').school.number == number


def test_sip_servers_are_kept_as_sip_uris():
    cfg = parse_config(
        '[sip]\nregistrar = "pbx.example.org:5070"\nproxy = "sip:[2001:db8::1]"\n'
        'username = "hub"\npassword = "pw"\nbind = "[::]:5062"'
    )
    assert cfg.sip.registrar == "sip:pbx.example.org:5070"
    assert cfg.sip.proxy == "sip:[2001:db8::1]"
    assert cfg.sip.effective_domain == "pbx.example.org"
    assert (cfg.sip.bind_host, cfg.sip.bind_port) == ("::", 5062)


@pytest.mark.parametrize(
    ("written", "transport", "kept"),
    [
        ("sip:sip.itsp.example;lr", "udp", "sip:sip.itsp.example;lr"),
        ("sip:pbx.example.org:5060;transport=tcp", "tcp", "sip:pbx.example.org:5060;transport=tcp"),
        ("SIPS:trunk.example.net", "tls", "sips:trunk.example.net"),
        ("pbx.example.org;transport=TCP", "tcp", "sip:pbx.example.org;transport=TCP"),
    ],
)
def test_servers_are_accepted_as_itsps_and_pbx_guides_write_them(written, transport, kept):
    cfg = parse_config(f'[sip]\nproxy = "{written}"\ntransport = "{transport}"')
    assert cfg.sip.proxy == kept


def test_a_servers_own_parameters_are_kept_and_never_doubled():
    assert sip_uri_with("sip:pbx;lr;transport=tcp", "lr", "transport=tcp") == (
        "sip:pbx;lr;transport=tcp")  # fmt: skip
    assert sip_uri_with("sips:trunk:5061", "lr", "transport=tls") == (
        "sips:trunk:5061;lr;transport=tls")  # fmt: skip
    assert sip_uri_with("sip:10.0.0.5", "") == "sip:10.0.0.5"


def test_sip_domain_wins_over_the_registrar_host():
    cfg = parse_config(
        '[sip]\nregistrar = "10.0.0.5"\ndomain = "school.example"\n'
        'username = "hub"\npassword = "pw"'
    )
    assert cfg.sip.effective_domain == "school.example"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # Unknown names, with a suggestion when one is close.
        ("[schol]", "schol: unknown section (did you mean school?)"),
        ("[bogus]", "bogus: unknown section"),
        ('[sip]\nregstrar = "pbx"', "sip.regstrar: unknown key (did you mean registrar?)"),
        ("[gpio.pins]\ngrean = 5", "gpio.pins.grean: unknown pin (did you mean green?)"),
        ("sip = 5", "sip: must be a table, not 5"),
        # Wrong types.
        (
            '[line]\nring_timeout_s = "forty"',
            'line.ring_timeout_s: must be a whole number, not "forty"',
        ),
        ("[line]\nring_timeout_s = 45.5", "line.ring_timeout_s: must be a whole number, not 45.5"),
        ("[web]\nport = true", "web.port: must be a whole number, not true"),
        ("[school]\nname = 5", "school.name: must be text in quotes, not 5"),
        (
            '[dialplan]\ninternational = "no"',
            'dialplan.international: must be true or false, not "no"',
        ),
        (
            '[dialplan]\ncalling_days = "mon"',
            'dialplan.calling_days: must be a list in square brackets, not "mon"',
        ),
        # Out of range.
        ("[line]\nring_timeout_s = 400", "line.ring_timeout_s: must be from 5 to 300, not 400"),
        ("[sip]\nreregister_s = 2", "sip.reregister_s: must be from 5 to 3600, not 2"),
        ("[line]\nrtp_timeout_s = 4", "line.rtp_timeout_s: must be from 5 to 300, not 4"),
        ("[web]\nport = 0", "web.port: must be from 1 to 65535, not 0"),
        (
            "[web]\nsession_idle_minutes = 721",
            "web.session_idle_minutes: must be from 5 to 720, not 721",
        ),
        ("[dialplan]\nper_hub_per_day = 0", "dialplan.per_hub_per_day: must be at least 1, not 0"),
        ("[speech]\nrate = 79", "speech.rate: must be from 80 to 400, not 79"),
        (
            "[retention]\nnumber_days = 3651",
            "retention.number_days: must be from 1 to 3650, not 3651",
        ),
        # Choices.
        (
            '[sip]\ntransport = "tpc"',
            'sip.transport: must be udp, tcp or tls, not "tpc" (did you mean tcp?)',
        ),
        (
            '[sip]\ncaller_id = "frm+pai"',
            'sip.caller_id: must be from, from+pai or from+ppi, not "frm+pai"'
            " (did you mean from+pai?)",
        ),
        (
            '[sip]\ncaller_id = "pai"',
            'sip.caller_id: must be from, from+pai or from+ppi, not "pai"',
        ),
        (
            '[sip]\ndial_format = "E.164"',
            'sip.dial_format: must be national or e164, not "E.164" (did you mean e164?)',
        ),
        (
            '[gpio]\npin_factory = "mok"',
            'gpio.pin_factory: must be "", mock, lgpio, rpigpio, pigpio or native, not "mok"'
            " (did you mean mock?)",
        ),
        (
            '[dialplan]\ncalling_days = ["mon", "tues"]',
            'dialplan.calling_days: must be mon, tue, wed, thu, fri, sat or sun, not "tues"'
            " (did you mean tue?)",
        ),
        ("[dialplan]\ncalling_days = []", "dialplan.calling_days: must not be empty"),
        (
            '[dialplan]\nallowed = ["mobil"]',
            "dialplan.allowed: must be geographic, mobile, freephone, non_geographic, voip,"
            ' personal, shared_cost or pager, not "mobil" (did you mean mobile?)',
        ),
        (
            '[dialplan]\nallowed = ["mobile", "premium_rate"]',
            "dialplan.allowed: premium_rate can never be allowed",
        ),
        (
            '[dialplan]\nallowed = ["short_code"]',
            "dialplan.allowed: short_code can never be allowed",
        ),
        (
            '[dialplan]\nallowed = ["international"]',
            "dialplan.allowed: allow international numbers with dialplan.international = true",
        ),
        (
            '[dialplan]\ntimezone = "Europe/Lodnon"',
            'dialplan.timezone: must be a time zone name, not "Europe/Lodnon"'
            " (did you mean Europe/London?)",
        ),
        # The school's number.
        (
            '[school]\nnumber = "0909 879 0123"',
            'school.number: "0909 879 0123" is a premium-rate number'
            "; give the school's own landline",
        ),
        (
            '[school]\nnumber = "999"',
            'school.number: "999" is a short code; give the school\'s own landline',
        ),
        (
            '[school]\nnumber = "+33 1 23 45 67 89"',
            'school.number: "+33 1 23 45 67 89" is an international number'
            "; give the school's own landline",
        ),
        (
            '[school]\nnumber = "the office"',
            'school.number: "the office" is not a valid phone number'
            "; give the school's own landline",
        ),
        ('[school]\nname = " "', "school.name: must not be empty"),
        # Formats.
        ('[hub]\ndata_dir = "data"', 'hub.data_dir: must be an absolute path, not "data"'),
        ('[line]\ncontrol_socket = ""', 'line.control_socket: must be an absolute path, not ""'),
        (
            '[web]\ntls_cert = "cert.pem"\ntls_key = "/k.pem"',
            'web.tls_cert: must be an absolute path, not "cert.pem"',
        ),
        (
            '[sip]\nregistrar = "sip:pbx:99999"',
            "sip.registrar: must be host, host:port or a SIP URI such as "
            'sip:host:port;transport=tcp, not "sip:pbx:99999"',
        ),
        (
            '[sip]\nproxy = "sips://x"',
            "sip.proxy: must be host, host:port or a SIP URI such as "
            'sip:host:port;transport=tcp, not "sips://x"',
        ),
        (
            '[sip]\nproxy = "sip:pbx;lr;bad param"',
            "sip.proxy: must be host, host:port or a SIP URI such as "
            'sip:host:port;transport=tcp, not "sip:pbx;lr;bad param"',
        ),
        (
            '[sip]\nproxy = "sip:pbx.example.org:5060;transport=tcp"',
            'sip.proxy: says transport=tcp but sip.transport is "udp"; make them agree',
        ),
        (
            '[sip]\nproxy = "sips:pbx.example.org"',
            'sip.proxy: is a sips: address, which needs sip.transport = "tls", not "udp"',
        ),
        (
            '[sip]\ndomain = "bad domain"',
            'sip.domain: must be a hostname or IP address, not "bad domain"',
        ),
        (
            '[web]\nbind = "10.0.0.300"',
            'web.bind: must be a hostname or IP address, not "10.0.0.300"',
        ),
        (
            '[sip]\nbind = "0.0.0.0"',
            "sip.bind: must be address:port with a port from 1 to 65535,"
            ' like "0.0.0.0:5060", not "0.0.0.0"',
        ),
        (
            '[sip]\nbind = "[::1]:70000"',
            "sip.bind: must be address:port with a port from 1 to 65535,"
            ' like "0.0.0.0:5060", not "[::1]:70000"',
        ),
        (
            '[sip]\nrtp_ports = "40000"',
            'sip.rtp_ports: must be FIRST-LAST, like "40000-40100", not "40000"',
        ),
        (
            '[sip]\nrtp_ports = "1000-2000"',
            'sip.rtp_ports: must lie from 1024 to 65535, not "1000-2000"',
        ),
        (
            '[sip]\nrtp_ports = "40001-40100"',
            "sip.rtp_ports: must start on an even port, not 40001",
        ),
        (
            '[sip]\nrtp_ports = "40000-40002"',
            'sip.rtp_ports: must span at least 4 ports, lowest first, not "40000-40002"',
        ),
        (
            '[sip]\nrtp_ports = "40100-40000"',
            'sip.rtp_ports: must span at least 4 ports, lowest first, not "40100-40000"',
        ),
        (
            '[dialplan]\ncalling_hours = "8am-7pm"',
            'dialplan.calling_hours: must be HH:MM-HH:MM, like "08:00-19:00", not "8am-7pm"',
        ),
        (
            '[dialplan]\ncalling_hours = "19:00-08:00"',
            'dialplan.calling_hours: must end later than it starts, not "19:00-08:00"',
        ),
        (
            '[dialplan]\ncalling_hours = "24:00-08:00"',
            'dialplan.calling_hours: must be HH:MM-HH:MM, like "08:00-19:00", not "24:00-08:00"',
        ),
        (
            '[database]\nurl = "mysql://hub:secret@db/phonehub"',
            "database.url: must start with sqlite:///, postgresql:// or postgresql+psycopg://,"
            ' not "mysql://hub:********@db/phonehub"',
        ),
        ('[audio]\ndevice = ""', "audio.device: must not be empty"),
        (
            "[audio]\nmicrophone_gain_db = 30",
            "audio.microphone_gain_db: must be from -20 to 20, not 30",
        ),
        (
            "[audio]\ncapture_buffer_ms = 5",
            "audio.capture_buffer_ms: must be from 10 to 500, not 5",
        ),
        (
            '[audio]\necho_cancellation = "yes"',
            'audio.echo_cancellation: must be true, false or "auto", not "yes"',
        ),
        (
            '[audio]\ncapture_device = "plughw:CARD=Mic,DEV=0"',
            "audio.device: a handset needs both a microphone and a speaker; set capture_device "
            'and playback_device both to devices, or device = "null"',
        ),
        (
            '[speech]\nvoicemail_message = "Call {scool} on {number} or {phone}"',
            "speech.voicemail_message: unknown placeholders {scool}, {phone}"
            "; use {school} and {number}",
        ),
        (
            '[speech]\nvoicemail_message = "Call {}"',
            "speech.voicemail_message: unknown placeholder {}; use {school} and {number}",
        ),
        (
            '[speech]\nvoicemail_message = "Call us :-}"',
            "speech.voicemail_message: has a { or } that is not a placeholder"
            "; write {{ or }} for a brace",
        ),
        (
            '[speech]\nvoicemail_message = "Call {school!x}"',
            "speech.voicemail_message: has a { or } that is not a placeholder"
            "; write {{ or }} for a brace",
        ),
        # GPIO pins.
        (
            "[gpio.pins]\ngreen = 30",
            "gpio.pins.green: must be a BCM GPIO number from 2 to 27, not 30",
        ),
        ("[gpio.pins]\nred = 0", "gpio.pins.red: must be a BCM GPIO number from 2 to 27, not 0"),
        (
            "[gpio.pins]\nhangup_button = 1",
            "gpio.pins.hangup_button: must be 0 (not fitted) or a BCM GPIO number from 2 to 27,"
            " not 1",
        ),
        ("[gpio.pins]\nred = 17", "gpio.pins.red: pin 17 is already used by gpio.pins.green"),
        # Keys that go together.
        (
            '[sip]\nregistrar = "pbx"\npassword = "pw"',
            "sip.username: must be set when sip.registrar is set",
        ),
        (
            '[sip]\nregistrar = "pbx"\nusername = "hub"',
            "sip.password: must be set when sip.registrar is set (or use sip.password_file)",
        ),
        (
            '[web]\ntls_cert = "/etc/ssl/hub.pem"',
            "web.tls_key: must be set when web.tls_cert is set",
        ),
        (
            '[web]\ntls_key = "/etc/ssl/hub.key"',
            "web.tls_cert: must be set when web.tls_key is set",
        ),
        (
            '[positive]\nreminder_day = "friday"',
            'positive.reminder_day: must be mon, tue, wed, thu, fri, sat or sun, not "friday" '
            "(did you mean fri?)",
        ),
        (
            "[positive]\ncall_length_min = 0",
            "positive.call_length_min: must be from 1 to 60, not 0",
        ),
        # TOML syntax.
        ("[line]\nring_timeout_s = \n", "line 2, column 18: not valid TOML (invalid value)"),
        ('[sip]\nregistrar = "pbx', "line 2: not valid TOML (unterminated string)"),
        ("a = [1, 2\n", "line 1: not valid TOML (unclosed array)"),
        ("[x]\nb = 1\nb = 2", "line 3: not valid TOML (cannot overwrite a value)"),
    ],
)
def test_each_problem_is_one_exact_sentence(text, problem):
    assert problems_of(text) == [problem]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            """
            [schol]
            [sip]
            regstrar = "pbx"
            transport = "tpc"
            [line]
            ring_timeout_s = "forty"
            [gpio.pins]
            amber = 17
            """,
            source="/etc/phonehub/phonehub.toml",
        )
    assert caught.value.problems == [
        "schol: unknown section (did you mean school?)",
        "sip.regstrar: unknown key (did you mean registrar?)",
        'sip.transport: must be udp, tcp or tls, not "tpc" (did you mean tcp?)',
        'line.ring_timeout_s: must be a whole number, not "forty"',
        "gpio.pins.amber: pin 17 is already used by gpio.pins.green",
    ]
    assert str(caught.value).startswith("/etc/phonehub/phonehub.toml has 5 problems:\n  schol:")


def test_a_key_that_is_wrong_gets_no_second_message_about_its_partner():
    assert problems_of('[web]\ntls_cert = "/c.pem"\ntls_key = "k.pem"') == [
        'web.tls_key: must be an absolute path, not "k.pem"'
    ]


def test_password_is_read_from_password_file_without_its_newline(tmp_path):
    (tmp_path / "sip.secret").write_text("s3cret\n")
    cfg = parse_config(
        '[sip]\nregistrar = "pbx"\nusername = "hub"\npassword_file = "sip.secret"',
        base_dir=tmp_path,
    )
    assert cfg.sip.password == "s3cret"
    assert cfg.sip.password_file == tmp_path / "sip.secret"


def test_missing_password_file_is_named(tmp_path):
    missing = tmp_path / "nope"
    assert problems_of(f'[sip]\npassword_file = "{missing}"') == [
        f"sip.password_file: cannot read {missing} (No such file or directory)"
    ]


def test_empty_password_file_is_a_problem(tmp_path):
    (tmp_path / "empty").write_text("\n")
    assert problems_of(f'[sip]\npassword_file = "{tmp_path / "empty"}"') == [
        f"sip.password_file: {tmp_path / 'empty'} is empty"
    ]


def test_password_and_password_file_together_is_a_problem(tmp_path):
    (tmp_path / "secret").write_text("pw")
    text = f'[sip]\npassword = "pw"\npassword_file = "{tmp_path / "secret"}"'
    assert problems_of(text) == ["sip.password_file: set this or sip.password, not both"]


def test_secrets_stay_out_of_repr():
    cfg = parse_config('[sip]\npassword = "s3cret"\n[database]\nurl = "postgresql://h:s3cret@db/x"')
    assert "s3cret" not in repr(cfg)


def test_show_masks_the_sip_password_and_reparses():
    text = '[sip]\nregistrar = "pbx"\nusername = "hub"\npassword = "s3cret"'
    cfg = parse_config(text)
    shown = cfg.show()
    assert 'password = "********"' in shown
    assert "s3cret" not in shown
    assert parse_config(shown.replace("********", "s3cret")) == cfg


def test_show_masks_a_password_from_password_file(tmp_path):
    (tmp_path / "secret").write_text("s3cret\n")
    cfg = parse_config(f'[sip]\npassword_file = "{tmp_path / "secret"}"')
    shown = cfg.show()
    assert 'password = "********"' in shown
    assert f'password_file = "{tmp_path / "secret"}"' in shown
    assert "s3cret" not in shown
    assert parse_config(shown.replace('"********"', '""')) == cfg


def test_show_masks_the_database_password_and_reparses():
    cfg = parse_config('[database]\nurl = "postgresql+psycopg://hub:s3cret@db:5432/phonehub"')
    shown = cfg.show()
    assert 'url = "postgresql+psycopg://hub:********@db:5432/phonehub"' in shown
    assert "s3cret" not in shown
    assert parse_config(shown.replace("********", "s3cret")) == cfg


def test_show_prints_every_key_and_the_effective_values():
    cfg = parse_config(
        '[school]\nnumber = "01632 960123"\n[speech]\nrecording_notice = "Say \\"hi\\"\\tnow"'
    )
    shown = cfg.show()
    assert toml_keys(tomllib.loads(shown)) == schema_keys(Config)
    assert f'name = "{socket.gethostname()}"' in shown
    assert 'number = "+441632960123"' in shown
    assert 'url = "sqlite:////var/lib/phonehub/phonehub.db"' in shown
    assert parse_config(shown) == cfg


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Three config files, each with its own school name; the /etc one is the default."""
    for name in ("explicit", "env", "etc"):
        (tmp_path / f"{name}.toml").write_text(f'[school]\nname = "{name}"\n')
    monkeypatch.setattr(loading, "DEFAULT_PATH", tmp_path / "etc.toml")
    return tmp_path


def test_explicit_path_wins_over_env_and_default(files):
    environ = {"PHONEHUB_CONFIG": str(files / "env.toml")}
    cfg = load_config(files / "explicit.toml", environ)
    assert (cfg.school.name, cfg.source) == ("explicit", str(files / "explicit.toml"))


def test_env_wins_over_default(files):
    cfg = load_config(environ={"PHONEHUB_CONFIG": str(files / "env.toml")})
    assert cfg.school.name == "env"


def test_default_file_is_used_when_nothing_is_named(files):
    assert load_config(environ={}).school.name == "etc"


def test_built_in_defaults_when_the_default_file_is_absent(files, monkeypatch):
    monkeypatch.setattr(loading, "DEFAULT_PATH", files / "absent.toml")
    cfg = load_config(environ={})
    assert (cfg.school.name, cfg.source) == ("Example School", BUILT_IN)


def test_environ_defaults_to_os_environ(files, monkeypatch):
    monkeypatch.setenv("PHONEHUB_CONFIG", str(files / "env.toml"))
    assert load_config().school.name == "env"


def test_missing_explicit_file_is_an_error(files):
    with pytest.raises(ConfigError) as caught:
        load_config(files / "absent.toml", {})
    assert caught.value.problems == [
        f"cannot read {files / 'absent.toml'} (No such file or directory)"
    ]


def test_missing_file_named_by_env_says_so(files):
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"PHONEHUB_CONFIG": str(files / "absent.toml")})
    assert caught.value.problems == [
        f"cannot read {files / 'absent.toml'} from PHONEHUB_CONFIG (No such file or directory)"
    ]


def test_unreadable_explicit_file_is_an_error(files):
    with pytest.raises(ConfigError) as caught:
        load_config(files, {})
    assert caught.value.problems == [f"cannot read {files} (Is a directory)"]


def test_file_that_is_not_utf8_is_an_error(files):
    (files / "explicit.toml").write_bytes(b'[school]\nname = "Caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(files / "explicit.toml", {})
    assert caught.value.problems == ["not UTF-8 text; save it again as UTF-8"]


def test_syntax_error_names_the_file_and_line(files):
    (files / "broken.toml").write_text('[school]\nname = "x"\nnumber = \n')
    with pytest.raises(ConfigError) as caught:
        load_config(files / "broken.toml", {})
    assert str(caught.value) == (
        f"{files / 'broken.toml'} has 1 problem:\n"
        "  line 3, column 10: not valid TOML (invalid value)"
    )


def test_password_file_is_relative_to_the_config_file(files):
    (files / "sip.secret").write_text("s3cret\n")
    (files / "explicit.toml").write_text('[sip]\npassword_file = "sip.secret"\n')
    assert load_config(files / "explicit.toml", {}).sip.password == "s3cret"


def test_file_with_a_byte_order_mark_loads(files):
    (files / "explicit.toml").write_text('\ufeff[school]\nname = "bom"\n', encoding="utf-8")
    assert load_config(files / "explicit.toml", {}).school.name == "bom"


@pytest.mark.parametrize(
    ("audio", "cancelled"),
    [
        ('device = "plughw:CARD=Handset,DEV=0"', True),
        ('device = "plughw:CARD=Headset,DEV=0"', False),
        ('device = "plughw:CARD=Headset,DEV=0"\necho_cancellation = true', True),
        ('device = "plughw:CARD=Device,DEV=0"\necho_cancellation = false', False),
    ],
)
def test_echo_is_cancelled_for_a_handset_and_not_for_a_headset(audio, cancelled):
    assert parse_config(f"[audio]\n{audio}").audio.cancel_echo is cancelled
