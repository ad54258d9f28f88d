"""The install key for keyed credential fingerprints, kept in a file beside the database.

Fingerprints are HMACs under this key (:meth:`monitor.secrets.Secret.fingerprint`), so a copy
of the database alone does not let anyone test password guesses against them. The key is
created once per install. Losing it makes every credential look "changed", which releases
every lockout guard: :meth:`monitor.store.Store.fingerprint_key` refuses to create a new key
silently while guards exist.

This module deliberately imports nothing but the standard library.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from monitor.store.errors import StoreError

KEY_FILE_NAME = "fingerprint.key"
KEY_BYTES = 32


def key_path(path_or_dir: Path) -> Path:
    """Given the database file (existing or not) or its directory, return the key file path."""
    directory = path_or_dir if path_or_dir.is_dir() else path_or_dir.parent
    return directory / KEY_FILE_NAME


class FingerprintKeyLost(StoreError):
    """The key file is missing but the database holds lockout guards made with it."""


def fingerprint_key(path_or_dir: Path, *, create: bool = True) -> bytes:
    """Return the install key beside the database, creating it (0600) on first use.

    Creation is atomic: the key is written and synced to a private temporary file, then
    hard-linked into place, which fails if another process got there first (whose key then
    wins). Raise StoreError if the existing key file is not exactly 32 bytes or is readable or
    writable by group or others; raise FileNotFoundError if there is none and not *create*.
    """
    path = key_path(path_or_dir)
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            raise
    return new_key(path)


def new_key(path: Path) -> bytes:
    """Create the key file *path* if it does not exist (see :func:`fingerprint_key`) and return
    the key in it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE_NAME}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
        # Fails if another process created the key first; theirs is then the key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        _fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise StoreError(f"the fingerprint key {path} is not a regular file")
        if mode & 0o077:
            raise StoreError(
                f"the fingerprint key {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
            )
        key = file.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise StoreError(
            f"the fingerprint key {path} holds {len(key)} bytes, expected {KEY_BYTES}; "
            "remove it to create a new one (every credential will look changed once)"
        )
    return key


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
