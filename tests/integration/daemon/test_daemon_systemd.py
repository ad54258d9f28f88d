"""``monitor run`` speaking sd_notify to a real datagram socket, against the simulator."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from support.daemon import (
    FAST_SCHEDULE,
    DaemonProcess,
    NotifySocket,
    append_config,
    count_rows,
    probe_events,
    wait_until,
)
from support.deployment import Deployment

from monitor.simulator import Simulator


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def test_ready_comes_before_the_first_result(
    deployment: Deployment, sim: Simulator, notify: NotifySocket
) -> None:
    """READY=1 follows configuration, database and credentials, not the (slow) first probe."""
    sim.set_fault("token", "slow", seconds=2)
    with DaemonProcess(deployment, notify=notify) as daemon:
        ready = notify.wait_for("READY", "1")
        results_at_ready = count_rows(deployment.database, "probe_result")
        wait_until(lambda: count_rows(deployment.database, "probe_result") > 0, timeout=30)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    assert 0 == results_at_ready
    assert ready.fields["STATUS"].startswith("3 identities scheduled")


def test_watchdog_pings_stop_when_the_scheduler_stalls(
    deployment: Deployment, notify: NotifySocket
) -> None:
    """WATCHDOG=1 flows while healthy; the SIGUSR2 test hook stalls the scheduler and the
    pings stop; SIGTERM still stops the daemon cleanly with STOPPING=1."""
    with DaemonProcess(deployment, notify=notify, watchdog_seconds=1) as daemon:
        notify.wait_for("READY", "1")
        wait_until(lambda: len(notify.with_key("WATCHDOG", "1")) >= 4)
        daemon.signal(signal.SIGUSR2)
        stalled = daemon.wait_for_event(
            "scheduler stalled: no heartbeat; withholding the systemd watchdog ping"
        )
        stalled_at = time.monotonic()
        time.sleep(1.5)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    late_pings = [m for m in notify.with_key("WATCHDOG", "1") if m.at > stalled_at]
    assert [] == late_pings
    assert stalled["level"] == "error"
    stopping = notify.wait_for("STOPPING", "1")
    assert stopping.at > stalled_at


def test_stopping_is_sent_on_sigterm(deployment: Deployment, notify: NotifySocket) -> None:
    """SIGTERM: STOPPING=1 first, then the process exits 0 after its jobs ended."""
    with DaemonProcess(deployment, notify=notify) as daemon:
        notify.wait_for("READY", "1")
        daemon.wait_for_event("probe")
        time.sleep(2)  # evaluate and dispatch run every second in the test schedule
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
        events = [e["event"] for e in daemon.events()]

    notify.wait_for("STOPPING", "1")
    assert "job failed" not in events  # probe, evaluate, dispatch, retention, heartbeat all ran
    assert events.index("stopping") < events.index("stopped")
    assert "stopped" == events[-1]


def test_invalid_configuration_at_start_exits_78_without_ready(
    deployment: Deployment, notify: NotifySocket
) -> None:
    """A configuration error is EX_CONFIG (78), so RestartPreventExitStatus=78 stops a loop."""
    append_config(deployment, "\n[schedule.identities.nobody]\nprobe_interval_seconds = 60\n")
    with DaemonProcess(deployment, notify=notify) as daemon:
        assert 78 == daemon.wait()
        output = daemon.text()

    assert "schedule.identities.nobody" in output
    assert [] == notify.with_key("READY")


def test_status_line_counts_probes(
    deployment: Deployment, sim: Simulator, notify: NotifySocket
) -> None:
    """STATUS= is refreshed with the number of probes and failures: with the client secret
    revoked, its two identity/environment pairs are counted as not ok."""
    from support.deployment import APP_SECRET, SECRET_APP

    sim.revoke_secret(SECRET_APP, APP_SECRET)
    counted = re.compile(
        r"3 identities scheduled; [1-9][0-9]* probes since start; "
        r"2 identity/environment pairs not ok; last probe [0-9-]+ [0-9:]+ UTC"
    )
    with DaemonProcess(deployment, notify=notify) as daemon:
        wait_until(
            lambda: any(counted.fullmatch(m.fields.get("STATUS", "")) for m in notify.snapshot()),
            timeout=30,
        )
        # The probe line follows the commit of the result writer's window (5 s).
        wait_until(lambda: bool(probe_events(daemon.events())), timeout=15)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()


def test_a_revoked_secret_becomes_an_incident(deployment: Deployment, sim: Simulator) -> None:
    """The evaluate job turns the daemon's probe results into incidents, as `monitor check`
    does: a revoked secret opens a critical incident for its identity."""
    from support.deployment import APP_SECRET, SECRET_APP

    sim.revoke_secret(SECRET_APP, APP_SECRET)

    def incident_levels() -> list[str]:
        if count_rows(deployment.database, "incident") == 0:
            return []
        with sqlite3.connect(f"file:{deployment.database}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT level FROM incident WHERE identity = 'app-secret'"
            ).fetchall()
        return [row[0] for row in rows]

    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe", lambda e: e["identity"] == "app-secret")
        wait_until(lambda: "critical" in incident_levels(), timeout=30)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
        events = [e["event"] for e in daemon.events()]

    assert "job failed" not in events


def test_a_secret_revoked_while_all_is_quiet_opens_an_incident_at_once(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """Once every pair has been "ok" long enough, quiet minutes skip the evaluation; a failure
    still makes the next tick evaluate (the hourly full evaluation is not what catches it)."""
    from support.deployment import APP_SECRET, SECRET_APP, write_deployment

    deployment = write_deployment(
        tmp_path / "deployment",
        sim,
        certificate[0],
        environments=("e2e-prod",),
        deadline_seconds=3,
    )
    append_config(
        deployment,
        FAST_SCHEDULE.replace(
            "stop_timeout_seconds = 10",
            "stop_timeout_seconds = 10\nfull_evaluation_interval_seconds = 3600",
        ),
    )

    def critical() -> bool:
        if count_rows(deployment.database, "incident") == 0:
            return False
        with sqlite3.connect(f"file:{deployment.database}?mode=ro", uri=True) as connection:
            return bool(
                connection.execute(
                    "SELECT count(*) FROM incident WHERE identity = 'app-secret' "
                    "AND level = 'critical'"
                ).fetchone()[0]
            )

    with DaemonProcess(deployment) as daemon:
        # Settled: more ok results in a row than resolve_after_successes (2).
        wait_until(
            lambda: sum(e["identity"] == "app-secret" for e in probe_events(daemon.events())) >= 4,
            timeout=30,
        )
        assert not critical()
        sim.revoke_secret(SECRET_APP, APP_SECRET)
        revoked = time.monotonic()
        wait_until(critical, timeout=30)
        took = time.monotonic() - revoked
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
    assert took < 20  # the next probe, the writer's window (5 s) and the next tick (1 s)
