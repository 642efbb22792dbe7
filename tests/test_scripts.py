"""The shell scripts: shellcheck finds nothing, and the Pi installer pins what it downloads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [ROOT / "scripts" / "apt-ensure", ROOT / "scripts" / "install-raspberry-pi",
           ROOT / ".ci" / "run"]  # fmt: skip


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (make test)")
def test_shellcheck_finds_nothing():
    result = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_pi_installer_verifies_the_pjproject_it_downloads():
    script = (ROOT / "scripts" / "install-raspberry-pi").read_text()
    assert re.search(r"^PJPROJECT_VERSION=\d+\.\d+(\.\d+)?$", script, re.M)
    assert re.search(r"^PJPROJECT_SHA256=[0-9a-f]{64}$", script, re.M)
    assert "sha256sum --check" in script
    # Downloads come only from the pinned release; nothing else is fetched.
    urls = set(re.findall(r"https://[^\s\"']+", script))
    assert urls == {
        "https://github.com/pjsip/pjproject/archive/refs/tags/${PJPROJECT_VERSION}.tar.gz"
    }
