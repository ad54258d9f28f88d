"""How one probe result moves the state of an identity in an environment (pure, no I/O).

Rules:

* The state's ``outcome`` is always the newest result's outcome; ``since`` moves when the
  outcome changes, and every change (including the first observation) is a state change.
* Attempted results count: ok adds one to ``consecutive_successes`` and zeroes
  ``consecutive_failures``; any other outcome adds one to ``consecutive_failures`` (transient and
  definitive alike, so "N failures in a row" survives a switch between failure classes) and
  zeroes ``consecutive_successes``.
* Held results (``attempted=False``: the lockout guard held the sign-in back) repeat an answer
  already given, so they are not fresh evidence: they change no counter and no
  ``last_attempt_at``. A held failure still ends a success streak (``consecutive_successes``
  becomes 0), because the identity is known not to work. A held result whose outcome differs
  from the state (e.g. environment B learning that the credential already failed in A) is a
  state change like any other.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult
from monitor.store.records import IdentityState


def next_state(
    previous: IdentityState | None, result: ProbeResult, result_id: int | None
) -> IdentityState:
    """Given the current state (None before the first result) and a new result, return the
    state after it."""
    at = result.started_at
    ok = result.outcome is Outcome.OK
    if previous is None:
        return IdentityState(
            identity=result.identity,
            environment=result.environment,
            tenant=result.tenant,
            credential_type=result.credential_type,
            outcome=result.outcome,
            since=at,
            last_probe_at=at,
            last_attempt_at=at if result.attempted else None,
            last_success_at=at if result.attempted and ok else None,
            consecutive_failures=1 if result.attempted and not ok else 0,
            consecutive_successes=1 if result.attempted and ok else 0,
            credential_fingerprint=result.credential_fingerprint,
            last_result_id=result_id,
        )
    changed = previous.outcome != result.outcome
    state = replace(
        previous,
        tenant=result.tenant,
        credential_type=result.credential_type,
        outcome=result.outcome,
        since=at if changed else previous.since,
        last_probe_at=max(previous.last_probe_at, at),
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
    return at if current is None else max(current, at)
