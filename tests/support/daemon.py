"""Helpers for the daemon tests: a real sd_notify datagram socket, and ``monitor run`` in a
subprocess with its JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config.model import (
    Config,
    DatabaseConfig,
    EnvironmentConfig,
    IdentityConfig,
    NetworkConfig,
    ProbingConfig,
    ScheduleConfig,
    TenantConfig,
)
from monitor.secrets import Secret
from support.deployment import Deployment

# A schedule for tests: every identity every second, no jitter, passwords too.
FAST_SCHEDULE = """
[schedule]
probe_interval_seconds = 1
probe_jitter_seconds = 0
password_probe_interval_seconds = 1
heartbeat_interval_seconds = 0.2
evaluate_interval_seconds = 1
dispatch_interval_seconds = 1
stop_timeout_seconds = 10
"""


@dataclass(frozen=True)
class Message:
    """One datagram received on the notify socket: when (monotonic) and its KEY=VALUE lines."""

    at: float
    fields: dict[str, str]


class NotifySocket:
    """An AF_UNIX datagram socket in the abstract namespace, as systemd's ``NOTIFY_SOCKET``."""

    def __init__(self) -> None:
        self.name = f"@monitor-test-{uuid.uuid4().hex}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.name[1:])
        self._sock.settimeout(0.1)
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append(Message(time.monotonic(), fields))

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def with_key(self, key: str, value: str | None = None) -> list[Message]:
        return [
            m
            for m in self.snapshot()
            if key in m.fields and (value is None or m.fields[key] == value)
        ]

    def wait_for(self, key: str, value: str | None = None, timeout: float = 20) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.with_key(key, value)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no {key}={value or '*'} within {timeout} s: {self.snapshot()}")

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        self._thread.join(timeout=2)


class DaemonProcess:
    """``monitor --config CONFIG run`` in a subprocess, logging JSON lines to a file."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        notify: NotifySocket | None = None,
        watchdog_seconds: float | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.deployment = deployment
        self.log_path = deployment.root / f"daemon-{uuid.uuid4().hex[:8]}.log"
        env = deployment.env(extra_env)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if notify is not None:
            env["NOTIFY_SOCKET"] = notify.name
        if watchdog_seconds is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog_seconds * 1_000_000))
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(deployment.config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.returncode is not None:
                self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()

    def text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """Return every JSON log line written so far (other lines are skipped)."""
        events: list[dict[str, Any]] = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut by kill -9
        return events

    def wait_for_event(
        self,
        event: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _e: True,
        timeout: float = 30,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.events():
                if item.get("event") == event and predicate(item):
                    return item
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} log event within {timeout} s; log:\n{self.text()}")

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def append_config(deployment: Deployment, text: str) -> None:
    """Append TOML *text* to the deployment's configuration file."""
    with deployment.config.open("a", encoding="utf-8") as file:
        file.write(text)


def probe_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "probe"]


def wait_until(condition: Callable[[], bool], timeout: float = 20, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def config_path(deployment: Deployment) -> Path:
    return deployment.config


def make_config(schedule: ScheduleConfig | None = None) -> Config:
    """Return a configuration with one application and one password identity."""
    tenant = TenantConfig(
        "t", "00000000-0000-4000-8000-000000000001", "public", "https://a", "https://g"
    )
    return Config(
        source=Path("/etc/monitor/monitor.toml"),
        network=NetworkConfig(),
        probing=ProbingConfig(),
        database=DatabaseConfig(Path("/tmp/x.db")),
        tenants={"t": tenant},
        environments={"e": EnvironmentConfig("e", "t", "https://e")},
        identities={
            "app": IdentityConfig(
                "app", "application", "t", "c1", ("e",), secret=Secret("s", "inline")
            ),
            "user": IdentityConfig(
                "user",
                "user",
                "t",
                "c2",
                ("e",),
                username="u@x.example",
                password=Secret("p", "inline"),
            ),
        },
        schedule=schedule or ScheduleConfig(),
    )


def count_rows(database: Path, table: str) -> int:
    """Return the row count of *table* (0 if the database or table does not exist yet)."""
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        try:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
        except sqlite3.OperationalError:
            return 0


def check_consistency(database: Path) -> None:
    """Assert integrity_check is ok and every run's counters match its stored results."""
    with sqlite3.connect(database, timeout=5) as connection:
        assert "ok" == connection.execute("PRAGMA integrity_check").fetchone()[0]
        assert [] == connection.execute("PRAGMA foreign_key_check").fetchall()
        mismatched = connection.execute(
            "SELECT run.run_id, run.probes, count(probe_result.id) FROM run "
            "LEFT JOIN probe_result ON probe_result.run_id = run.id "
            "GROUP BY run.id HAVING run.probes != count(probe_result.id)"
        ).fetchall()
        assert [] == mismatched
