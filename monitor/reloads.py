"""The reload handshake: ``monitor reload`` (``ExecReload=``) asks, the daemon answers.

Only the daemon can judge a new configuration completely: it alone holds the unit's credentials.
systemd 252 (Debian 12) runs ``ExecReload=`` of a sandboxed unit in a fresh mount namespace
whose credential files it may not read (systemd issue 35227, "ExecReload= does not inherit
credentials with mntns", https://github.com/systemd/systemd/issues/35227), so the command cannot
load the secrets itself. It therefore asks the daemon and waits for the verdict:

1. the command drops an empty file ``<token>.request`` in the daemon's *reload folder*
   (``reload/`` beside the database, created by the daemon at start, mode 0700) and sends
   SIGHUP;
2. the daemon, when it reloads, takes every request present, loads the configuration with its
   credentials and writes ``<token>.answer`` (JSON: ``ok``, ``problems``, ``pid``) for each,
   atomically, removing the request;
3. the command reads its answer, removes it, prints the problems and exits 0 or 78.

The token is in the file name only, so the daemon needs no read access to a request that root
wrote; a plain ``kill -HUP`` still reloads, with nobody to answer. Standard library only: both
the command and the daemon import it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FOLDER_NAME = "reload"
REQUEST = ".request"
ANSWER = ".answer"


@dataclass(frozen=True)
class Verdict:
    """The daemon's answer to one request."""

    ok: bool
    problems: tuple[str, ...]
    pid: int


def folder_for(database: Path) -> Path:
    """The reload folder of the daemon that uses *database*."""
    return database.parent / FOLDER_NAME


def prepare(folder: Path) -> None:
    """Create the daemon's reload folder (0700) and clear what an earlier daemon left in it.

    Raise OSError when it cannot be created, or when what is there is not a folder of this
    process's user (a link, or one a member of the database's group made): the caller logs it,
    and reloads then work without a verdict for ``monitor reload``."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise OSError(errno.EPERM, "not a folder of the service's own", str(folder))
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.suffix in (REQUEST, ANSWER):
            with contextlib.suppress(OSError):
                path.unlink()


def pending(folder: Path) -> list[Path]:
    """The requests waiting in *folder* (none when it does not exist or cannot be read)."""
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == REQUEST and _token_ok(p.stem))
    except OSError:
        return []


def answer(requests: Iterable[Path], *, ok: bool, problems: Sequence[str] = ()) -> None:
    """Answer each request with the verdict (a request that cannot be answered times out)."""
    body = json.dumps({"ok": ok, "problems": list(problems), "pid": os.getpid()})
    for request in requests:
        target = request.with_suffix(ANSWER)
        try:
            handle, temporary = tempfile.mkstemp(dir=request.parent, prefix=".tmp-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(body)
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            continue
        with contextlib.suppress(OSError):
            request.unlink()


class NoFolder(Exception):
    """The reload folder does not exist: no daemon of this configuration prepared it."""


def ask(folder: Path) -> Path:
    """Place a request in *folder*; return its path (the token is its stem).

    Raise :class:`NoFolder` when the folder is missing, OSError when the request cannot be
    written."""
    if not folder.is_dir():
        raise NoFolder(str(folder))
    request = folder / f"{secrets.token_hex(8)}{REQUEST}"
    descriptor = os.open(request, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(descriptor)
    return request


def wait(request: Path, timeout: float, *, poll: float = 0.05) -> Verdict | None:
    """Wait up to *timeout* seconds for the answer to *request*; None when none came (the
    request is then withdrawn). The answer is removed once read."""
    target = request.with_suffix(ANSWER)
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        if text is not None:
            with contextlib.suppress(OSError):
                target.unlink()
            return _parse(text)
        if time.monotonic() >= deadline:
            with contextlib.suppress(OSError):
                request.unlink()
            return None
        time.sleep(poll)


def _parse(text: str) -> Verdict:
    try:
        data = json.loads(text)
        ok, problems = data["ok"], tuple(str(p) for p in data.get("problems", ()))
        if not isinstance(ok, bool) or not (ok or problems):
            raise TypeError("no verdict")
        return Verdict(ok=ok, problems=problems, pid=int(data.get("pid", 0)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return Verdict(ok=False, problems=("the daemon's answer could not be read",), pid=0)


def _token_ok(token: str) -> bool:
    return len(token) == 16 and all(c in "0123456789abcdef" for c in token)
