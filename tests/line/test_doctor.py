"""phonehub doctor on a healthy hub (a running, registered line) and on a broken config."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from hub.db import open_database
from hub.models import SpokenMessage
from tests.line.conftest import PHONEHUB, LineProcess
from tests.pulse import VirtualHandset

# Opens the virtual sound card, as the handset tests do.
# `make test` runs these by themselves, after the rest (see tests/conftest.py).
pytestmark = pytest.mark.alone


def doctor(config, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PHONEHUB, "--config", str(config), "doctor"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})  # fmt: skip


def checks(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The report's check lines, without the lines indented under them."""
    return [line for line in result.stdout.splitlines() if not line.startswith(" ")]


def test_a_healthy_hub_is_all_ok(hub_line: LineProcess):
    result = doctor(hub_line.config_path)
    lines = checks(result)
    assert result.returncode == 0, result.stdout
    names = [line.split()[1] for line in lines]
    assert names == ["config", "database", "pjsua2", "audio", "speech", "gpio", "registration",
                     "disk", "clock"]  # fmt: skip
    assert all(line.startswith("OK") for line in lines)
    assert "registered" in lines[names.index("registration")]
    # Which of the families' languages espeak-ng can speak, and which not.
    assert re.search(r"^ +voices: .*\bPolish\b", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^ +no voice \(those families hear English\): .*\bSomali\b",
                     result.stdout, re.MULTILINE), result.stdout  # fmt: skip

    # Messages written in a language with no voice here: families would hear English.
    with open_database(hub_line.database_url) as database, database.session() as session:
        session.add(SpokenMessage(language="so", voicemail_message="Salaan.",
                                  recording_notice="Salaan."))  # fmt: skip
    failed = [line for line in checks(doctor(hub_line.config_path)) if line.startswith("FAIL")]
    assert failed == [
        "FAIL  speech        messages are written in Somali but espeak-ng has no voice for it; "
        "run: sudo apt-get install espeak-ng-data"
    ]


def test_a_broken_config_is_one_fail_line_with_the_fix(tmp_path):
    config = tmp_path / "phonehub.toml"
    config.write_text(f'[hub]\ndata_dir = "{tmp_path}"\n[sip]\ntransprt = "tcp"\n')
    result = doctor(config)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"FAIL  config        {config} has 1 problem: sip.transprt: unknown key "
        "(did you mean transport?)"
    ]


def test_a_new_hub_with_a_missing_handset_gets_a_fix_for_each_failure(make_line):
    line = make_line(None, audio={"device": "plughw:CARD=Headset,DEV=0"})
    result = doctor(line.config_path)
    assert result.returncode == 1
    failed = {line.split()[1]: line for line in checks(result) if line.startswith("FAIL")}
    assert set(failed) == {"database", "audio", "registration"}  # never started
    assert "run: phonehub db upgrade" in failed["database"]
    assert 'the microphone "plughw:CARD=Headset,DEV=0" is not connected' in failed["audio"]
    assert "systemctl start phonehub-line" in failed["registration"]


def test_the_handset_is_listed_as_pjsua2_sees_it_and_its_absence_explained(make_line, tmp_path):
    line = make_line(None, audio={"device": "handset"})
    with VirtualHandset(tmp_path / "sound") as handset:
        result = doctor(line.config_path, handset.env())
        lines = result.stdout.splitlines()
        audio = next(i for i, text in enumerate(lines) if text.split()[1:2] == ["audio"])
        assert lines[audio].startswith('OK    audio         the handset is connected: "handset"')
        listed = [text.split() for text in lines[audio + 1 :] if text.startswith(" ")]
        assert ["*", "handset", "microphone", "yes", "speaker", "yes"] in listed

        handset.unplug()
        result = doctor(line.config_path, handset.env())
    [audio_line] = [text for text in checks(result) if text.split()[1] == "audio"]
    assert audio_line.startswith('FAIL  audio         the microphone "handset" cannot be opened')
