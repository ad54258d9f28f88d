"""The registry of scheduled jobs: every step ``monitor run`` repeats, by name.

:data:`JOBS` is a literal dict from job name to :class:`JobSpec`. The daemon
(:mod:`monitor.daemon`) schedules exactly these, and ``[schedule]`` in the configuration has a
``NAME_interval_seconds`` and ``NAME_jitter_seconds`` key for each of them (and a per-identity
interval for the per-identity ones), generated from this dict. ``monitor check`` runs one pass of
the same steps.

Adding a job is adding an entry: a description, whether it runs per identity or once, its default
interval and jitter, which worker pool it runs in, and a callable that takes a
:class:`JobContext`. The callable imports what it needs inside its body, so that importing this
registry (the configuration schema does) stays cheap. A job must return within a bounded time
(the probe deadline, a network timeout, or small batches) and must not hold a database write
transaction across network I/O.

Worker pools (see :mod:`monitor.daemon.service`):

``probes``
    network-bound work, ``[probing] concurrency`` workers, shared by every per-identity job; the
    engine's per-tenant semaphores bound the load on one tenant.
``control``
    short local steps (retention, evaluation, dispatch of the outbox).
``watchdog``
    the heartbeat alone, so that a busy pool can never starve it.

The jobs: ``probe`` (per identity), ``directory`` (posture reads of due tenants),
``evaluate`` (findings -> incidents and outbox rows, :mod:`monitor.incidents.jobs`; skipped when
nothing changed, :mod:`monitor.daemon.evaluation`), ``dispatch`` (outbox delivery), ``usage``
(daily API usage against allocations), ``retention`` and ``heartbeat``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from monitor.config.model import Config, IdentityConfig
    from monitor.daemon.evaluation import EvaluationGate
    from monitor.daemon.status import DaemonStatus
    from monitor.engine import CheckPass
    from monitor.store import Store

Scope = Literal["identity", "global"]
Executor = Literal["probes", "control", "watchdog"]
EXECUTORS: tuple[Executor, ...] = ("probes", "control", "watchdog")


@dataclass(frozen=True)
class JobContext:
    """What one run of a job gets: the configuration in force, the store, the clock, the shared
    check-pass engine and, for a per-identity job, the identity.

    ``should_stop`` turns true when the daemon is stopping: a long job (retention) checks it
    between batches and returns early. ``beat`` records that the scheduler is alive (only the
    heartbeat job calls it).
    """

    config: Config
    store: Store
    clock: Callable[[], datetime]
    engine: CheckPass
    status: DaemonStatus
    identity: IdentityConfig | None = None
    should_stop: Callable[[], bool] = lambda: False
    beat: Callable[[], None] = lambda: None
    evaluation: EvaluationGate | None = None


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: what it does, how often, where it runs, and the step itself."""

    description: str
    scope: Scope
    interval_seconds: float
    jitter_seconds: float
    run: Callable[[JobContext], None]
    executor: Executor = "control"


def run_probe(ctx: JobContext) -> None:
    """Probe ``ctx.identity`` once, as one scheduled pass of the engine, and count the results.

    The engine applies the lockout guard, abandons a probe at its deadline, records the results
    and writes the canonical per-probe log line.
    """
    assert ctx.identity is not None, "probe is a per-identity job"
    report = ctx.engine.run([ctx.identity], kind="scheduled")
    ctx.status.record_pass(report.results, report.finished_at)


def run_retention(ctx: JobContext) -> None:
    """Delete raw history past the retention policy in small batches, then give the space back
    (incremental vacuum) and truncate the write-ahead log."""
    from monitor.store.retention import RetentionPolicy, apply_retention

    retention = ctx.config.retention
    policy = RetentionPolicy(
        probe_results_days=retention.probe_results_days,
        daily_stats_days=retention.daily_stats_days,
        batch_rows=retention.batch_rows,
    )
    apply_retention(ctx.store, policy, now=ctx.clock(), should_stop=ctx.should_stop)
    # Posture observations (each directory read's raw facts; current facts and changes stay)
    # follow the raw probe results' retention.
    from datetime import timedelta

    cutoff = ctx.clock() - timedelta(days=retention.probe_results_days)
    while not ctx.should_stop() and ctx.store.posture.delete_observations_before(
        cutoff, batch_rows=retention.batch_rows
    ):
        pass  # one small transaction per batch, so probes are never held up


def run_directory(ctx: JobContext) -> None:
    """Read the Graph / Dataverse metadata of every tenant that is due (``[directory]
    interval_hours`` since its last read, or a configured credential changed) and record the
    observations; a tenant that is not due costs one database read."""
    from monitor.directory.engine import DirectoryPass

    report = DirectoryPass(
        ctx.config, ctx.store, fingerprint_key=ctx.engine.fingerprint_key, clock=ctx.clock
    ).run(ctx.clock())
    if report.tenants_read and ctx.evaluation is not None:
        ctx.evaluation.mark()  # new posture facts: evaluate them at the next tick


