"""Private files: made 0600 from the start, and never replaced once they exist."""

import os
import stat

from hub.line.attempts import machine_id
from hub.private_files import private_file


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_made_0600_in_a_new_folder(tmp_path):
    path = tmp_path / "data" / "key"
    assert private_file(path, b"s3cret") == b"s3cret"
    assert path.read_bytes() == b"s3cret"
    assert mode(path) == 0o600


def test_it_is_0600_even_under_a_careless_umask(tmp_path):
    old = os.umask(0)
    try:
        private_file(tmp_path / "key", b"s3cret")
    finally:
        os.umask(old)
    assert mode(tmp_path / "key") == 0o600


def test_an_existing_file_is_kept(tmp_path):
    path = tmp_path / "key"
    private_file(path, b"first")
    assert private_file(path, b"second") == b"first"
    assert path.read_bytes() == b"first"


def test_the_hub_id_is_private_and_kept(tmp_path):
    hub_id = machine_id(tmp_path)
    assert mode(tmp_path / "hub-id") == 0o600
    assert machine_id(tmp_path) == hub_id
