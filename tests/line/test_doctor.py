"""phonehub doctor on a healthy hub (a running, registered line) and on a broken config."""

from __future__ import annotations

import subprocess

from tests.line.conftest import PHONEHUB, LineProcess


def doctor(config) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PHONEHUB, "--config", str(config), "doctor"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_healthy_hub_is_all_ok(hub_line: LineProcess):
    result = doctor(hub_line.config_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout
    names = [line.split()[1] for line in lines]
    assert names == ["config", "database", "pjsua2", "audio", "speech", "gpio", "registration",
                     "disk", "clock"]  # fmt: skip
    assert all(line.startswith("OK") for line in lines)
    assert "registered" in lines[names.index("registration")]


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
    lines = result.stdout.splitlines()
    failed = {line.split()[1]: line for line in lines if line.startswith("FAIL")}
    assert set(failed) == {"database", "audio", "registration"}  # never started
    assert "run: phonehub db upgrade" in failed["database"]
    assert "no sound support" in failed["audio"]
    assert "systemctl start phonehub-line" in failed["registration"]
