"""SIGTERM during a slow probe, and SIGHUP with a bad then a good configuration."""

from __future__ import annotations

import signal
import sqlite3
import time

from support.daemon import DaemonProcess, check_consistency, probe_events, wait_until
from support.deployment import Deployment

from monitor.simulator import Simulator


def test_sigterm_during_a_hanging_probe_exits_cleanly(
    deployment: Deployment, sim: Simulator
) -> None:
    """The hanging probe is abandoned at its deadline and recorded as unreachable; then the
    daemon exits 0 and the database is consistent."""
    sim.set_fault("whoami", "hang")
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("daemon started")
        wait_until(lambda: len(sim_requests(sim)) > 0, timeout=20)
        time.sleep(0.5)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait(timeout=20)
        elapsed = time.monotonic() - started
        stopped = daemon.wait_for_event("stopped")

    assert elapsed < 10
    assert 0 == stopped["abandoned"]
    check_consistency(deployment.database)
    with sqlite3.connect(f"file:{deployment.database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT outcome, stage, attempted FROM probe_result").fetchall()
    # Every probe hung on WhoAmI: each result is unreachable at the deadline (the identity's
    # other environment repeats it without a new sign-in).
    assert rows
    assert {("unreachable", "deadline")} == {(outcome, stage) for outcome, stage, _ in rows}
    assert any(attempted for _, _, attempted in rows)


def sim_requests(sim: Simulator) -> list[int]:
    count = sim.request_count("whoami")
    return [count] if count else []


def test_sigterm_abandons_what_outlives_the_stop_timeout(
    deployment: Deployment, sim: Simulator
) -> None:
    """With a stop timeout shorter than the probe deadline the probe is abandoned: exit 0 at
    once, nothing half-written."""
    text = deployment.config.read_text().replace(
        "stop_timeout_seconds = 10", "stop_timeout_seconds = 0.5"
    )
    deployment.config.write_text(text)
    sim.set_fault("token", "hang")
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("daemon started")
        wait_until(lambda: sim.request_count("token") > 0, timeout=20)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait(timeout=20)
        elapsed = time.monotonic() - started
        stopped = daemon.wait_for_event("stopped")

    assert elapsed < 3
    assert stopped["abandoned"] >= 1
    check_consistency(deployment.database)


def test_sighup_with_a_bad_configuration_keeps_running(deployment: Deployment) -> None:
    """A broken file on SIGHUP is refused with its problems; probing goes on with the old
    configuration; a fixed file on the next SIGHUP is taken."""
    good = deployment.config.read_text()
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        deployment.config.write_text(good + "\n[schedule]\nprobe_interval_seconds = = 5\n")
        daemon.signal(signal.SIGHUP)
        refused = daemon.wait_for_event(
            "reload refused: the configuration is invalid; the running configuration stays"
        )
        before = len(probe_events(daemon.events()))
        wait_until(lambda: len(probe_events(daemon.events())) > before + 3, timeout=20)

        deployment.config.write_text(
            good.replace(
                "\n[identities.user-password]",
                "\n[identities.x]\n"
                'kind = "application"\ntenant = "e2e"\n'
                'client_id = "1a8f8f62-3c1b-4f6b-8d59-1f6a9a3d2b01"\n'
                'secret = { credential = "app-secret" }\n'
                'environments = ["e2e-prod"]\n'
                "\n[identities.user-password]",
            )
        )
        daemon.signal(signal.SIGHUP)
        reloaded = daemon.wait_for_event("configuration reloaded")
        daemon.wait_for_event("probe", lambda e: e["identity"] == "x")
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    assert any("valid TOML" in problem for problem in refused["problems"])
    assert (4, 1) == (reloaded["identities"], reloaded["jobs_added"])


def test_sighup_with_deeply_nested_toml_keeps_the_daemon_running(deployment: Deployment) -> None:
    """A file of 800 nested arrays (which exhausts the TOML parser's recursion) on SIGHUP is
    refused as an invalid configuration; the daemon keeps probing with the old one and stops
    cleanly."""
    good = deployment.config.read_text()
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        deployment.config.write_text(good + "\nx = " + "[" * 800 + "]" * 800 + "\n")
        daemon.signal(signal.SIGHUP)
        refused = daemon.wait_for_event(
            "reload refused: the configuration is invalid; the running configuration stays"
        )
        before = len(probe_events(daemon.events()))
        wait_until(lambda: len(probe_events(daemon.events())) > before + 3, timeout=20)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    assert [
        "(file): expected valid TOML, found arrays or inline tables nested hundreds of levels "
        "deep; hint: the monitor's configuration nests at most a few levels; check the file is "
        "the right one"
    ] == refused["problems"]
