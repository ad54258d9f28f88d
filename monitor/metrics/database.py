"""What a scrape reads from the database: a few small queries in one read-only snapshot.

Plain ``sqlite3`` with the store's reader settings (``file:...?mode=ro``, ``PRAGMA
query_only=ON``, a busy timeout, one ``BEGIN`` ... ``COMMIT``): in WAL mode a reader neither
blocks the daemon's writes nor waits for them, and a scrape can never write. Every query reads
a small table (current states, current facts, open incidents, the unsent outbox, recent usage
days), never the history. Columns are named through :func:`monitor.model.schema.columns`, so a
migration that renames one fails the tests, not a scrape.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.model.observations import Observation, stored_observation
from monitor.model.schema import columns

# A scrape waits at most this long for a lock (a checkpoint); Prometheus' timeout is 10 s.
BUSY_TIMEOUT_MS = 2000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_STATE = columns(
    "identity_state",
    "identity",
    "environment",
    "tenant",
    "credential_type",
    "outcome",
    "last_probe_at",
    "last_success_at",
    "consecutive_failures",
    "last_result_id",
)
_HEADROOM = columns("probe_result", "id", "ratelimit_burst_remaining", "ratelimit_time_remaining")
_FACT = columns(
    "posture_fact",
    "kind",
    "tenant",
    "identity",
    "environment",
    "subject",
    "source",
    "observed",
    "cause",
    "reason",
    "value",
    "since",
    "last_observed_at",
    "failed_reads",
    "failing_since",
)
_OBSERVATION = columns("posture_observation", "id")
_INCIDENT = columns("incident", "kind", "level", "resolved_at")
_OUTBOX = columns("outbox", "channel", "status")
_USAGE = columns("usage_daily", "identity", "day", "requests", "allocation")


def seconds(value: int | None) -> float | None:
    """Given a stored time (integer microseconds since the epoch), return seconds since it."""
    return None if value is None else int(value) / 1_000_000


def _aware(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True)
class PairRow:
    """The current state of one identity in one environment, with the headroom its newest
    result saw."""

    identity: str
    environment: str
    tenant: str
    credential_type: str
    outcome: str
    last_probe_at: float | None
    last_success_at: float | None
    consecutive_failures: int
    burst_remaining: int | None
    time_remaining_ms: int | None


# A row of the pairs query, as sqlite3 returns it (compared as it is; see pair_row): the
# columns of _STATE, then the headroom of the newest result.
RawPair = tuple[Any, ...]
_RESULT_ID = len(_STATE) - 1
# The pair states are read in full this often (and whenever their number changes).
FULL_READ_SECONDS = 300.0


def pair_row(row: RawPair) -> PairRow:
    """Return a row of the pairs query as a :class:`PairRow`."""
    return PairRow(
        identity=str(row[0]),
        environment=str(row[1]),
        tenant=str(row[2]),
        credential_type=str(row[3]),
        outcome=str(row[4]),
        last_probe_at=seconds(row[5]),
        last_success_at=seconds(row[6]),
        consecutive_failures=int(row[7] or 0),
        burst_remaining=row[_RESULT_ID + 1],
        time_remaining_ms=row[_RESULT_ID + 2],
    )


@dataclass(frozen=True)
class UsageRow:
    identity: str
    day: date
    requests: int
    allocation: int | None


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape reads from the database."""

    pairs: list[RawPair]  # ordered by identity and environment
    facts_version: tuple[object, ...]
    incidents: list[tuple[str, str, int]]  # (kind, level, count) of open incidents
    outbox: list[tuple[str, str, int]]  # (channel, status, count) of unsent notices
    usage: list[UsageRow]


