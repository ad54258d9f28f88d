"""What the running daemon has done, for systemd's ``STATUS=`` line, its log, and the status
row in the database (``daemon_status``, which ``monitor report`` reads to tell whether the daemon
is alive).

The row is written by :func:`write_started` (from ``Daemon.start``), by :func:`write_heartbeat`
(the ``heartbeat`` job, at most every :data:`STATUS_WRITE_SECONDS`), and by
:func:`write_stopping` / :func:`write_stopped` (from ``Daemon.stop``). None of them raises on a
database error: the row is informational, so a failed write is logged (once, as a warning, until
a write succeeds again) and the daemon goes on.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from monitor import __version__
from monitor.logsetup import get_logger
from monitor.model.daemon import DaemonState, DaemonStatusRecord
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.store.errors import StoreError

if TYPE_CHECKING:
    from monitor.store import Store

log = get_logger("monitor.daemon")

# The heartbeat writes the status row at most this often (and the row says so, so that a reader
# can tell a stale row: ``monitor report`` calls the daemon dead after three intervals).
STATUS_WRITE_SECONDS = 60


class DaemonStatus:
    """Counters shared by the job threads and the supervision loop (thread-safe)."""

    def __init__(
        self, identities: int = 0, *, pid: int | None = None, hostname: str | None = None
    ) -> None:
        self._lock = threading.Lock()
        self.identities = identities
        self.probes = 0
        self._not_ok: dict[tuple[str, str], str] = {}
        self.last_probe_at: datetime | None = None
        # Monotonic: when the daemon started and when its newest pass finished; how long
        # passes may pause before they count as stalled (see probing()).
        self._started = time.monotonic()
        self._last_pass: float | None = None
        self.pass_window_seconds = math.inf
        self._probing = True
        # What the status row says about this process (see the module docstring).
        self.pid = os.getpid() if pid is None else pid
        self.hostname = socket.gethostname() if hostname is None else hostname
        self.started_at: datetime | None = None
        self.config_path: str | None = None
        self.state: DaemonState = "running"
        self.stopped_at: datetime | None = None
        self.stop_reason: str | None = None
        self.write_interval_seconds = STATUS_WRITE_SECONDS
        self.last_row_write_at: datetime | None = None  # the last attempt, failed or not
        self._row_failing = False
        # Held across "may I write?" and the write, so a heartbeat never overwrites the
        # stopping or stopped row that the main thread wrote meanwhile.
        self._row_lock = threading.Lock()

    @property
    def row_failing(self) -> bool:
        """Whether the newest write of the status row failed."""
        return self._row_failing

    def set_identities(self, count: int, names: Iterable[str]) -> None:
        """Set the number of scheduled identities; forget failures of identities now gone."""
        keep = set(names)
        with self._lock:
            self.identities = count
            self._not_ok = {key: value for key, value in self._not_ok.items() if key[0] in keep}

    def record_pass(self, results: Iterable[ProbeResult], finished_at: datetime) -> None:
        """Count the results of one scheduled pass and remember which pairs are not ok."""
        with self._lock:
            for result in results:
                self.probes += 1
                key = (result.identity, result.environment)
                if result.outcome is Outcome.OK:
                    self._not_ok.pop(key, None)
                else:
                    self._not_ok[key] = str(result.outcome)
            self.last_probe_at = finished_at
            self._last_pass = time.monotonic()

    def probing(self) -> bool:
        """Return whether probe passes are finishing: one finished within the pass window (the
        longest probe interval, doubled, plus the start-up spread), or the daemon started within
        it, or it has no identity to probe. The heartbeat URL is pinged only while this holds."""
        with self._lock:
            if self.identities == 0:
                return True
            since = self._last_pass if self._last_pass is not None else self._started
            return time.monotonic() - since <= self.pass_window_seconds

    def note_probing(self, probing: bool) -> bool:
        """Remember whether passes are finishing; return whether that changed."""
        with self._lock:
            changed, self._probing = self._probing != probing, probing
            return changed

    def summary(self) -> str:
        """Return the one-line summary systemctl status shows."""
        with self._lock:
            identities = self.identities
            probes = self.probes
            failing = len(self._not_ok)
            last = self.last_probe_at
        line = f"{identities} identities scheduled; {probes} probes since start"
        if probes:
            line += f"; {failing} identity/environment pairs not ok"
        if last is not None:
            line += f"; last probe {last.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        return line

    def record(self, now: datetime) -> DaemonStatusRecord:
        """Return the status row as of *now* (the time of this write: the last beat)."""
        with self._lock:
            probes = self.probes
            failing = len(self._not_ok)
            last_probe = self.last_probe_at
            identities = self.identities
        return DaemonStatusRecord(
            state=self.state,
            pid=self.pid,
            hostname=self.hostname,
            monitor_version=__version__,
            started_at=self.started_at or now,
            last_beat_at=now,
            write_interval_seconds=self.write_interval_seconds,
            probes_since_start=probes,
            identities=identities,
            failing_pairs=failing,
            last_probe_at=last_probe,
            config_path=self.config_path,
            stopped_at=self.stopped_at,
            stop_reason=self.stop_reason,
        )


def _write_row(store: Store, status: DaemonStatus, now: datetime) -> bool:
    """Write the status row; log the first failure of a series as a warning; return success.

    Call with ``status._row_lock`` held.
    """
    status.last_row_write_at = now
    if status.started_at is None:
        status.started_at = now  # write_started was not called: the first write is the start
    try:
        store.daemon.write(status.record(now))
    except (StoreError, SQLAlchemyError) as error:
        if not status._row_failing:
            status._row_failing = True
            log.warning(
                "cannot record the daemon status in the database; `monitor report` will show "
                "a stale heartbeat; retrying",
                error=str(error) if isinstance(error, StoreError) else type(error).__name__,
                state=status.state,
            )
        return False
    if status._row_failing:
        status._row_failing = False
        log.info("daemon status recorded in the database again", state=status.state)
    return True


def write_started(
    store: Store,
    status: DaemonStatus,
    *,
    now: datetime,
    config_path: Path | str | None = None,
    heartbeat_seconds: float | None = None,
) -> bool:
    """Record that the daemon started at *now* (state ``running``); return whether the row was
    written.

    *heartbeat_seconds* is the heartbeat job's interval: the row is rewritten every
    ``max(STATUS_WRITE_SECONDS, heartbeat_seconds)``, and says so. If the row left by the
    previous daemon does not say ``stopped``, log a warning: that daemon crashed, was killed,
    or another daemon writes this database.
    """
    try:
        previous = store.daemon.read()
    except (StoreError, SQLAlchemyError):
        previous = None  # the write below reports the problem
    if previous is not None and previous.state != "stopped":
        log.warning(
            "the previous daemon recorded no clean stop (crashed or killed, or another daemon "
            "writes this database)",
            previous_state=previous.state,
            previous_pid=previous.pid,
            previous_hostname=previous.hostname,
            previous_last_beat_at=previous.last_beat_at.isoformat(),
        )
    interval = STATUS_WRITE_SECONDS
    if heartbeat_seconds is not None:
        interval = max(interval, math.ceil(heartbeat_seconds))
    with status._row_lock:
        status.started_at = now
        status.state = "running"
        status.stopped_at = None
        status.stop_reason = None
        status.config_path = None if config_path is None else str(config_path)
        status.write_interval_seconds = interval
        return _write_row(store, status, now)


def write_heartbeat(store: Store, status: DaemonStatus, *, now: datetime) -> bool:
    """Rewrite the status row if the last attempt is :data:`STATUS_WRITE_SECONDS` old (or the
    clock went back) and the daemon is running; return whether a row was written.

    Never waits for a start or stop write in progress: that write is as fresh.
    """
    if not status._row_lock.acquire(blocking=False):
        return False
    try:
        if status.state != "running":
            return False
        last = status.last_row_write_at
        if last is not None and timedelta(0) <= now - last < timedelta(
            seconds=STATUS_WRITE_SECONDS
        ):
            return False
        return _write_row(store, status, now)
    finally:
        status._row_lock.release()


def write_stopping(
    store: Store, status: DaemonStatus, *, now: datetime, reason: str | None = None
) -> bool:
    """Record that the daemon began to stop at *now* (for *reason*, e.g. ``SIGTERM``); the
    heartbeat writes no more rows. Return whether the row was written."""
    with status._row_lock:
        status.state = "stopping"
        status.stop_reason = reason
        return _write_row(store, status, now)


def write_stopped(
    store: Store, status: DaemonStatus, *, now: datetime, reason: str | None = None
) -> bool:
    """Record that the daemon stopped cleanly at *now* (the last write before the store is
    closed). Return whether the row was written."""
    with status._row_lock:
        status.state = "stopped"
        status.stopped_at = now
        if reason is not None:
            status.stop_reason = reason
        return _write_row(store, status, now)
