"""A stand-in pjsua2 wheel, so the arm64 install test compiles nothing under emulation.

scripts/test-install puts it in the arm64 root file system's wheel cache under the key
scripts/build-pjsua2 computes there; the installer then installs it as it would a
wheel it had built. It imports, and does nothing else.

    python3 tests/install/standin_wheel.py 2.15.1-cp311-aarch64-35401bd78bfa FOLDER
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

MODULE = '''"""A stand-in for pjsua2, made by tests/install/standin_wheel.py: not PJSIP."""

STAND_IN = True
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(key: str, folder: Path) -> Path:
    """Write the stand-in for cache key ``key`` (VERSION-PYTAG-MACHINE-HASH) into ``folder``."""
    version, python_tag, machine, _ = key.split("-")
    tag = f"{python_tag}-{python_tag}-linux_{machine}"
    info = f"pjsua2-{version}.dist-info"
    files = {
        "pjsua2.py": MODULE.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: pjsua2\nVersion: {version}\n"
            "Summary: A stand-in for the install test, not PJSIP\n"
        ).encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: standin_wheel\nRoot-Is-Purelib: false\nTag: {tag}\n"
        ).encode(),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"pjsua2-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: standin_wheel.py KEY FOLDER")
    print(write_wheel(sys.argv[1], Path(sys.argv[2])))
