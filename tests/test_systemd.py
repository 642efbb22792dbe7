"""The systemd units: systemd itself finds nothing wrong, and the hardening is there."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "systemd"
INSTALLED = "/opt/phonehub/.venv/bin/phonehub"


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / name)
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verify_passes_on_every_unit(tmp_path):
    # verify checks that ExecStart exists: point it at this machine's phonehub.
    phonehub = str(Path(sys.executable).parent / "phonehub")
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, phonehub))
    result = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr


def test_the_line_unit_is_a_hardened_notify_service_with_a_watchdog():
    service = _unit("phonehub-line.service")["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] == "phonehub"
    assert {"audio", "gpio"} <= set(service["SupplementaryGroups"].split())
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/phonehub"
    assert service["PrivateTmp"] == "yes"
    assert service["ExecStart"].endswith("--config /etc/phonehub/phonehub.toml line")
    after = _unit("phonehub-line.service")["Unit"]["After"].split()
    assert {"network-online.target", "sound.target"} <= set(after)


def test_maintenance_runs_nightly_and_catches_up_after_a_power_cut():
    timer = _unit("phonehub-maintenance.timer")["Timer"]
    assert timer["OnCalendar"].endswith("02:30:00")
    assert timer["Persistent"] == "true"


def test_every_unit_runs_a_real_phonehub_command():
    phonehub = Path(sys.executable).parent / "phonehub"
    for unit in UNITS.glob("*.service"):
        command = _unit(unit.name)["Service"]["ExecStart"].split()
        assert command[0] == INSTALLED
        result = subprocess.run([str(phonehub), *command[1:-1], command[-1], "--help"],
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, (unit.name, result.stderr)
