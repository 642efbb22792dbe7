"""The shell scripts: shellcheck clean, PJSIP's source pinned, the Pi installer's packages right."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [ROOT / "scripts" / "apt-ensure", ROOT / "scripts" / "build-pjsua2",
           ROOT / "scripts" / "install-raspberry-pi", ROOT / "scripts" / "test-install",
           ROOT / "tests" / "install" / "check-installed", ROOT / ".ci" / "run"]  # fmt: skip
INSTALLER = ROOT / "scripts" / "install-raspberry-pi"


def _words(text: str, start: str, end: str) -> set[str]:
    """The words between ``start`` and the first ``end`` after it, line continuations joined."""
    block = text.split(start, 1)[1].split(end, 1)[0]
    return set(block.replace("\\\n", " ").split())


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (make test)")
def test_shellcheck_finds_nothing():
    result = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_build_pjsua2_verifies_the_pjproject_it_downloads():
    script = (ROOT / "scripts" / "build-pjsua2").read_text()
    assert re.search(r"^PJPROJECT_VERSION=\d+\.\d+(\.\d+)?$", script, re.M)
    assert re.search(r"^PJPROJECT_SHA256=[0-9a-f]{64}$", script, re.M)
    assert '[ "$actual" = "$PJPROJECT_SHA256" ]' in script
    # Downloads come only from the pinned release; nothing else is fetched.
    urls = set(re.findall(r"https://[^\s\"']+", script))
    assert urls == {
        "https://github.com/pjsip/pjproject/archive/refs/tags/${PJPROJECT_VERSION}.tar.gz"
    }


def test_the_pi_installer_builds_pjsua2_with_the_script_make_uses():
    script = INSTALLER.read_text()
    assert '"$SOURCE/scripts/build-pjsua2" --python "$PREFIX/.venv/bin/python"' in script
    # It downloads nothing itself: PJSIP's source comes through build-pjsua2.
    assert "github.com" not in script
    assert not re.search(r"^\s*(curl|wget)\s", script, re.M)
    assert "PHONEHUB_WHEEL_CACHE:-/var/cache/phonehub/wheels" in script


def test_the_pi_installer_installs_what_make_installs_and_no_python3_lgpio():
    packages = _words(INSTALLER.read_text(), "PACKAGES=(", ")")
    # Debian has no python3-lgpio: pip brings lgpio from PyPI (pyproject.toml).
    assert "python3-lgpio" not in packages
    # Raspberry Pi OS comes with python3 itself.
    make_installs = _words((ROOT / "Makefile").read_text(), "APT_RUN  :=", "\nAPT_TEST")
    assert make_installs - {"python3"} <= packages
