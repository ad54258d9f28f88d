"""The probe step: probe every selected identity once, guard passwords, record the results.

A :class:`ProbePass` is the only place where probes, the lockout guard and the store meet:
probes do not import the store, and the store knows nothing about msal. ``monitor check`` runs
one pass over every identity; the daemon runs one pass per identity on that identity's
interval, all through one :class:`ProbePass` so that its per-tenant limits hold across jobs.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor import __version__
from monitor.config.model import Config, IdentityConfig
from monitor.model.clock import Clock, utcnow
from monitor.model.lockout import LockoutDecision, LockoutGuard, decide_guard
from monitor.model.outcomes import Nature, Outcome, info
from monitor.model.probes import ProbeResult, RunKind, RunRecord, StateChangeRecord
from monitor.probes.context import ProbeContext
from monitor.probes.registry import PROBE_KINDS
from monitor.store import Store
from monitor.usage.gate import RecentThrottles, RetryAfterGate

log = structlog.get_logger("monitor.probes")

# Takes a finished pass for storing later (monitor.daemon.writer.ResultWriter.submit).
Recorder = Callable[[RunRecord, Sequence[ProbeResult]], None]

# How long past its own deadline a probe thread may run before the pass stops waiting for it.
_ABANDON_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class ProbePassResult:
    """What one pass did: every recorded result (including held-back ones), the state changes,
    and the identities it could not check (not recorded: the pass ran out of time, or another
    process was signing in as the identity)."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    results: tuple[ProbeResult, ...]
    state_changes: tuple[StateChangeRecord, ...]  # empty when a recorder stores the results
    not_checked: tuple[ProbeResult, ...] = ()


@dataclass
class _Job:
    identity: IdentityConfig
    future: Future[list[ProbeResult]]
    started: list[float] = field(default_factory=list)  # monotonic start, set by the worker


def select_identities(config: Config, names: Sequence[str] | None) -> list[IdentityConfig]:
    """Return the identities to probe, in configuration order.

    Raise KeyError naming every unknown name.
    """
    if not names:
        return list(config.identities.values())
    missing = [name for name in names if name not in config.identities]
    if missing:
        raise KeyError(", ".join(missing))
    return [config.identities[name] for name in names]


def _per_environment(
    identity: IdentityConfig, started_at: datetime, **fields: Any
) -> list[ProbeResult]:
    """Return one result per environment of *identity*, all with *fields*."""
    return [
        ProbeResult(
            identity=identity.name,
            environment=environment,
            tenant=identity.tenant,
            credential_type=identity.credential_type,
            started_at=started_at,
            **{"duration_ms": 0, **fields},
        )
        for environment in identity.environments
    ]


def _held_results(
    identity: IdentityConfig, guard: LockoutGuard, fingerprint: str, now: datetime
) -> list[ProbeResult]:
    since = guard.since.strftime("%Y-%m-%d %H:%M UTC")
    if guard.hold_until is None:
        why = "until the password is changed in the monitor's secret store"
    else:
        why = f"until {guard.hold_until.strftime('%Y-%m-%d %H:%M UTC')}"
    message = (
        f"not signed in: the last attempt ({since}) answered {guard.outcome}"
        + (f" (AADSTS{guard.aadsts_code})" if guard.aadsts_code else "")
        + f"; the monitor holds further attempts {why} so it cannot lock the account out"
    )
    return _per_environment(
        identity,
        now,
        outcome=Outcome(guard.outcome),
        stage="guard",
        attempted=False,
        message=message,
        aadsts_code=guard.aadsts_code,
        credential_fingerprint=fingerprint,
    )


def _deadline_results(
    identity: IdentityConfig, started_at: datetime, deadline_seconds: float, fingerprint: str
) -> list[ProbeResult]:
    return _per_environment(
        identity,
        started_at,
        duration_ms=int(deadline_seconds * 1000),
        outcome=Outcome.UNREACHABLE,
        stage="deadline",
        message=f"no answer within the probe deadline of {deadline_seconds:g} s; "
        "the credential was not judged",
        credential_fingerprint=fingerprint,
    )


def _not_checked(identity: IdentityConfig, now: datetime, why: str) -> list[ProbeResult]:
    """Results that say an identity was not checked in this pass (never recorded)."""
    return _per_environment(
        identity,
        now,
        outcome=Outcome.UNREACHABLE,
        stage="deadline",
        attempted=False,
        message=f"not checked: {why}",
    )


