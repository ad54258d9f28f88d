"""Plain frozen dataclasses that go into and come out of the store.

Nothing outside :mod:`monitor.store` sees an ORM object or a session: the store accepts and
returns only these records (and :class:`~monitor.probes.base.ProbeResult`). Every datetime is
aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from monitor import __version__
from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult

RunKind = Literal["check", "scheduled", "demo"]
RUN_KINDS: tuple[RunKind, ...] = ("check", "scheduled", "demo")


@dataclass(frozen=True)
class RunRecord:
    """One pass of probes (``monitor check``, a scheduled job, or the demo).

    ``run_id`` is a UUID chosen by the caller; it ties the stored results to the log lines of
    the same run. Recording more results under an existing ``run_id`` adds to that run.
    """

    run_id: str
    kind: RunKind
    started_at: datetime
    finished_at: datetime | None = None
    monitor_version: str = __version__


@dataclass(frozen=True)
class StoredResult:
    """A probe result as stored: the row id, the run it belongs to, and the result itself."""

    id: int
    run_id: str
    result: ProbeResult


@dataclass(frozen=True)
class StateChangeRecord:
    """The outcome of one identity in one environment changed (or was seen for the first time).

    ``from_outcome`` is None for the first observation. ``result_id`` is the probe result that
    caused the change; it becomes None once retention has deleted that raw result.
    """

    id: int
    identity: str
    environment: str
    at: datetime
    from_outcome: Outcome | None
    to_outcome: Outcome
    result_id: int | None


@dataclass(frozen=True)
class IdentityState:
    """The current state of one identity in one environment.

    ``since`` is when the current outcome began. ``last_probe_at`` is the start of the newest
    recorded result, including held results (no sign-in attempted); ``last_attempt_at`` is the
    start of the newest result with a real sign-in attempt. Consecutive counters count attempted
    results only: ``consecutive_failures`` counts non-ok results of any outcome class in a row,
    ``consecutive_successes`` counts ok results in a row.
    """

    identity: str
    environment: str
    tenant: str
    credential_type: str
    outcome: Outcome
    since: datetime
    last_probe_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    consecutive_successes: int
    credential_fingerprint: str | None
    last_result_id: int | None


@dataclass(frozen=True)
class LockoutGuard:
    """A hold on sign-ins for one identity after a definitive answer (wrong password, locked).

    The hold lasts while the configured credential still has ``credential_fingerprint`` and,
    when ``hold_until`` is set, until that time (a lockout cool-down); ``hold_until`` None means
    until the credential changes or an operator forces a probe.
    """

    identity: str
    credential_fingerprint: str | None
    outcome: Outcome
    aadsts_code: int | None
    since: datetime
    hold_until: datetime | None
    cooldown_seconds: int | None
    blocked_attempts: int
    last_blocked_at: datetime | None
    forced_at: datetime | None

    def holds(self, now: datetime, credential_fingerprint: str | None) -> bool:
        """Given the time and the fingerprint of the credential now configured, return whether
        a sign-in must still be held back.

        A changed credential always lifts the hold; an unknown fingerprint (None) on either side
        never counts as a change.
        """
        if (
            credential_fingerprint is not None
            and self.credential_fingerprint is not None
            and credential_fingerprint != self.credential_fingerprint
        ):
            return False
        return self.hold_until is None or now < self.hold_until


@dataclass(frozen=True)
class DailyStats:
    """Counts of the results of one identity in one environment on one UTC day.

    ``ok + definitive + transient + local == total``; ``held`` counts the results among them
    for which no sign-in was attempted (they carry the held outcome's class).
    """

    identity: str
    environment: str
    day: date
    ok: int
    definitive: int
    transient: int
    local: int
    held: int
    total: int
    duration_ms_sum: int
    duration_ms_max: int


@dataclass(frozen=True)
class SchemaStatus:
    """The schema revision of a database against the newest revision this monitor knows.

    ``current`` is None when the database has no schema yet. ``known`` is False when the
    database carries a revision this monitor does not know (written by a newer version).
    """

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        return not self.known


@dataclass(frozen=True)
class Upgrade:
    """What :func:`monitor.store.migrate` did: the revision before and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after
