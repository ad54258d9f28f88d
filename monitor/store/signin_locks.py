"""Sign-in locks: at most one process signs in as a password identity at a time.

The lockout guard (:mod:`monitor.store.guards`) keeps a wrong password from being sent again,
but only once the first attempt's answer is recorded. Two ``monitor check`` runs started
together (or a check beside the daemon) would both read "no guard" and both send the wrong
password. So every process takes an exclusive lock per password identity before it reads the
guard and keeps it until it has recorded the guard: the second process waits, then reads the
first one's guard and holds back.

The locks are ``flock(2)`` locks on small files in ``.signin-locks/`` beside the database: they
belong to the open file, so a process that dies releases them with it, and two threads of one
process exclude each other as two processes do. Identities are locked in name order, so two
processes that need several locks never wait for each other in a circle.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

LOCK_DIRECTORY = ".signin-locks"
_POLL_SECONDS = 0.05


class SignInLocks:
    """The sign-in locks of the database at *database* (see the module docstring)."""

    def __init__(self, database: Path) -> None:
        self._directory = database.parent / LOCK_DIRECTORY

    def _path(self, identity: str) -> Path:
        # A hash, not the name: identity names are free text in the configuration.
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        return self._directory / f"{digest}.lock"

    @contextlib.contextmanager
    def hold(self, identities: Sequence[str], *, timeout: float) -> Iterator[frozenset[str]]:
        """Take the lock of each of *identities* (waiting up to *timeout* seconds in all) and
        yield the names whose lock was taken; release every lock when the block ends.

        A name whose lock another process still holds at the deadline is left out: the caller
        must not sign in as it in this pass.
        """
        deadline = time.monotonic() + timeout
        held: dict[str, int] = {}
        try:
            if identities:
                self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            for identity in sorted(set(identities)):
                descriptor = self._acquire(self._path(identity), deadline)
                if descriptor is not None:
                    held[identity] = descriptor
            yield frozenset(held)
        finally:
            for descriptor in held.values():
                os.close(descriptor)  # closing the descriptor releases its flock

    @staticmethod
    def _acquire(path: Path, deadline: float) -> int | None:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(descriptor)
                    return None
                time.sleep(_POLL_SECONDS)
