"""The heartbeat URL: pinged after a cycle through the monitor's own HTTPS session (the configured
CA bundle, never the environment), failures reported and never raised."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.notify.alerting import SENTINEL_HEARTBEAT, T0, write_deployment
from support.notify.receivers import HttpsReceiver

from monitor.config import Config
from monitor.notify.heartbeat import ping_heartbeat
from monitor.pipeline import steps
from monitor.pipeline.steps import CycleContext


def with_heartbeat(tmp_path: Path, url: str, ca: Path | None) -> Config:
    deployment = write_deployment(
        tmp_path, alerts='[alerts]\nheartbeat_url = { credential = "heartbeat-url" }\n'
    )
    secret = deployment.credentials / "heartbeat-url"
    secret.write_text(url)
    secret.chmod(0o600)
    if ca is not None:
        with deployment.config_path.open("a") as file:
            file.write(f'\n[network]\nca_bundle = "{ca}"\n')
    return deployment.load()


def test_ping_reaches_the_receiver_over_verified_tls(
    tmp_path: Path, teams: HttpsReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With network.ca_bundle naming the receiver's CA the ping succeeds, even with
    REQUESTS_CA_BUNDLE removed: the monitor's session ignores the environment."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    config = with_heartbeat(tmp_path, teams.heartbeat_url(SENTINEL_HEARTBEAT), teams.ca_file)
    assert ping_heartbeat(config) is True
    assert ["GET"] == [r.method for r in teams.received(path_part="/ping/")]


def test_ping_failures_are_reported_not_raised(tmp_path: Path, teams: HttpsReceiver) -> None:
    """An untrusted certificate (no ca_bundle) and a 500 both give False."""
    untrusted = with_heartbeat(tmp_path / "a", teams.heartbeat_url(SENTINEL_HEARTBEAT), None)
    assert ping_heartbeat(untrusted) is False
    trusted = with_heartbeat(tmp_path / "b", teams.heartbeat_url(SENTINEL_HEARTBEAT), teams.ca_file)
    teams.answer([500])
    assert ping_heartbeat(trusted) is False


def test_no_heartbeat_configured_and_cycle_integration(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """Without a URL nothing is pinged (None); the cycle's heartbeat step pings a configured
    one, after an evaluation and a delivery with nothing to do."""
    assert ping_heartbeat(write_deployment(tmp_path / "none").load()) is None
    config = with_heartbeat(tmp_path / "c", teams.heartbeat_url(SENTINEL_HEARTBEAT), teams.ca_file)
    from monitor.store import Store

    with Store.open(config.database.path) as store:
        context = CycleContext.build(config, store, fingerprint_key=bytes(32))
        evaluation = steps.evaluate(context, T0)
        delivered = steps.dispatch(context, T0)
        pinged = steps.ping_heartbeat(context)
    assert (True, (), 0) == (pinged, evaluation.transitions, len(delivered.deliveries))


def test_the_daemon_pings_only_while_probe_passes_finish(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """The daemon's evaluate job pings the heartbeat URL while passes finish, and stops pinging
    when none has finished within the pass window (a scheduler that runs but no longer probes
    must look dead to a dead man's switch); it pings again after the next pass."""
    from datetime import timedelta

    from monitor.daemon.jobs import JOBS, JobContext
    from monitor.daemon.status import DaemonStatus
    from monitor.store import Store

    config = with_heartbeat(tmp_path, teams.heartbeat_url(SENTINEL_HEARTBEAT), teams.ca_file)
    status = DaemonStatus(identities=1)
    with Store.open(config.database.path) as store:
        context = JobContext(
            cycle=CycleContext.build(config, store, fingerprint_key=bytes(32), clock=lambda: T0),
            status=status,
        )
        JOBS["evaluate"].run(context)  # just started: passes are not overdue yet
        status.pass_window_seconds = 0.0  # from now on, every pass is overdue
        JOBS["evaluate"].run(context)
        pings_while_stalled = len(teams.received(path_part="/ping/"))
        status.record_pass([], T0 + timedelta(minutes=1))
        status.pass_window_seconds = 60.0
        JOBS["evaluate"].run(context)

    assert (1, 2) == (pings_while_stalled, len(teams.received(path_part="/ping/")))
