"""``monitor run``: the jobs of :data:`monitor.daemon.jobs.JOBS` on a schedule, under systemd.

:class:`Daemon` holds the scheduler and its bounded worker pools, the supervision loop of the
main thread (signals, systemd ``STATUS=`` lines, ``WATCHDOG=1`` only while the scheduler is
healthy) and the result writer. Which thread does what: :class:`Daemon`; stopping on SIGTERM:
:meth:`Daemon.stop`; reloading on SIGHUP: :meth:`Daemon.reload`.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from monitor import reloads
from monitor.config.model import Config
from monitor.daemon.evaluation import gate_for, resolve_after
from monitor.daemon.jobs import EXECUTORS, JOBS, JobContext, JobSpec
from monitor.daemon.notify import Notifier
from monitor.daemon.plan import STARTUP_SPREAD_SECONDS, PlannedJob, first_run, plan_jobs
from monitor.daemon.status import DaemonStatus, write_started, write_stopped, write_stopping
from monitor.daemon.writer import DEFAULT_WINDOW_SECONDS, ResultWriter
from monitor.exits import EXIT_OK
from monitor.logsetup import configure_logging, get_logger
from monitor.metrics.live import LiveMetrics
from monitor.model.clock import Clock, ClockWatch, utcnow
from monitor.pipeline.probing import ProbePass
from monitor.pipeline.steps import CycleContext
from monitor.store import Store, StoreError
from monitor.usage.gate import RecentThrottles

if TYPE_CHECKING:
    from monitor.metrics.collector import Vitals

log = get_logger("monitor.daemon")


# Without a systemd watchdog the heartbeat still runs, and the loop wakes this often.
DEFAULT_TICK_SECONDS = 1.0
# The scheduler counts as stalled after this many heartbeat intervals without a beat.
STALE_AFTER_BEATS = 3
# STATUS= is refreshed at most this often (and only when it changed).
STATUS_EVERY_SECONDS = 5.0
# After a wall-clock jump, retention waits until the clock has been steady this long.
CLOCK_STEADY_SECONDS = 24 * 3600.0
# Worker threads of the control pool (retention, evaluation, dispatch, usage).
CONTROL_WORKERS = 4
# APScheduler's own INFO lines ("Added job", one per identity) are noise below DEBUG.
_QUIET_LOGGERS = ("apscheduler.scheduler", "alembic.runtime.plugins")


@dataclass(frozen=True)
class _Running:
    job_id: str
    started: float
    prober: ProbePass


class Daemon:
    """The scheduler, its supervision loop and its systemd conversation.

    Build it with an opened store and a loaded configuration (see :func:`start_daemon`), then
    call :meth:`serve` from the main thread; it returns the exit status. Threads:

    * The **main thread** runs the supervision loop (:meth:`serve`). It handles signals
      (SIGTERM/SIGINT stop, SIGHUP reload, SIGUSR2 the stall test hook), sends systemd
      ``STATUS=`` lines, and sends ``WATCHDOG=1`` only while the scheduler is healthy: the
      heartbeat job ran recently. A stalled scheduler (or a stalled loop) therefore stops the
      pings, and systemd restarts the unit after ``WatchdogSec=``.
    * **APScheduler** (``BackgroundScheduler``) decides when each job runs and hands it to one
      of three bounded worker pools (:class:`~monitor.daemon.jobs.JobSpec`). Every job runs
      with ``max_instances=1`` (never two probes of one identity at once), missed runs coalesce
      into one, and a run later than its misfire grace (one interval) is skipped.
    * All per-identity probe jobs share **one** :class:`~monitor.pipeline.probing.ProbePass`,
      so its per-tenant semaphores bound the load on each tenant across jobs, and the pass
      abandons a probe at its deadline.
    * Probe passes hand their results to the **result writer**
      (:class:`~monitor.daemon.writer.ResultWriter`), whose thread commits everything handed
      over in the last few seconds in one transaction. Lockout guards are written at once by
      the probe pass, never deferred.

    Test hook: SIGUSR2 pauses the scheduler as a deadlock would (documented for operators and
    used by the tests): the heartbeats stop, the loop withholds ``WATCHDOG=1``, and systemd
    restarts the unit. Without the handler SIGUSR2 would terminate the process, so the hook is
    no new risk.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        fingerprint_key: bytes,
        config_path: Path,
        notifier: Notifier | None = None,
        clock: Clock = utcnow,
        jobs: Mapping[str, JobSpec] = JOBS,
        load: Callable[[Path], Config] | None = None,
        rng: random.Random | None = None,
        result_window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self._store = store
        self._key = fingerprint_key
        self._config_path = config_path
        self._notifier = notifier or Notifier()
        self._clock = clock
        self._jobs = dict(jobs)
        self._load = load
        self._rng = rng or random.Random()  # noqa: S311 - spreading schedules, not security
        self._evaluation = gate_for(config)
        self._clock_watch = ClockWatch()
        self._throttles = RecentThrottles()
        self._writer = ResultWriter(
            store, window_seconds=result_window_seconds, on_commit=self._evaluation.observe
        )
        self._runtime = self._cycle_for(config)
        self.status = DaemonStatus(len(config.identities))
        self.status.set_identities(len(config.identities), config.identities)

        watchdog = self._notifier.watchdog_interval
        spec_beat = config.schedule.intervals.get(
            "heartbeat", JOBS["heartbeat"].timing.interval_seconds
        )
        # Beat at least twice per watchdog ping interval, so one late beat is not a restart.
        self._beat_seconds = min(spec_beat, watchdog / 2) if watchdog else spec_beat
        self._stale_after = self._beat_seconds * STALE_AFTER_BEATS
        self._tick = min(DEFAULT_TICK_SECONDS, self._beat_seconds, watchdog or DEFAULT_TICK_SECONDS)
        self._last_beat = time.monotonic()

        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stop_reason: str | None = None
        self._reload_requested = False
        self._reload_folder = reloads.folder_for(self._store.path)
        self._stall_requested = False
        self._stalled_reported = False
        self._running: dict[int, _Running] = {}
        self._running_lock = threading.Condition()
        self._tokens = itertools.count()
        self._retired: list[ProbePass] = []
        self._planned: dict[str, PlannedJob] = {}
        self._scheduler: Any = None
        self._last_status = ""
        self._last_status_at = 0.0
        self.live = LiveMetrics()  # what the metrics endpoint reads (monitor/daemon/metrics.py)
        self._endpoint: Any = None

    # -- building ------------------------------------------------------------------------

    def _cycle_for(self, config: Config) -> CycleContext:
        """Return the cycle's context for *config* (replaced as a whole on reload): its probe
        pass hands results to the result writer and keeps the Retry-After memory."""
        prober = ProbePass(
            config,
            self._store,
            fingerprint_key=self._key,
            clock=self._clock,
            recorder=self._writer.submit,
            attempts=self._throttles,
        )
        return CycleContext(config, self._store, self._key, prober, self._clock)

    def _build_scheduler(self, config: Config) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        sizes = {
            "probes": max(1, config.probing.concurrency),
            "control": CONTROL_WORKERS,
            "watchdog": 1,
        }
        executors = {
            name: ThreadPoolExecutor(sizes[name], pool_kwargs={"thread_name_prefix": f"job-{name}"})
            for name in EXECUTORS
        }
        return BackgroundScheduler(
            executors=executors,
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
            daemon=True,
        )

    def _last_runs(self) -> dict[str, datetime]:
        """Return the newest stored probe time per identity (for first-run planning)."""
        newest: dict[str, datetime] = {}
        for state in self._store.probes.latest_states():
            seen = newest.get(state.identity)
            if seen is None or state.last_probe_at > seen:
                newest[state.identity] = state.last_probe_at
        return newest

    def _add(self, job: PlannedJob, last_runs: Mapping[str, datetime]) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        last = last_runs.get(job.identity) if job.identity is not None else None
        start = first_run(job, now=self._clock(), last_run=last, rng=self._rng)
        trigger = IntervalTrigger(
            seconds=job.interval_seconds,
            start_date=start,
            jitter=job.jitter_seconds or None,
            timezone=UTC,
        )
        self._scheduler.add_job(
            self._run_job,
            trigger=trigger,
            args=(job.name, job.identity),
            id=job.job_id,
            name=job.job_id,
            executor=job.executor,
            # The first run exactly as planned: left to the trigger, a start that is already
            # past when the scheduler starts (a spread offset of a few milliseconds) would be
            # moved a whole interval later, and that identity would miss its first cycle.
            next_run_time=start,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, round(job.interval_seconds)),
            replace_existing=True,
        )
        self._planned[job.job_id] = job

    def _sync_jobs(self, config: Config) -> tuple[int, int, int]:
        """Make the scheduled jobs match *config*; return (added, removed, rescheduled)."""
        wanted = {
            job.job_id: job
            for job in plan_jobs(config, self._jobs, heartbeat_seconds=self._beat_seconds)
        }
        # Passes count as stalled (no heartbeat URL ping) after twice the longest probe interval.
        intervals = [job.interval_seconds for job in wanted.values() if job.name == "probe"]
        self.status.pass_window_seconds = (
            2 * max(intervals) + STARTUP_SPREAD_SECONDS if intervals else math.inf
        )
        last_runs = self._last_runs()
        removed = rescheduled = added = 0
        for existing_id in list(self._planned):
            if existing_id not in wanted:
                self._scheduler.remove_job(existing_id)
                del self._planned[existing_id]
                removed += 1
        for new_id, job in wanted.items():
            current = self._planned.get(new_id)
            if current is None:
                added += 1
            elif current.trigger_key != job.trigger_key:
                rescheduled += 1
            else:
                continue
            self._add(job, last_runs)
        return added, removed, rescheduled

    # -- start ---------------------------------------------------------------------------

    def start(self, *, install_signals: bool = True) -> None:
        """Schedule every job, start the scheduler, and tell systemd we are ready.

        Call from the main thread when *install_signals* is true.
        """
        config = self._runtime.config
        _quiet_third_party(config.log_level)
        if install_signals:
            self._install_signals()
        self._scheduler = self._build_scheduler(config)
        self._sync_jobs(config)
        self._load_memory()
        write_started(
            self._store,
            self.status,
            now=self._clock(),
            config_path=self._config_path,
            heartbeat_seconds=self._beat_seconds,
        )
        self._last_beat = time.monotonic()
        self._writer.start()
        self._scheduler.start()
        from monitor.daemon.metrics import start_endpoint

        self._endpoint = start_endpoint(
            self.vitals, config, self._store.path, self.live, lambda: self._runtime.config
        )
        try:
            reloads.prepare(self._reload_folder)
        except OSError as error:
            log.warning(
                "no reload folder: `monitor reload` will not learn whether a reload succeeded",
                folder=str(self._reload_folder),
                error=error.strerror or type(error).__name__,
            )
        log.info(
            "daemon started",
            identities=len(config.identities),
            jobs=len(self._planned),
            probe_workers=max(1, config.probing.concurrency),
            per_tenant=config.probing.per_tenant_concurrency,
            watchdog_seconds=self._notifier.watchdog_interval,
            database=str(self._store.path),
        )
        self._notifier.ready(self.status.summary())
        self._last_status = self.status.summary()
        self._last_status_at = time.monotonic()

    def _load_memory(self) -> None:
        """Seed what the daemon keeps in memory from the database: each pair's "ok" streak
        (for the evaluation gate) and the Retry-After answers still in force. Without them the
        daemon still works: it evaluates more often, and a throttled pair is asked once more."""
        now = self._clock()
        try:
            self._evaluation.seed(self._store.probes.latest_states())
            self._throttles.load(self._store.probes, now)
        except StoreError as error:
            log.warning("could not read the stored state at start", error=str(error))

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)
        signal.signal(signal.SIGUSR2, self._on_stall_signal)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(signal.Signals(signum).name)

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.request_reload()

    def _on_stall_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stall_requested = True
        self._wake.set()

    # -- requests (signal handlers, tests) ------------------------------------------------

    def request_stop(self, reason: str = "request") -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake.set()

    def _stop_pending(self) -> bool:
        return self._stop_reason is not None

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    # -- jobs ----------------------------------------------------------------------------

    def _beat(self) -> None:
        self._last_beat = time.monotonic()

    def _run_job(self, name: str, identity_name: str | None) -> None:
        """Run one job of the registry (called by APScheduler in a pool thread)."""
        if self._stopping.is_set():
            return  # a run queued before the stop: skip it
        runtime = self._runtime
        spec = self._jobs.get(name)
        if spec is None:
            return
        identity = None
        if identity_name is not None:
            identity = runtime.config.identities.get(identity_name)
            if identity is None:
                return  # removed by a reload after this run was queued
        context = JobContext(
            cycle=runtime,
            status=self.status,
            identity=identity,
            should_stop=self._stopping.is_set,
            clock_steady=lambda: self._clock_watch.steady_for(CLOCK_STEADY_SECONDS),
            beat=self._beat,
            evaluation=self._evaluation,
            live=self.live,
        )
        started_wall = time.time()
        failed = False
        token = next(self._tokens)
        with self._running_lock:
            self._running[token] = _Running(
                f"{name}:{identity_name}" if identity_name else name,
                time.monotonic(),
                runtime.prober,
            )
        try:
            spec.run(context)
        except Exception as exc:  # a failing job must never take the scheduler down
            failed = True
            log.error(
                "job failed",
                job=name,
                identity=identity_name,
                error=type(exc).__name__,
                exc_info=True,
            )
        finally:
            self.live.record_job(name, started_wall, time.time() - started_wall, failed=failed)
            with self._running_lock:
                del self._running[token]
                self._running_lock.notify_all()

    def running_jobs(self) -> list[str]:
        with self._running_lock:
            return sorted(entry.job_id for entry in self._running.values())

    # -- supervision loop ----------------------------------------------------------------

    def healthy(self) -> bool:
        """Return whether the scheduler is running and its heartbeat is fresh."""
        from apscheduler.schedulers.base import STATE_RUNNING

        if self._scheduler is None or self._scheduler.state != STATE_RUNNING:
            return False
        return time.monotonic() - self._last_beat <= self._stale_after

    def vitals(self) -> Vitals:
        """Return the daemon's health as the metrics endpoint reports it: what it already
        tracks for systemd's watchdog and the heartbeat URL (the scheduler's beat, failed
        database writes, finished probe passes)."""
        from monitor.metrics.collector import Vitals

        status = self.status
        window = status.pass_window_seconds
        interval = (window - STARTUP_SPREAD_SECONDS) / 2 if math.isfinite(window) else None
        return Vitals(
            scheduler_healthy=self.healthy(),
            seconds_since_beat=time.monotonic() - self._last_beat,
            database_writable=not (self._writer.failing or status.row_failing),
            probing=status.probing(),
            started_at=status.started_at or datetime.now(UTC),
            last_pass_at=status.last_probe_at,
            probe_interval_seconds=interval,
        )

    def serve(self) -> int:
        """Run the supervision loop until a stop is requested; return the exit status."""
        from apscheduler.schedulers.base import STATE_PAUSED

        while not self._stop_pending():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stop_pending():
                break
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
            if self._stall_requested and self._scheduler.state != STATE_PAUSED:
                log.warning("test hook (SIGUSR2): scheduler paused as if stalled")
                self._scheduler.pause()
            self._supervise_once()
        return self.stop()

    def _supervise_once(self) -> None:
        jump = self._clock_watch.check()
        if jump:
            log.warning(
                "the wall clock jumped; retention waits until it has been steady for a day",
                seconds=round(jump),
            )
        if self.healthy():
            if self._stalled_reported:
                log.info("scheduler healthy again")
                self._stalled_reported = False
            self._notifier.watchdog()
        elif not self._stalled_reported:
            self._stalled_reported = True
            log.error(
                "scheduler stalled: no heartbeat; withholding the systemd watchdog ping",
                seconds_since_beat=round(time.monotonic() - self._last_beat, 1),
                running=self.running_jobs(),
            )
            self._notifier.status("scheduler stalled; waiting for the watchdog")
            self._last_status = ""
        if not self._stalled_reported:
            self._refresh_status()
        self._close_retired()

    def _refresh_status(self) -> None:
        summary = self.status.summary()
        now = time.monotonic()
        if summary != self._last_status and now - self._last_status_at >= STATUS_EVERY_SECONDS:
            self._notifier.status(summary)
            self._last_status = summary
            self._last_status_at = now

    def _close_retired(self) -> None:
        """Close the HTTP sessions of probe passes replaced by a reload once no job uses
        them."""
        if not self._retired:
            return
        with self._running_lock:
            in_use = {id(entry.prober) for entry in self._running.values()}
        for prober in list(self._retired):
            if id(prober) not in in_use:
                self._retired.remove(prober)
                close = getattr(prober.context.http_clients, "close", None)
                if callable(close):
                    close()

    # -- reload --------------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the configuration again and reschedule; keep the running one if it is invalid.

        Return whether the new configuration is now in force. An invalid one is logged with
        its problems. Otherwise identities and intervals are rescheduled; running jobs finish
        with the configuration they started with. The database path and the fingerprint key
        take effect only after a restart.
        """
        from monitor.config import ConfigError, load_config

        self._notifier.reloading()
        # Requests of `monitor reload` present now are answered with this reload's verdict; a
        # later one comes with its own SIGHUP.
        requests = reloads.pending(self._reload_folder)
        old = self._runtime.config
        loader = self._load or load_config
        try:
            new = loader(self._config_path)
        except ConfigError as error:
            problems = [problem.render() for problem in error.problems]
            log.error(
                "reload refused: the configuration is invalid; the running configuration stays",
                config=str(self._config_path),
                problems=problems,
            )
            self._notifier.ready(self.status.summary() + "; last reload refused (invalid config)")
            reloads.answer(
                requests, ok=False, problems=[f"{self._config_path}: {p}" for p in problems]
            )
            return False
        except Exception as error:  # a reload never stops the daemon, whatever the file holds
            log.error(
                "reload refused: the configuration could not be read; the running configuration "
                "stays",
                config=str(self._config_path),
                error=type(error).__name__,
            )
            self._notifier.ready(self.status.summary() + "; last reload refused (unreadable)")
            reloads.answer(
                requests,
                ok=False,
                problems=[f"{self._config_path}: could not be read ({type(error).__name__})"],
            )
            return False
        if new.database.path != old.database.path:
            log.warning(
                "database.path changed; the new path takes effect after a restart",
                running=str(old.database.path),
                configured=str(new.database.path),
            )
        if new.database.fingerprint_key != old.database.fingerprint_key:
            log.warning("database.fingerprint_key changed; it takes effect after a restart")
        configure_logging(new.log_level)
        _quiet_third_party(new.log_level)
        self._retired.append(self._runtime.prober)
        self._runtime = self._cycle_for(new)
        self._evaluation.configure(
            resolve_after_successes=resolve_after(new),
            full_interval_seconds=new.schedule.full_evaluation_interval_seconds,
        )
        self._evaluation.mark()  # identities, rules or credentials may have changed
        self.status.set_identities(len(new.identities), new.identities)
        self.live.forget_identities(new.identities)
        if new.metrics != old.metrics:
            log.warning("[metrics] changed; the new listen address takes effect after a restart")
        self._writer.flush()  # first runs are planned from the stored probe times
        added, removed, rescheduled = self._sync_jobs(new)
        log.info(
            "configuration reloaded",
            identities=len(new.identities),
            jobs_added=added,
            jobs_removed=removed,
            jobs_rescheduled=rescheduled,
        )
        self._notifier.ready(self.status.summary())
        reloads.answer(requests, ok=True)
        return True

    # -- stop ----------------------------------------------------------------------------

    def stop(self) -> int:
        """Stop scheduling, give running jobs the stop timeout, close; return the exit status.

        ``STOPPING=1``; no new job starts (queued runs return at once); running jobs get
        ``[schedule] stop_timeout_seconds`` to finish. Jobs still running then are abandoned
        (their threads are left to the process exit; the store is left open for them rather
        than closed under them); the result writer commits what finished passes handed over.
        Every database write is one transaction, so an abandoned job leaves nothing
        half-written.
        """
        reason = self._stop_reason or "request"
        self._stopping.set()
        self._notifier.stopping("stopping: waiting for running jobs")
        write_stopping(self._store, self.status, now=self._clock(), reason=reason)
        log.info("stopping", reason=reason, running=self.running_jobs())
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        timeout = self._runtime.config.schedule.stop_timeout_seconds
        deadline = time.monotonic() + timeout
        with self._running_lock:
            while self._running and time.monotonic() < deadline:
                self._running_lock.wait(max(0.0, min(0.5, deadline - time.monotonic())))
            abandoned = sorted(entry.job_id for entry in self._running.values())
        # What finished passes handed over is committed now; an abandoned job's is not.
        self._writer.close(timeout=max(1.0, deadline - time.monotonic()))
        write_stopped(self._store, self.status, now=self._clock())
        if self._endpoint is not None:
            self._endpoint.close()
        if abandoned:
            log.warning(
                "abandoning running jobs at the stop timeout; their results are not recorded",
                stop_timeout_seconds=timeout,
                jobs=abandoned,
            )
        else:
            self._store.close()
        log.info("stopped", reason=reason, abandoned=len(abandoned))
        return EXIT_OK


def _quiet_third_party(level: str) -> None:
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
