"""The systemd notification protocol (sd_notify(3)) in the standard library.

A message is ``KEY=VALUE`` lines in one datagram to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). Outside systemd the
variable is unset and every call is a no-op, so the daemon runs the same from a terminal.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

# A STATUS= line longer than this is cut: systemctl shows one line, and a datagram is small.
MAX_STATUS_CHARS = 200


def _address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    return None  # vsock and other forms are not used by the units we ship


def watchdog_interval_seconds(environ: Mapping[str, str] | None = None) -> float | None:
    """Return how often to send ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``, as
    sd_watchdog_enabled(3) advises), or None if systemd expects no pings from this process."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """Sends sd_notify messages; does nothing when not started by systemd (or told not to)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = watchdog_interval_seconds(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *lines: str) -> bool:
        """Send *lines* (``KEY=VALUE``) as one message; return whether it was sent.

        A failure to send is not an error for the daemon: systemd will notice on its own (start
        timeout, missed watchdog) if the messages matter.
        """
        if self._address is None or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        """Tell systemd start-up is complete (``READY=1``) with a status line."""
        return self.send("READY=1", status_line(status))

    def status(self, status: str) -> bool:
        return self.send(status_line(status))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        return self.send("RELOADING=1")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send("STOPPING=1", status_line(status))


def status_line(text: str) -> str:
    """Return ``STATUS=...`` for *text* on one line, at most :data:`MAX_STATUS_CHARS` long."""
    one_line = " ".join(text.split())
    if len(one_line) > MAX_STATUS_CHARS:
        one_line = one_line[: MAX_STATUS_CHARS - 1] + "…"
    return f"STATUS={one_line}"
