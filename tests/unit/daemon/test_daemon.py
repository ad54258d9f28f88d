"""The daemon in-process with stand-in jobs: one run per identity at a time, reload, stop,
health, and failing jobs. (The real probes run in tests/integration/daemon.)"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from support.daemon import NotifySocket, make_config, wait_until

from monitor.config import ConfigError
from monitor.config.model import Config, DatabaseConfig, JobTiming, ScheduleConfig
from monitor.config.problems import Problem
from monitor.daemon import Daemon, Notifier
from monitor.daemon.jobs import JOBS, JobContext, JobSpec
from monitor.store import Store


class Recorder:
    """A stand-in job body: counts runs per identity and the most at once."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.runs: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.max_total = 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self, ctx: JobContext) -> None:
        name = ctx.identity.name if ctx.identity else "-"
        with self.lock:
            self.active[name] += 1
            self.max_active[name] = max(self.max_active[name], self.active[name])
            self.max_total = max(self.max_total, sum(self.active.values()))
        try:
            time.sleep(self.seconds)
            self.release.wait()
        finally:
            with self.lock:
                self.active[name] -= 1
                self.runs[name] += 1


def jobs_with(run: Callable[[JobContext], None], interval: float = 0.05) -> dict[str, JobSpec]:
    return {
        "probe": JobSpec(JobTiming("stand-in probe", "identity", interval, 0), run, "probes"),
        "heartbeat": JOBS["heartbeat"],
    }


