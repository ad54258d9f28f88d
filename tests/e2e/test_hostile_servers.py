"""The real CLI in a subprocess against hostile servers: an SMTP tarpit behind an alert channel."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import APP_SECRET, SECRET_APP, write_deployment
from support.notify.alerting import write_deployment as write_alerting_deployment
from support.notify.receivers import TarpitServer

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]
SEND_TIMEOUT = 2
# Process start, imports, the probes and the database: everything but the send.
MARGIN = 8


@pytest.fixture
def tarpit() -> Iterator[TarpitServer]:
    server = TarpitServer(interval=1.0).start()
    try:
        yield server
    finally:
        server.stop()


def test_notify_test_against_a_tarpit_ends_after_the_send_timeout(
    tmp_path: Path, tarpit: TarpitServer
) -> None:
    """`monitor notify test` to an SMTP server that answers a byte a second prints the URL as
    timed out and exits 1 within the send timeout, instead of waiting for the send at exit."""
    deployment = write_alerting_deployment(
        tmp_path / "deploy",
        channels=[{"name": "ops-email", "urls": [tarpit.url()]}],
        alerts=f"[alerts.delivery]\nsend_timeout_seconds = {SEND_TIMEOUT}\n",
    )
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "--config",
            str(deployment.config_path),
            "notify",
            "test",
        ],
        capture_output=True,
        text=True,
        env=deployment.env(),
        timeout=40,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started

    assert 1 == done.returncode, done.stderr
    assert f"FAILED: timed out after {SEND_TIMEOUT} s" in done.stdout
    assert elapsed < SEND_TIMEOUT + MARGIN


def test_check_with_a_tarpit_channel_prints_and_exits_after_the_send_timeout(
    tmp_path: Path, sim: Simulator, certificate: Certificate, tarpit: TarpitServer
) -> None:
    """A revoked secret opens a critical incident whose notice goes to a tarpit: `monitor
    check` still prints its result and exits CRITICAL within the send timeout, the notice stays
    queued for a retry."""
    channel = (
        f'[[channels]]\nname = "ops-email"\nurls = ["{tarpit.url()}"]\n'
        f"[alerts.delivery]\nsend_timeout_seconds = {SEND_TIMEOUT}\n"
    )
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret"], network_extra=channel
    )
    sim.revoke_secret(SECRET_APP, APP_SECRET)

    started = time.monotonic()
    done = deployment.run("check", timeout=40)
    elapsed = time.monotonic() - started

    assert 2 == done.returncode, done.stderr
    assert done.stdout.startswith("MONITOR CRITICAL")
    assert "delivered 0 notice(s), 1 failed (retried later)" in done.stdout
    assert elapsed < SEND_TIMEOUT + MARGIN
