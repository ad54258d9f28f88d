"""The fingerprint key file beside the database."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from monitor.store import StoreError, fingerprint_key
from monitor.store.keyfile import KEY_FILE_NAME


def test_key_is_created_once_and_private(tmp_path: Path) -> None:
    """The first call creates 32 random bytes, mode 0600, in the database's directory (0700 if
    created); later calls return the same key."""
    database = tmp_path / "state" / "monitor.db"
    key = fingerprint_key(database)
    path = tmp_path / "state" / KEY_FILE_NAME
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert fingerprint_key(database) == key
    assert fingerprint_key(database.parent) == key
    assert sorted(p.name for p in path.parent.iterdir()) == [KEY_FILE_NAME]


def test_keys_differ_between_installs(tmp_path: Path) -> None:
    """Two installs get two different keys."""
    assert fingerprint_key(tmp_path / "a" / "m.db") != fingerprint_key(tmp_path / "b" / "m.db")


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A key file readable by group or others is refused with the chmod that fixes it."""
    fingerprint_key(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        fingerprint_key(tmp_path)


def test_truncated_key_is_refused(tmp_path: Path) -> None:
    """A key file of the wrong length is an error, not silently a weaker key."""
    path = tmp_path / KEY_FILE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(StoreError, match="holds 5 bytes, expected 32"):
        fingerprint_key(tmp_path)