def config_at(tmp_path: Path, **schedule: object) -> Config:
    base = make_config(ScheduleConfig(password_probe_interval_seconds=0.05, **schedule))  # type: ignore[arg-type]
    return dataclasses.replace(base, database=DatabaseConfig(tmp_path / "monitor.db"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


class Running:
    """A started daemon serving in a background thread."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.code: int | None = None
        daemon.start(install_signals=False)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.code = self.daemon.serve()

    def stop(self, timeout: float = 10) -> int | None:
        self.daemon.request_stop("test")
        self.thread.join(timeout)
        return self.code


def make_daemon(
    config: Config,
    store: Store,
    jobs: dict[str, JobSpec],
    *,
    notifier: Notifier | None = None,
    load: Callable[[Path], Config] | None = None,
) -> Daemon:
    return Daemon(
        config,
        store,
        fingerprint_key=b"k" * 32,
        config_path=config.source,
        notifier=notifier or Notifier({}),
        jobs=jobs,
        load=load,
    )


def test_never_two_runs_of_one_identity_at_once(tmp_path: Path, store: Store) -> None:
    """A job slower than its interval is not started again while it runs (max_instances=1),
    while different identities do run side by side."""
    recorder = Recorder(seconds=0.3)
    running = Running(make_daemon(config_at(tmp_path), store, jobs_with(recorder)))
    try:
        wait_until(lambda: recorder.runs["app"] >= 2 and recorder.runs["user"] >= 2, timeout=90)
    finally:
        assert 0 == running.stop()

    assert 1 == recorder.max_active["app"] == recorder.max_active["user"]
    assert 2 == recorder.max_total


def test_invalid_reload_keeps_the_running_configuration(tmp_path: Path, store: Store) -> None:
    """A reload that fails validation changes nothing, logs every problem, and says READY."""
    notify = NotifySocket()
    recorder = Recorder()

    def broken(path: Path) -> Config:
        raise ConfigError(path, [Problem("identities.app.kind", "a kind", "nothing")])

    config = config_at(tmp_path)
    daemon = make_daemon(
        config,
        store,
        jobs_with(recorder),
        notifier=Notifier({"NOTIFY_SOCKET": notify.name}),
        load=broken,
    )
    running = Running(daemon)
    try:
        with structlog.testing.capture_logs() as logs:
            assert not daemon.reload()
        runs_before = recorder.runs["app"]
        wait_until(lambda: recorder.runs["app"] > runs_before + 2)
        refused = [e for e in logs if e["event"].startswith("reload refused")]
        assert ["identities.app.kind: expected a kind, found nothing"] == refused[0]["problems"]
        assert notify.with_key("RELOADING", "1")
        assert 2 == len(notify.with_key("READY", "1"))
    finally:
        running.stop()
        notify.close()


def test_a_reload_that_fails_unexpectedly_keeps_the_daemon_running(
    tmp_path: Path, store: Store
) -> None:
    """A loader that raises something other than a configuration error (a bug, memory) is
    logged and refused like an invalid file: the daemon keeps running its jobs."""
    recorder = Recorder()

    def failing(path: Path) -> Config:
        raise MemoryError

    daemon = make_daemon(config_at(tmp_path), store, jobs_with(recorder), load=failing)
    running = Running(daemon)
    try:
        with structlog.testing.capture_logs() as logs:
            assert not daemon.reload()
        runs_before = recorder.runs["app"]
        wait_until(lambda: recorder.runs["app"] > runs_before + 2)
    finally:
        assert 0 == running.stop()

    refused = [e for e in logs if e["event"].startswith("reload refused")]
    assert "MemoryError" == refused[0]["error"]


def test_reload_adds_and_removes_identity_jobs(tmp_path: Path, store: Store) -> None:
    """After a reload without 'user', only 'app' keeps being run; a new interval applies."""
    recorder = Recorder()
    config = config_at(tmp_path)
    smaller = dataclasses.replace(config, identities={"app": config.identities["app"]})
    daemon = make_daemon(config, store, jobs_with(recorder), load=lambda _path: smaller)
    running = Running(daemon)
    try:
        wait_until(lambda: recorder.runs["user"] >= 1)
        assert daemon.reload()
        time.sleep(0.2)  # a run queued just before the reload may still finish
        user_runs = recorder.runs["user"]
        app_runs = recorder.runs["app"]
        time.sleep(0.5)
        assert user_runs == recorder.runs["user"]
        assert recorder.runs["app"] > app_runs
    finally:
        running.stop()


def test_stop_waits_for_a_running_job(tmp_path: Path, store: Store) -> None:
    """SIGTERM-style stop lets a running job finish within the stop timeout."""
    recorder = Recorder(seconds=0.5)
    running = Running(make_daemon(config_at(tmp_path), store, jobs_with(recorder, 0.05)))
    wait_until(lambda: sum(recorder.active.values()) > 0)

    assert 0 == running.stop()
    assert 0 == sum(recorder.active.values())


def test_stop_abandons_a_job_at_the_stop_timeout(tmp_path: Path, store: Store) -> None:
    """A job that does not end is abandoned after stop_timeout_seconds; stop still returns 0."""
    recorder = Recorder()
    recorder.release.clear()
    config = config_at(tmp_path, stop_timeout_seconds=0.5)
    running = Running(make_daemon(config, store, jobs_with(recorder)))
    wait_until(lambda: sum(recorder.active.values()) > 0)
    started = time.monotonic()
    try:
        with structlog.testing.capture_logs() as logs:
            assert 0 == running.stop()
        assert time.monotonic() - started < 3
        assert any(e["event"].startswith("abandoning running jobs") for e in logs)
    finally:
        recorder.release.set()


def test_watchdog_pings_only_while_the_scheduler_beats(tmp_path: Path, store: Store) -> None:
    """Pings flow while healthy; after the scheduler is paused (the stall hook) they stop."""
    notify = NotifySocket()
    notifier = Notifier({"NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "1000000"})
    daemon = make_daemon(config_at(tmp_path), store, jobs_with(Recorder(), 10), notifier=notifier)
    running = Running(daemon)
    try:
        wait_until(lambda: len(notify.with_key("WATCHDOG")) >= 3)
        assert daemon.healthy()
        daemon._on_stall_signal(0, None)
        wait_until(lambda: not daemon.healthy(), timeout=5)
        stalled_at = time.monotonic()
        time.sleep(1.2)
        late = [m for m in notify.with_key("WATCHDOG") if m.at > stalled_at + 0.1]
        assert [] == late
    finally:
        running.stop()
        notify.close()


def test_a_failing_job_is_logged_and_the_scheduler_goes_on(tmp_path: Path, store: Store) -> None:
    """An exception in a job is one error line with its type; later runs still happen."""
    calls: Counter[str] = Counter()

    def failing(ctx: JobContext) -> None:
        calls["x"] += 1
        raise RuntimeError("boom")

    with structlog.testing.capture_logs() as logs:
        running = Running(make_daemon(config_at(tmp_path), store, jobs_with(failing)))
        try:
            wait_until(lambda: calls["x"] >= 4)
        finally:
            running.stop()

    failed = [e for e in logs if e["event"] == "job failed"]
    assert failed
    assert "RuntimeError" == failed[0]["error"]


class _NoSpread(random.Random):
    """First runs planned at the very moment of planning (the spread's lower end)."""

    def uniform(self, a: float, b: float) -> float:
        return a


def test_a_first_run_planned_for_now_is_not_pushed_back_an_interval(
    tmp_path: Path, store: Store
) -> None:
    """A first run that is already (just) past when the scheduler starts runs at once; the
    trigger alone would move it a whole interval later, so that identity would miss a cycle."""
    runs = Recorder()
    config = config_at(tmp_path)
    daemon = Daemon(
        config,
        store,
        fingerprint_key=b"k" * 32,
        config_path=config.source,
        notifier=Notifier({}),
        jobs=jobs_with(runs, interval=3600),
        rng=_NoSpread(),
    )
    time.sleep(0.05)  # planning happens at start; make sure the scheduler's "now" is later
    running = Running(daemon)
    try:
        wait_until(lambda: len(runs.runs) == len(config.identities), timeout=10)
    finally:
        assert 0 == running.stop()