class ProbePass:
    """Run probes for a set of identities with bounded concurrency and record the results."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        fingerprint_key: bytes,
        clock: Clock = utcnow,
        context: ProbeContext | None = None,
        recorder: Recorder | None = None,
        attempts: RecentThrottles | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.recorder = recorder
        # The daemon's memory of throttled answers; without it the gate reads the store.
        self.attempts = attempts
        self.fingerprint_key = fingerprint_key
        self.context = context or ProbeContext.from_config(
            config, fingerprint_key=fingerprint_key, clock=clock
        )
        self._tenant_slots = {
            name: threading.BoundedSemaphore(config.probing.per_tenant_concurrency)
            for name in config.tenants
        }

    def run(
        self,
        identities: Sequence[IdentityConfig],
        *,
        force: bool = False,
        kind: RunKind = "check",
        until: float | None = None,
    ) -> ProbePassResult:
        """Probe *identities* once; with *force*, a held password identity is tried once more.

        *until* (a ``time.monotonic()`` value) ends the pass early: what has not finished by
        then is reported as not checked and not recorded (``monitor check --timeout``).
        Password identities are signed in only while this process holds their sign-in lock
        (:mod:`monitor.store.signin_locks`), from reading the guard to recording it.
        """
        run_id = uuid.uuid4().hex
        started_at = self.clock()
        deadline = self.config.network.probe_deadline_seconds
        users = [identity.name for identity in identities if identity.kind == "user"]
        wait = deadline if until is None else max(0.0, min(deadline, until - time.monotonic()))
        with self.store.signin_locks.hold(users, timeout=wait) as locked:
            results, not_checked = self._run_locked(identities, locked, force, until)
        finished_at = self.clock()
        record = RunRecord(
            run_id=run_id,
            kind=kind,
            started_at=started_at,
            finished_at=finished_at,
            monitor_version=__version__,
        )
        if self.recorder is None:
            changes = self.store.probes.record_results(record, results)
            log_pass(run_id, results)
        else:  # the daemon's write-behind: it commits, then logs, within its window
            self.recorder(record, results)
            changes = []
        return ProbePassResult(
            run_id=run_id,
            started_at=started_at,
            finished_at=finished_at,
            results=tuple(results),
            state_changes=tuple(changes),
            not_checked=tuple(not_checked),
        )

    def _run_locked(
        self,
        identities: Sequence[IdentityConfig],
        locked: frozenset[str],
        force: bool,
        until: float | None,
    ) -> tuple[list[ProbeResult], list[ProbeResult]]:
        """Probe while holding the sign-in locks *locked*; return (results, not checked)."""
        started_at = self.clock()
        results: list[ProbeResult] = []
        not_checked: list[ProbeResult] = []
        guards: dict[str, tuple[LockoutGuard | None, str]] = {}
        # Usage hook (monitor.usage.gate): honour Retry-After, see the loop below.
        retry_after = RetryAfterGate.load(
            self.attempts if self.attempts is not None else self.store.probes,
            [identity.name for identity in identities],
            started_at,
            default_seconds=self.config.usage.default_retry_after_seconds,
        )
        executor = ThreadPoolExecutor(
            max_workers=max(1, self.config.probing.concurrency), thread_name_prefix="probe"
        )
        jobs: list[_Job] = []
        # One read for every guard, under the sign-in locks; guards exist only for password
        # identities that failed, so a pass without one needs no read.
        held = {guard.identity: guard for guard in self.store.guards.all()} if locked else {}
        try:
            for identity in identities:
                now = self.clock()
                if identity.kind == "user" and identity.name not in locked:
                    why = "another monitor process is signing in as this identity right now"
                    not_checked.extend(_not_checked(identity, now, why))
                    continue
                fingerprint = identity.credential().fingerprint(self.fingerprint_key)
                guard = held.get(identity.name)
                guards[identity.name] = (guard, fingerprint)
                if guard is not None and guard.holds(now, fingerprint):
                    if not force:
                        self.store.guards.note_blocked_attempt(identity.name, now)
                        results.extend(_held_results(identity, guard, fingerprint, now))
                        continue
                    self.store.guards.note_forced_probe(identity.name, now)
                # Usage hook: an environment that answered 429 with Retry-After (or a token
                # endpoint that did, for all environments) gets no request as this identity
                # until it expires; a held, not attempted, throttled result stands in for it.
                environments, waiting = retry_after.split(identity, now, fingerprint)
                results.extend(waiting)
                if not environments:
                    continue
                probed = replace(identity, environments=tuple(environments))
                job = _Job(identity=probed, future=Future())
                job.future = executor.submit(self._probe, probed, job.started)
                jobs.append(job)
            finished, unfinished = self._collect(
                jobs, self.config.network.probe_deadline_seconds, until
            )
            results.extend(finished)
            for identity in unfinished:
                not_checked.extend(
                    _not_checked(identity, self.clock(), "the check's --timeout ran out first")
                )
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        if self.attempts is not None:
            self.attempts.observe(results)
        checked = [identity for identity in identities if identity.name in guards]
        self._update_guards(checked, results, guards, self.clock())
        return results, not_checked

    def _probe(self, identity: IdentityConfig, started: list[float]) -> list[ProbeResult]:
        slot = self._tenant_slots[identity.tenant]
        with slot:
            started.append(time.monotonic())
            probe = PROBE_KINDS[identity.credential_type](identity, self.config, self.context)
            return probe.run(list(identity.environments))

    def _collect(
        self, jobs: list[_Job], deadline: float, until: float | None
    ) -> tuple[list[ProbeResult], list[IdentityConfig]]:
        """Gather the jobs' results as they finish; give up on a job that has run past its
        deadline (its thread is abandoned, its result reported as unreachable). At *until*
        (monotonic) stop waiting altogether; return the results and the identities whose job
        had not finished by then."""
        results: list[ProbeResult] = []
        finished: queue.SimpleQueue[Future[list[ProbeResult]]] = queue.SimpleQueue()
        pending = {job.future: job for job in jobs}
        for submitted in pending:
            submitted.add_done_callback(finished.put)
        limit = deadline + _ABANDON_GRACE_SECONDS
        while pending:
            future: Future[list[ProbeResult]] | None
            try:
                future = finished.get(timeout=0.25)
            except queue.Empty:
                future = None
            if future is not None and future in pending:
                job = pending.pop(future)
                try:
                    results.extend(future.result())
                except Exception as exc:  # a probe must never take the pass down
                    log.error(
                        "probe crashed",
                        identity=job.identity.name,
                        error=type(exc).__name__,
                    )
                    results.extend(_crash_results(job.identity, self.clock(), type(exc).__name__))
            now = time.monotonic()
            if until is not None and now >= until:
                for job in pending.values():
                    log.warning(
                        "probe not waited for: the pass ran out of time", identity=job.identity.name
                    )
                return results, [job.identity for job in pending.values()]
            for waiting, job in list(pending.items()):
                if job.started and now - job.started[0] > limit:
                    pending.pop(waiting)
                    log.warning("probe abandoned at its deadline", identity=job.identity.name)
                    fingerprint = job.identity.credential().fingerprint(self.fingerprint_key)
                    results.extend(
                        _deadline_results(
                            job.identity,
                            self.clock() - timedelta(seconds=limit),
                            deadline,
                            fingerprint,
                        )
                    )
        return results, []

    def _update_guards(
        self,
        identities: Sequence[IdentityConfig],
        results: list[ProbeResult],
        guards: dict[str, tuple[LockoutGuard | None, str]],
        now: datetime,
    ) -> None:
        by_identity: dict[str, list[ProbeResult]] = {}
        for result in results:
            by_identity.setdefault(result.identity, []).append(result)
        for identity in identities:
            if identity.kind != "user":
                continue
            attempted = [r for r in by_identity.get(identity.name, []) if r.attempted]
            if not attempted:
                continue
            previous, fingerprint = guards[identity.name]
            decision: LockoutDecision = decide_guard(
                attempted,
                previous_cooldown_seconds=previous.cooldown_seconds if previous else None,
                base_cooldown_seconds=self.config.probing.lockout_cooldown_seconds,
                now=now,
            )
            if decision.hold:
                self.store.guards.hold(decision.guard(identity.name, fingerprint, now))
            elif previous is not None:
                self.store.guards.release(identity.name)


# The level of a probe's log line by the nature of its outcome: a broken identity is an error
# (``journalctl -p err``), what could not be verified a warning, a healthy one info.
_LOG_LEVELS = {Nature.HEALTHY: "info", Nature.DEFINITIVE: "error"}


def log_pass(run_id: str, results: Sequence[ProbeResult]) -> None:
    """Write the canonical log line of each result of a pass, once the pass is stored (so a
    ``run_id`` seen in the log is always in the database), at a level by its outcome's nature
    (:data:`_LOG_LEVELS`, else warning)."""
    for result in results:
        level = _LOG_LEVELS.get(info(result.outcome).nature, "warning")
        getattr(log, level)(
            "probe",
            run_id=run_id,
            identity=result.identity,
            environment=result.environment,
            kind=result.credential_type,
            outcome=str(result.outcome),
            attempted=result.attempted,
            stage=result.stage,
            duration_ms=result.duration_ms,
            aadsts=result.aadsts_code,
            http_status=result.http_status,
            correlation_id=result.correlation_id,
        )


def _crash_results(identity: IdentityConfig, now: datetime, error: str) -> list[ProbeResult]:
    return _per_environment(
        identity,
        now,
        outcome=Outcome.UNCLASSIFIED,
        stage="token",
        message=f"the probe failed inside the monitor ({error}); see the log",
    )
