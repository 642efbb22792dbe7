"""scripts/build-pjsua2: one pinned, checked build of pjsua2, made once and reused."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build-pjsua2"


def build(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "--python", sys.executable, *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (make test)")
def test_shellcheck_finds_nothing():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_an_archive_that_is_not_the_pinned_release_is_refused_in_one_sentence(tmp_path):
    sources, wheels = tmp_path / "sources", tmp_path / "wheels"
    sources.mkdir()
    forged = sources / "pjproject-2.15.1.tar.gz"
    forged.write_bytes(b"not the release")
    result = build("--wheel-only", env={"PHONEHUB_SOURCE_CACHE": str(sources),
                                        "PHONEHUB_WHEEL_CACHE": str(wheels)})  # fmt: skip
    assert result.returncode == 1
    digest = hashlib.sha256(b"not the release").hexdigest()
    [error] = [line for line in result.stderr.splitlines() if line.startswith("build-pjsua2:")]
    assert error == (
        f"build-pjsua2: error: {forged} has SHA-256 {digest}, not the pinned "
        "8f3bd99caf003f96ed8038b8a36031eb9d8cd9eaea1eaff7e01c2eef6bd55706; nothing was built "
        "from it (delete it and run this again)."
    )
    assert not list(wheels.rglob("*.whl"))


def test_the_key_names_the_source_the_machine_and_the_python():
    key = build("--print-key").stdout.strip()
    version = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert key.startswith(f"2.15.1-{version}-{os.uname().machine}-")
    assert build("--print-key").stdout.strip() == key  # the same options, the same key


def test_a_second_run_reuses_what_is_installed_and_builds_nothing():
    # make test ran the script on this very venv before the tests started.
    started = time.monotonic()
    result = build()
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert time.monotonic() - started < 10
