"""Writing log records to the systemd journal with their priority and fields.

Under systemd, a service's stderr is a stream to journald, which stores every line at one
priority (6, info) with the line as ``MESSAGE``: errors cannot be told from chatter with
``journalctl -p``. When ``$JOURNAL_STREAM`` names our stderr (systemd sets it to the stream's
``device:inode``; see "systemd.exec(5)", *Environment variables in spawned processes*), each
record goes instead as one datagram of journald's native protocol to
``/run/systemd/journal/socket`` ("Native Journal Protocol",
https://systemd.io/JOURNAL_NATIVE_PROTOCOL/): ``PRIORITY`` from the level (error 3, warning 4,
info 6, debug 7), a readable ``MESSAGE`` and every structured value as a field of its own
(``IDENTITY``, ``OUTCOME``, ``INCIDENT`` ...), so ``journalctl -u monitor -p warning`` shows
the failures and ``journalctl -u monitor OUTCOME=credential_invalid`` finds a class of them.

A record the socket does not take (too large for one datagram, or the socket is gone) is
written to stderr instead, prefixed with its priority as ``<3>`` so that journald still files
it at the right level ("sd-daemon(3)", *SD_ERR*).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")

#: syslog priorities of our level names ("syslog(3)").
PRIORITIES: Mapping[str, int] = {
    "critical": 2,
    "error": 3,
    "exception": 3,
    "warning": 4,
    "warn": 4,
    "info": 6,
    "debug": 7,
}

_FIELD_NAME = re.compile(r"[^A-Z0-9_]")
# journald ignores field names of more than 64 characters.
_MAX_FIELD_NAME = 64


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Return whether *stream* is the journal stream systemd connected us to: its device and
    inode are those ``$JOURNAL_STREAM`` names (a child whose stderr was redirected elsewhere
    inherits the variable, so the variable alone does not tell)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def field_name(key: str) -> str:
    """Return the journal field name of a structured key: upper case, only ``A-Z0-9_``, not
    starting with ``_`` (reserved for journald's trusted fields) or a digit."""
    name = _FIELD_NAME.sub("_", key.upper()).lstrip("_")
    if not name or name[0].isdigit():
        name = "F_" + name
    return name[:_MAX_FIELD_NAME]


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """Return the datagram of the native protocol for *fields* (name, value): ``NAME=value``
    lines, or for a value with a newline the name, a newline, its length as 64-bit little
    endian, the value and a newline."""
    parts: list[bytes] = []
    for name, value in fields:
        data = value.encode("utf-8", "replace")
        key = name.encode("ascii")
        if b"\n" in data:
            parts.append(key + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(key + b"=" + data + b"\n")
    return b"".join(parts)


class JournalWriter:
    """Sends records to journald over its socket; falls back to prefixed stderr lines."""

    def __init__(self, path: Path = JOURNAL_SOCKET, fallback: TextIO | None = None) -> None:
        self._path = path
        self._fallback = fallback
        self._socket: socket.socket | None = None

    def send(self, priority: int, message: str, fields: Iterable[tuple[str, str]]) -> None:
        """Send one record: *message*, *priority* and the extra *fields*."""
        own = [("MESSAGE", message), ("PRIORITY", str(priority)), ("SYSLOG_IDENTIFIER", "monitor")]
        datagram = encode([*own, *fields])
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(datagram, os.fspath(self._path))
        except OSError:
            # Too large for a datagram (EMSGSIZE), journald restarting, no socket: the stream
            # still reaches the journal, one line per line, at the right priority.
            self._write_fallback(priority, message)

    def _write_fallback(self, priority: int, message: str) -> None:
        stream = self._fallback or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            stream.write("".join(f"<{priority}>{line}\n" for line in message.splitlines() or [""]))
            stream.flush()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
