"""How long a full pjsua2 build takes on this machine, from the cached PJSIP source.

``scripts/build-pjsua2 --wheel-only`` runs as ``make`` and the Pi installer run it,
with ``PHONEHUB_WHEEL_CACHE`` pointed at an empty temporary folder, so every step
runs and the shared wheel cache is neither read nor touched. The script prints each
step's seconds; they are the figures, with the whole build. It keeps every core busy
for a few minutes: run it on an otherwise quiet machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build-pjsua2"
STEPS = {  # the script's step titles → figure keys
    "configuring": "configure",
    "compiling PJSIP": "pjsip",
    "generating the Python binding (SWIG)": "swig",
    "compiling the Python binding": "binding",
}


def run() -> list[Figure]:
    """One full build, timed as a whole and step by step."""
    cache = Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        started = time.monotonic()
        result = subprocess.run(
            [str(SCRIPT), "--python", sys.executable, "--wheel-only"],
            env={**os.environ, "PHONEHUB_WHEEL_CACHE": str(cache)},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"build-pjsua2 failed:\n{result.stderr[-2000:]}")
    steps = dict(re.findall(r"==> build-pjsua2: (.+)\n\s+\((\d+) s\)", result.stdout))
    cores = os.cpu_count()
    figures = [
        Figure("build.pjsua2.total", "pjsua2 build from the cached source", seconds, "s",
               note=f"scripts/build-pjsua2 --wheel-only with an empty wheel cache; {cores}"
               f" cores (make -j{cores}); load average {os.getloadavg()[0]:.1f} after"),
    ]  # fmt: skip
    for title, key in STEPS.items():
        if title in steps:
            figures.append(
                Figure(f"build.pjsua2.{key}", f"pjsua2 build: {title}", float(steps[title]), "s")
            )
    return figures
