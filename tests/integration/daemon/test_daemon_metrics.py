"""The daemon serves its metrics endpoint on [metrics] listen while it runs, closes it when it
stops, runs on without it when the port is taken, and serves nothing when it is turned off."""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from support.daemon import make_config, wait_until

from monitor.config.model import DatabaseConfig, JobTiming, MetricsConfig, ScheduleConfig
from monitor.daemon import Daemon, Notifier
from monitor.daemon.jobs import JOBS, JobSpec
from monitor.daemon.service import _QUIET_LOGGERS
from monitor.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def _restore_logger_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_for(store: Store, metrics: MetricsConfig) -> Daemon:
    """A daemon with a heartbeat and an idle stand-in probe job (no network)."""
    config = dataclasses.replace(
        make_config(ScheduleConfig(intervals={"heartbeat": 0.2})),
        database=DatabaseConfig(Path("/nonexistent/elsewhere.db")),  # the store's path counts
        metrics=metrics,
    )
    idle = JobSpec(JobTiming("stand-in probe", "identity", 3600, 0), lambda ctx: None, "probes")
    return Daemon(
        config,
        store,
        fingerprint_key=b"k" * 32,
        config_path=config.source,
        notifier=Notifier({}),
        jobs={"probe": idle, "heartbeat": JOBS["heartbeat"]},
    )


def get(port: int, path: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def test_the_endpoint_lives_as_long_as_the_daemon(store: Store) -> None:
    """While the daemon runs /healthz is ok and /metrics reads the daemon's own database;
    after the stop nothing listens."""
    port = free_port()
    daemon = daemon_for(store, MetricsConfig(f"127.0.0.1:{port}", "127.0.0.1", port))
    daemon.start(install_signals=False)
    serving = threading.Thread(target=daemon.serve, daemon=True)
    serving.start()
    try:
        wait_until(lambda: get(port, "/healthz") == (200, "ok\n"), timeout=10)
        status, text = get(port, "/metrics")
    finally:
        daemon.request_stop("test")
        serving.join(10)

    assert 200 == status
    assert "monitor_database_read_success 1.0" in text
    assert "monitor_identities 2.0" in text
    with pytest.raises(urllib.error.URLError):
        get(port, "/healthz")


def test_a_taken_port_is_logged_and_the_daemon_runs_on(store: Store) -> None:
    """Another process on the port: an error line naming the address, no endpoint, and the
    scheduler still beats."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        daemon = daemon_for(store, MetricsConfig(f"127.0.0.1:{port}", "127.0.0.1", port))
        with structlog.testing.capture_logs() as logs:
            daemon.start(install_signals=False)
        try:
            wait_until(daemon.healthy, timeout=10)
        finally:
            daemon.request_stop("test")
            daemon.stop()

    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert [f"127.0.0.1:{port}"] == [entry["listen"] for entry in errors]
    assert errors[0]["event"].startswith("metrics endpoint not served")


def test_an_empty_listen_serves_nothing(store: Store) -> None:
    """listen = "" starts no server (and says so at start)."""
    daemon = daemon_for(store, MetricsConfig(listen=None))
    with structlog.testing.capture_logs() as logs:
        daemon.start(install_signals=False)
    daemon.request_stop("test")
    daemon.stop()

    assert ["metrics endpoint turned off ([metrics] listen is empty)"] == [
        entry["event"] for entry in logs if entry["event"].startswith("metrics endpoint")
    ]