def run_evaluate(ctx: JobContext) -> None:
    """Evaluate every finding into incident transitions and outbox rows (one transaction), as
    ``monitor check`` does after its probes (:func:`monitor.pipeline.run_cycle`): probe findings
    from the identity states, posture findings from the stored directory facts (no directory
    read here: that is the ``directory`` job), usage findings; then ping the heartbeat URL if
    one is configured. Delivery is the ``dispatch`` job.

    In the daemon, a tick with nothing to evaluate (:mod:`monitor.daemon.evaluation`) only
    pings the heartbeat URL."""
    from monitor.directory.report import posture_from_store
    from monitor.incidents.jobs import run_evaluate as evaluate
    from monitor.pipeline import complete_sources
    from monitor.usage.evaluate import usage_findings_for

    gate = ctx.evaluation
    if gate is not None and gate.due() is None:
        from monitor.notify.heartbeat import ping_heartbeat

        ping_heartbeat(ctx.config)
        return
    token = gate.begin() if gate is not None else 0
    now = ctx.clock()
    findings = [
        *posture_from_store(ctx.store, ctx.config, now).findings,
        *usage_findings_for(ctx.config, ctx.store, now),
    ]
    evaluate(
        ctx, extra=[lambda _store, _config, _now: findings], sources=complete_sources(findings)
    )
    if gate is not None:
        gate.done(token)


def run_dispatch(ctx: JobContext) -> None:
    """Deliver the outbox rows that are due: sending happens outside any transaction, with
    leases, retries, dead letters and fallbacks (:mod:`monitor.notify.dispatch`)."""
    from monitor.incidents.jobs import run_dispatch as dispatch

    dispatch(ctx)


def run_usage(ctx: JobContext) -> None:
    """Rewrite the daily usage table for recent days (allocations follow licence and
    configuration changes without an import); see :func:`monitor.usage.evaluate.run_usage_job`."""
    from monitor.usage.evaluate import run_usage_job

    run_usage_job(ctx)
    if ctx.evaluation is not None:
        ctx.evaluation.mark()  # allocations or days changed: evaluate usage at the next tick


def run_heartbeat(ctx: JobContext) -> None:
    """Record that the scheduler dispatched a job just now; the supervision loop sends systemd
    ``WATCHDOG=1`` only while these beats keep coming.

    Then, at most once a minute, rewrite the daemon's status row in the database (what
    ``monitor report`` reads to tell whether the daemon is alive). The beat comes first and a
    database error is only logged (:func:`monitor.daemon.status.write_heartbeat`), so the
    database can never stop the watchdog pings.
    """
    ctx.beat()
    if ctx.should_stop():
        return  # stopping: Daemon.stop writes the last rows
    from monitor.daemon.status import write_heartbeat

    write_heartbeat(ctx.store, ctx.status, now=ctx.clock())


JOBS: dict[str, JobSpec] = {
    "probe": JobSpec(
        description="sign in as the identity and call Dataverse WhoAmI",
        scope="identity",
        interval_seconds=15 * 60,
        jitter_seconds=60,
        run=run_probe,
        executor="probes",
    ),
    "retention": JobSpec(
        description="delete raw history past [retention], vacuum incrementally",
        scope="global",
        interval_seconds=24 * 3600,
        jitter_seconds=15 * 60,
        run=run_retention,
    ),
    "directory": JobSpec(
        description="read Graph / Dataverse metadata of due tenants (posture)",
        scope="global",
        interval_seconds=15 * 60,  # how often due-ness is checked; [directory] sets the interval
        jitter_seconds=60,
        run=run_directory,
        executor="probes",
    ),
    "evaluate": JobSpec(
        description="turn findings into incidents and outbox rows",
        scope="global",
        interval_seconds=60,
        jitter_seconds=0,
        run=run_evaluate,
    ),
    "dispatch": JobSpec(
        description="deliver due notifications from the outbox",
        scope="global",
        interval_seconds=30,
        jitter_seconds=0,
        run=run_dispatch,
    ),
    "usage": JobSpec(
        description="refresh daily API usage against allocations",
        scope="global",
        interval_seconds=3600,
        jitter_seconds=120,
        run=run_usage,
    ),
    "heartbeat": JobSpec(
        description="prove the scheduler is dispatching jobs (systemd watchdog)",
        scope="global",
        interval_seconds=5,
        jitter_seconds=0,
        run=run_heartbeat,
        executor="watchdog",
    ),
}
