"""Writing a report to a path the operator named, safely even as root in a shared directory.

A regular file (or no file yet) is replaced atomically through a temporary file that
:func:`tempfile.mkstemp` creates beside it, so a symbolic link planted there is never followed
and a reader never sees half a page; a character device or a FIFO (``/dev/stdout``, a pipe) is
written directly, a FIFO nobody reads refused instead of waited on; anything else is refused.
Files are created with mode 0600 by default: a report names identities, tenants and deadlines.
The cases: :func:`write_output`.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

DEFAULT_MODE = 0o600


class OutputError(Exception):
    """The report cannot be written to the path; ``str()`` is one line for the user."""


def parse_mode(text: str) -> int:
    """Return the file permission bits *text* gives in octal (``0640``, ``640``). Raise
    ValueError for anything else, including set-id and sticky bits."""
    value = text.strip().removeprefix("0o")
    if not value or len(value) > 4 or any(c not in "01234567" for c in value):
        raise ValueError(f"not an octal file mode: {text!r} (e.g. 0600 or 0640)")
    mode = int(value, 8)
    if mode > 0o777:
        raise ValueError(f"only permission bits (at most 0777), not {text!r}")
    return mode


def write_output(path: Path, data: bytes, *, mode: int = DEFAULT_MODE) -> None:
    """Write *data* to *path*; raise :class:`OutputError` (one line) if it cannot or may not.

    * A regular file (or no file yet) is replaced atomically: the page is written to a
      temporary file that :func:`tempfile.mkstemp` creates in the same directory (an
      unpredictable name, created exclusively: a symbolic link planted there is never
      followed), given *mode*, flushed to disk and renamed over the target. A reader never sees
      half a page. A symbolic link at the target itself is replaced by the file, never written
      through.
    * A character device or a FIFO (``/dev/stdout``, a pipe to another program) is written
      directly, as a shell redirection would, and stays what it is; a FIFO nobody reads is
      refused instead of waiting for a reader.
    * Anything else that is not a regular file (a directory, a block device, a socket) is
      refused.
    """
    try:
        info: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
    if info is None or stat.S_ISREG(info.st_mode):
        _replace(path, data, mode)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        _write_through(path, data)
    else:
        raise OutputError(
            f"refusing to write {path}: it is {_kind(info.st_mode)}, not a regular file"
        )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _replace(path: Path, data: bytes, mode: int) -> None:
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror}") from None


def _write_through(path: Path, data: bytes) -> None:
    # No O_CREAT or O_TRUNC: only what is already there is written to. O_NONBLOCK makes the open
    # of a FIFO without a reader fail (ENXIO) instead of waiting for one.
    flags = os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ENXIO:
            raise OutputError(f"cannot write {path}: no process is reading the FIFO") from None
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not (stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise OutputError(f"refusing to write {path}: it changed while being opened")
        os.set_blocking(fd, True)
        _write_all(fd, data)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
