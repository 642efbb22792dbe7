"""Files only the hub's own user may read: the keys and tokens it makes for itself.

Each is created with mode 0600 in the one call that creates it, so there is no
moment when another user could read it, as there is between writing a file and
chmod-ing it. Whoever creates it first wins; everyone else reads theirs.

    key = private_file(data_dir / "web-secret-key", secrets.token_bytes(32))
"""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def private_file(path: Path, contents: bytes) -> bytes:
    """What ``path`` holds; if it is not there yet, it is made holding ``contents``, mode 0600."""
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    except FileExistsError:
        return path.read_bytes()  # made earlier, or just now by another process
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(contents)
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written secret for the next start to trust
        raise
    return contents
