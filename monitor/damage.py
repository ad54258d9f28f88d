"""A damaged database file: telling it apart from other failures, and saying how to recover.

SQLite reports a file whose pages are garbled (a disk fault, a copy taken mid-write, a file
overwritten by something else) as ``SQLITE_CORRUPT`` ("database disk image is malformed") or
``SQLITE_NOTADB`` ("file is not a database"), when it opens the file or only when a query
reaches a damaged page. Every command reports it the same way: one line naming the file, what
SQLite said, and the two ways back (SQLite's ``.recover``, or a backup); ``monitor check`` and
``monitor usage show`` exit 3 (UNKNOWN: nothing could be verified), every other command 70.

Standard library only: ``monitor report`` uses it without importing SQLAlchemy.
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
from pathlib import Path

from monitor.exits import EXIT_SOFTWARE

_CORRUPT = 11  # SQLITE_CORRUPT (extended codes keep it in the low byte)
_NOT_A_DATABASE = 26  # SQLITE_NOTADB
_WORDS = ("database disk image is malformed", "file is not a database", "malformed database")


def damage_detail(error: BaseException) -> str | None:
    """Return what SQLite said if *error*, or an exception it was raised from or wraps (a
    SQLAlchemy error's ``orig``), says the database file is damaged; else None."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sqlite3.DatabaseError):
            code = getattr(current, "sqlite_errorcode", None)
            text = str(current)
            if (code is not None and code & 0xFF in (_CORRUPT, _NOT_A_DATABASE)) or any(
                words in text.lower() for words in _WORDS
            ):
                return text
        original = getattr(current, "orig", None)
        for linked in (original, current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return None


def damage_message(path: Path | None, detail: str) -> str:
    """Return the one line that says the database at *path* is damaged and how to recover."""
    if path is None:
        return (
            f"the database is damaged ({detail}); stop the daemon, then recover it with "
            "sqlite3's .recover or restore a backup"
        )
    quoted = shlex.quote(str(path))
    recovered = shlex.quote(f"{path}.recovered")
    return (
        f"the database {path} is damaged ({detail}); stop the daemon, then recover what is "
        f"readable with `sqlite3 {quoted} .recover | sqlite3 {recovered}` and move the result "
        "into place (keep the damaged file), or restore a backup"
    )


def damaged_exit(args: argparse.Namespace) -> int:
    """The exit code of the running command for a damaged database (``damaged_exit`` set by
    the command's parser, else :data:`EXIT_SOFTWARE`)."""
    return int(getattr(args, "damaged_exit", EXIT_SOFTWARE))


def report_damage(
    error: BaseException, path: Path | None, args: argparse.Namespace, *, program: str = "monitor"
) -> int | None:
    """If *error* is a damaged database, print the one-line explanation to stderr and return
    the command's exit code for it; else return None (the caller handles *error*)."""
    import sys

    detail = damage_detail(error)
    if detail is None:
        return None
    print(f"{program}: {damage_message(path, detail)}", file=sys.stderr)
    return damaged_exit(args)
