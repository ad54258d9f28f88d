"""Which jobs the daemon schedules, how often, and when each runs first (pure functions).

Every job of the registry becomes one scheduled job, or one per identity for per-identity jobs.
Intervals come from ``[schedule]`` (per identity first, then global, then the registry default);
a password identity is never probed more often than ``password_probe_interval_seconds``.

First runs are spread out so that 1,000 identities do not fire at once, and follow the stored
history: an identity probed five minutes before a restart is probed again one interval after
that probe, not at once. This is what keeps a password identity's rate below its floor across
restarts (and watchdog restarts).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config.model import Config, IdentityConfig, job_interval
from monitor.daemon.jobs import Executor, JobSpec

# First runs of due or never-run jobs are spread over at most this many seconds after start.
STARTUP_SPREAD_SECONDS = 60.0


@dataclass(frozen=True)
class PlannedJob:
    """One job as scheduled: ``job_id`` is ``NAME`` or ``NAME:IDENTITY``."""

    job_id: str
    name: str
    identity: str | None
    interval_seconds: float
    jitter_seconds: float
    executor: Executor

    @property
    def trigger_key(self) -> tuple[float, float, str]:
        """What a reload compares to decide whether the job must be rescheduled."""
        return (self.interval_seconds, self.jitter_seconds, self.executor)


def job_id(name: str, identity: str | None) -> str:
    return name if identity is None else f"{name}:{identity}"


def interval_for(
    config: Config, name: str, spec: JobSpec, identity: IdentityConfig | None
) -> tuple[float, float]:
    """Return (interval, jitter) in seconds for job *name* (of *identity*, if per identity),
    with *spec*'s timing as the default (:func:`monitor.config.model.job_interval`)."""
    return job_interval(config, name, identity, timing=spec.timing)


def plan_jobs(
    config: Config,
    jobs: Mapping[str, JobSpec],
    *,
    heartbeat_seconds: float | None = None,
) -> list[PlannedJob]:
    """Return every job to schedule for *config*, in registry then configuration order.

    *heartbeat_seconds* overrides the heartbeat interval (the daemon derives it from the
    systemd watchdog timeout).
    """
    planned: list[PlannedJob] = []
    for name, spec in jobs.items():
        if spec.timing.scope == "identity":
            for identity in config.identities.values():
                interval, jitter = interval_for(config, name, spec, identity)
                planned.append(
                    PlannedJob(
                        job_id(name, identity.name),
                        name,
                        identity.name,
                        interval,
                        jitter,
                        spec.executor,
                    )
                )
            continue
        interval, jitter = interval_for(config, name, spec, None)
        if name == "heartbeat" and heartbeat_seconds is not None:
            interval, jitter = heartbeat_seconds, 0.0
        planned.append(PlannedJob(job_id(name, None), name, None, interval, jitter, spec.executor))
    return planned


def first_run(
    job: PlannedJob,
    *,
    now: datetime,
    last_run: datetime | None,
    rng: random.Random,
) -> datetime:
    """Return when *job* should run first.

    The heartbeat runs at once. A job that ran at *last_run* (from the stored history) runs one
    interval after it if that is still ahead; otherwise (never ran, overdue, or a stored time in
    the future, left by a clock that was ahead) it runs at a
    random moment within the first ``min(interval, 60 s)`` after *now*, so a start with 1,000
    due identities spreads them out.
    """
    if job.name == "heartbeat":
        return now
    # A run stored in the future (while the clock was ahead, then set back) says nothing about
    # when the job last ran: it runs as if it never had, not when the clock catches up.
    if last_run is not None and last_run <= now:
        due = last_run + timedelta(seconds=job.interval_seconds)
        if due > now:
            return due
    spread = min(job.interval_seconds, STARTUP_SPREAD_SECONDS)
    return now + timedelta(seconds=rng.uniform(0, spread))
