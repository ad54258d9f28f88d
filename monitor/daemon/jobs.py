"""The daemon's job registry: which step of the cycle each scheduled job runs, and where.

:data:`JOBS` maps every job name of :data:`monitor.config.model.JOB_TIMINGS` (what
``[schedule]`` configures) to a :class:`JobSpec`: the function that runs it and the worker pool
it runs in. Each function adapts one step of :mod:`monitor.pipeline.steps` to the daemon (its
clock, its stop flag, the evaluation gate, its status) and returns within a bounded time,
without holding a write transaction across network I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from monitor.config.model import JOB_TIMINGS, IdentityConfig, JobTiming
from monitor.logsetup import get_logger
from monitor.pipeline import steps
from monitor.pipeline.steps import CycleContext

if TYPE_CHECKING:
    from monitor.daemon.evaluation import EvaluationGate
    from monitor.daemon.status import DaemonStatus
    from monitor.metrics.live import LiveMetrics

log = get_logger("monitor.daemon")

Executor = Literal["probes", "control", "watchdog"]
EXECUTORS: tuple[Executor, ...] = ("probes", "control", "watchdog")


@dataclass(frozen=True)
class JobContext:
    """What one run of a job gets: the cycle's context (configuration in force, store, key,
    clock, probe pass), the daemon's status and evaluation gate, and, for a per-identity job,
    the identity.

    ``should_stop`` turns true when the daemon is stopping: a long job (retention) checks it
    between batches and returns early. ``beat`` records that the scheduler is alive (only the
    heartbeat job calls it). ``clock_steady`` is false for a while after the wall clock jumped.
    """

    cycle: CycleContext
    status: DaemonStatus
    identity: IdentityConfig | None = None
    should_stop: Callable[[], bool] = lambda: False
    beat: Callable[[], None] = lambda: None
    evaluation: EvaluationGate | None = None
    clock_steady: Callable[[], bool] = lambda: True
    live: LiveMetrics | None = None  # the metrics endpoint's counters


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its timing defaults, the function that runs it, and its pool.

    Pools (sized by :class:`~monitor.daemon.service.Daemon`): ``probes``, network-bound work,
    ``[probing] concurrency`` workers shared by every per-identity job (the probe pass's
    per-tenant semaphores bound the load on one tenant); ``control``, short local steps
    (retention, evaluation, dispatch of the outbox, usage); ``watchdog``, the heartbeat alone,
    so that a busy pool can never starve it.
    """

    timing: JobTiming
    run: Callable[[JobContext], None]
    executor: Executor = "control"


def run_probe(job: JobContext) -> None:
    """Probe ``job.identity`` once (:func:`monitor.pipeline.steps.probe`); the result writer
    commits the results and writes their log lines; the status counts them."""
    assert job.identity is not None, "probe is a per-identity job"
    report = steps.probe(job.cycle, [job.identity], kind="scheduled")
    job.status.record_pass(report.results, report.finished_at)
    if job.live is not None:
        job.live.record_pass(report.results)


def run_directory(job: JobContext) -> None:
    """Read the directories that are due; new facts make the next evaluation run."""
    report = steps.read_directory(job.cycle)
    if report.tenants_read and job.evaluation is not None:
        job.evaluation.mark()


def run_usage(job: JobContext) -> None:
    """Refresh the daily usage table; allocations or days may have changed, so the next
    evaluation runs."""
    steps.refresh_usage(job.cycle)
    if job.evaluation is not None:
        job.evaluation.mark()


def run_evaluate(job: JobContext) -> None:
    """Evaluate when the gate says something notable happened (when that is:
    :func:`monitor.pipeline.steps.evaluate`), then ping the heartbeat URL, but only while probe
    passes are finishing: a dead man's switch must notice a daemon that schedules but no
    longer probes (:meth:`monitor.daemon.status.DaemonStatus.probing`)."""
    gate = job.evaluation
    if gate is None or gate.due() is not None:
        token = gate.begin() if gate is not None else 0
        steps.evaluate(job.cycle)
        if gate is not None:
            gate.done(token)
    probing = job.status.probing()
    if probing:
        steps.ping_heartbeat(job.cycle)
    if job.status.note_probing(probing) and job.cycle.config.alerts.heartbeat_url is not None:
        if probing:
            log.info("probe passes finish again; the heartbeat URL is pinged again")
        else:
            log.warning("heartbeat URL not pinged: no probe pass has finished for too long")


def run_dispatch(job: JobContext) -> None:
    """Deliver the outbox rows that are due."""
    result = steps.dispatch(job.cycle)
    if job.live is not None:
        job.live.record_dispatch(result)


def run_retention(job: JobContext) -> None:
    """Delete raw history past the retention policy in small batches, stopping early when the
    daemon stops; skipped while the wall clock is not steady (after a jump, "90 days ago" may
    be yesterday)."""
    if not job.clock_steady():
        log.warning("retention skipped: the wall clock jumped recently")
        return
    steps.apply_retention(job.cycle, should_stop=job.should_stop)


def run_heartbeat(job: JobContext) -> None:
    """Record that the scheduler dispatched a job just now; the supervision loop sends systemd
    ``WATCHDOG=1`` only while these beats keep coming.

    Then, at most once a minute, rewrite the daemon's status row in the database (what
    ``monitor report`` reads to tell whether the daemon is alive). The beat comes first and a
    database error is only logged (:func:`monitor.daemon.status.write_heartbeat`), so the
    database can never stop the watchdog pings.
    """
    job.beat()
    if job.should_stop():
        return  # stopping: Daemon.stop writes the last rows
    from monitor.daemon.status import write_heartbeat

    write_heartbeat(job.cycle.store, job.status, now=job.cycle.clock())


JOBS: Mapping[str, JobSpec] = MappingProxyType(
    {
        "probe": JobSpec(JOB_TIMINGS["probe"], run_probe, executor="probes"),
        "retention": JobSpec(JOB_TIMINGS["retention"], run_retention),
        "directory": JobSpec(JOB_TIMINGS["directory"], run_directory, executor="probes"),
        "evaluate": JobSpec(JOB_TIMINGS["evaluate"], run_evaluate),
        "dispatch": JobSpec(JOB_TIMINGS["dispatch"], run_dispatch),
        "usage": JobSpec(JOB_TIMINGS["usage"], run_usage),
        "heartbeat": JobSpec(JOB_TIMINGS["heartbeat"], run_heartbeat, executor="watchdog"),
    }
)