class MetricsDatabase:
    """The database file, opened read-only once per scrape.

    The pair states are read in full at the first scrape and every
    :data:`FULL_READ_SECONDS`; in between only the states whose newest result is newer than
    the newest one already read (result ids only grow), unless the number of states changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], RawPair] = {}
        self._order: list[tuple[str, str]] = []
        self._newest_result = -1
        self._full_at = -math.inf

    def _connect(self) -> sqlite3.Connection:
        uri = "file:" + urllib.parse.quote(os.fspath(self.path.resolve())) + "?mode=ro"
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA query_only=ON")
        return connection

    def read(self, *, usage_since: date) -> Snapshot:
        """Read the current states, open incidents, unsent notices and recent usage in one
        snapshot. Raise ``sqlite3.Error`` when the database cannot be read."""
        connection = self._connect()
        try:
            connection.execute("BEGIN")
            try:
                return Snapshot(
                    pairs=self._pairs(connection),
                    facts_version=self._facts_version(connection),
                    incidents=[
                        (str(kind), str(level), int(count))
                        for kind, level, count in connection.execute(
                            f"SELECT {_INCIDENT[0]}, {_INCIDENT[1]}, count(*) FROM incident "  # noqa: S608 - schema constants only
                            f"WHERE {_INCIDENT[2]} IS NULL GROUP BY 1, 2"
                        )
                    ],
                    outbox=[
                        (str(channel), str(status), int(count))
                        for channel, status, count in connection.execute(
                            f"SELECT {_OUTBOX[0]}, {_OUTBOX[1]}, count(*) FROM outbox "  # noqa: S608 - schema constants only
                            f"WHERE {_OUTBOX[1]} IN ('pending', 'sending', 'dead') GROUP BY 1, 2"
                        )
                    ],
                    usage=[
                        UsageRow(str(identity), date.fromisoformat(day), int(requests), allocation)
                        for identity, day, requests, allocation in connection.execute(
                            f"SELECT {_USAGE[0]}, {_USAGE[1]}, max({_USAGE[2]}), "  # noqa: S608 - schema constants only
                            f"max({_USAGE[3]}) FROM usage_daily WHERE {_USAGE[1]} >= ? "
                            f"GROUP BY 1, 2",
                            (usage_since.isoformat(),),
                        )
                    ],
                )
            finally:
                connection.execute("COMMIT")
        finally:
            connection.close()

    def _pairs(self, connection: sqlite3.Connection) -> list[RawPair]:
        state = ", ".join(f"s.{name}" for name in _STATE)
        select = (
            f"SELECT {state}, r.{_HEADROOM[1]}, r.{_HEADROOM[2]} FROM identity_state s "  # noqa: S608 - schema constants only
            f"LEFT JOIN probe_result r ON r.{_HEADROOM[0]} = s.{_STATE[-1]}"
        )
        with self._lock:
            (count,) = connection.execute("SELECT count(*) FROM identity_state").fetchone()
            full = count != len(self._rows) or time.monotonic() - self._full_at >= FULL_READ_SECONDS
            if full:
                rows = connection.execute(select).fetchall()
                self._rows = {}
                self._full_at = time.monotonic()
            else:
                rows = connection.execute(
                    f"{select} WHERE s.{_STATE[-1]} > ?", (self._newest_result,)
                ).fetchall()
            added = full
            for row in rows:
                key = (row[0], row[1])
                added = added or key not in self._rows
                self._rows[key] = row
                if row[_RESULT_ID] is not None and row[_RESULT_ID] > self._newest_result:
                    self._newest_result = row[_RESULT_ID]
            if added:
                self._order = sorted(self._rows)
            return [self._rows[key] for key in self._order]

    @staticmethod
    def _facts_version(connection: sqlite3.Connection) -> tuple[object, ...]:
        """Return what changes whenever a current fact does (to cache what is derived from
        them): every directory read records an observation of each fact it read or failed to
        read, and observation ids only grow."""
        (facts,) = connection.execute("SELECT count(*) FROM posture_fact").fetchone()
        (newest,) = connection.execute(
            f"SELECT max({_OBSERVATION[0]}) FROM posture_observation"  # noqa: S608 - schema constants only
        ).fetchone()
        return (facts, newest)

    def facts(self) -> list[Observation]:
        """Return every current directory fact (in its own snapshot)."""
        connection = self._connect()
        try:
            found: list[Observation] = []
            for row in connection.execute(f"SELECT {', '.join(_FACT)} FROM posture_fact"):  # noqa: S608 - schema constants only
                observation = stored_observation(
                    kind=row[0],
                    tenant=row[1],
                    identity=row[2],
                    environment=row[3],
                    subject=row[4],
                    source=row[5],
                    observed=bool(row[6]),
                    cause=row[7],
                    reason=row[8],
                    value=row[9],
                    since=_aware(row[10]),
                    last_observed_at=_aware(row[11]) or _EPOCH,
                    failed_reads=int(row[12] or 0),
                    failing_since=_aware(row[13]),
                )
                if observation is not None:
                    found.append(observation)
            return found
        finally:
            connection.close()
