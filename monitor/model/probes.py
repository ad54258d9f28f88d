"""Probe results and what they make of an identity's state (records and pure rules, no I/O).

A :class:`ProbeResult` is one sign-in plus Dataverse call of one identity in one environment. The
store keeps every result, a :class:`RunRecord` per pass, the :class:`IdentityState` of each
identity/environment pair, a :class:`StateChangeRecord` whenever its outcome changes, and
:class:`DailyStats` rollups; :func:`next_state` is how one result moves a pair's state. Every
datetime is aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from monitor import __version__
from monitor.model.outcomes import Outcome
from monitor.model.records import same_named

Stage = Literal["token", "dataverse", "guard", "deadline"]


@dataclass(frozen=True)
class RateLimit:
    """Dataverse service-protection headroom read from ``x-ms-ratelimit-*`` response headers."""

    burst_remaining: int | None = None  # x-ms-ratelimit-burst-remaining-xrm-requests
    time_remaining: int | None = None  # x-ms-ratelimit-time-remaining-xrm-requests, in ms
    retry_after_seconds: int | None = None  # Retry-After on a 429


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one identity in one environment.

    ``attempted`` is False when no sign-in was tried (the lockout guard held it back, or an
    earlier environment of the same identity already failed definitively): ``outcome`` then
    repeats the answer that caused the hold.
    """

    identity: str
    environment: str
    tenant: str
    credential_type: str
    started_at: datetime  # aware, UTC
    duration_ms: int
    outcome: Outcome
    stage: Stage
    attempted: bool = True
    message: str = ""  # sanitised, one line, never a secret
    aadsts_code: int | None = None
    oauth_error: str | None = None
    http_status: int | None = None
    dataverse_error_code: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    token_source: str | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)
    credential_fingerprint: str | None = None
    user_id: str | None = None  # Dataverse systemuserid from WhoAmI
    organization_id: str | None = None

    def evolve(self, **changes: object) -> ProbeResult:
        return replace(self, **changes)  # type: ignore[arg-type]


# A stored time this far ahead of a new result was written by a clock that was ahead (a second
# writer, such as a check beside the daemon, is seconds or minutes apart, never this much).
CLOCK_TOLERANCE = timedelta(hours=1)

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


def next_state(
    previous: IdentityState | None, result: ProbeResult, result_id: int | None
) -> IdentityState:
    """Given the current state (None before the first result) and a new result, return the
    state after it.

    * The state's ``outcome`` is always the newest result's outcome; ``since`` moves when the
      outcome changes, and every change (including the first observation) is a state change.
    * Attempted results count: ok adds one to ``consecutive_successes`` and zeroes
      ``consecutive_failures``; any other outcome adds one to ``consecutive_failures``
      (transient and definitive alike, so "N failures in a row" survives a switch between
      failure classes) and zeroes ``consecutive_successes``.
    * Held results (``attempted=False``: the lockout guard held the sign-in back) repeat an
      answer already given, so they are not fresh evidence: they change no counter and no
      ``last_attempt_at``. A held failure still ends a success streak, because the identity is
      known not to work. A held result whose outcome differs from the state (environment B
      learning that the credential already failed in A) is a state change like any other.
    """
    at = result.started_at
    ok = result.outcome is Outcome.OK
    if previous is None:
        # No history yet: the pair's state before any result, which this one moves like any other.
        previous = same_named(
            IdentityState,
            result,
            since=at,
            last_probe_at=at,
            last_attempt_at=None,
            last_success_at=None,
            consecutive_failures=0,
            consecutive_successes=0,
            last_result_id=None,
        )
    changed = previous.outcome != result.outcome
    state = replace(
        previous,
        tenant=result.tenant,
        credential_type=result.credential_type,
        outcome=result.outcome,
        since=at if changed else previous.since,
        last_probe_at=_latest(previous.last_probe_at, at),
        credential_fingerprint=result.credential_fingerprint or previous.credential_fingerprint,
        last_result_id=result_id,
    )
    if not result.attempted:
        return state if ok else replace(state, consecutive_successes=0)
    if ok:
        return replace(
            state,
            last_attempt_at=_latest(previous.last_attempt_at, at),
            last_success_at=_latest(previous.last_success_at, at),
            consecutive_failures=0,
            consecutive_successes=previous.consecutive_successes + 1,
        )
    return replace(
        state,
        last_attempt_at=_latest(previous.last_attempt_at, at),
        consecutive_failures=previous.consecutive_failures + 1,
        consecutive_successes=0,
    )


def is_change(previous: IdentityState | None, new: IdentityState) -> bool:
    """Return whether going from *previous* to *new* is a state change worth a row."""
    return previous is None or previous.outcome != new.outcome


def _latest(current: datetime | None, at: datetime) -> datetime:
    """Return the later of a stored time and a new result's, except that a stored time well
    ahead of the new result (written while the clock was ahead, then set back) gives way."""
    if current is None or current > at + CLOCK_TOLERANCE:
        return at
    return max(current, at)
