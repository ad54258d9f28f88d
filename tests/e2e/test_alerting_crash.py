"""kill -9 in the middle of a send: the notice is delivered after a restart, nothing is lost.

The real CLI (``monitor notify flush``) sends to a Teams receiver that holds the request open;
the test kills the process with SIGKILL while the request is in flight, then runs the command
again once the row's lease has expired. Delivery is at least once: the receiver may have seen the
first request too, and both carry the incident id.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.notify.alerting import SENTINEL_SIG, finding, write_deployment
from support.notify.receivers import HttpsReceiver, card_text

from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import FindingKind, Level

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 1


@pytest.fixture
def teams(tmp_path: Path) -> Iterator[HttpsReceiver]:
    receiver = HttpsReceiver(tmp_path / "receiver").start()
    try:
        yield receiver
    finally:
        receiver.stop()


def test_kill_9_during_a_send_is_delivered_after_restart(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """SIGKILL while Teams holds the request: the row stays claimed, comes back after its
    lease, and the next run delivers it; the incident's notice is not lost."""
    deployment = write_deployment(
        tmp_path / "deploy",
        channels=[{"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]}],
        alerts=f"[alerts.delivery]\nlease_seconds = {LEASE_SECONDS}\n",
    )
    config = deployment.load()
    broken = finding(
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        summary="the credential was rejected",
        subject_id="probe",
        observed_at=datetime.now(UTC),
    )
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken], datetime.now(UTC))
        label = store.alerting.incidents()[0].label

    command = [sys.executable, "-m", "monitor", "--config", str(deployment.config_path)]
    teams.hold_requests()
    sender = subprocess.Popen(
        [*command, "notify", "flush"],
        env=deployment.env(teams.env()),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert teams.arrived.wait(60), "the sender never reached the receiver"
        sender.send_signal(signal.SIGKILL)
        assert -signal.SIGKILL == sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    teams.release()

    with deployment.open_store() as store:
        row = store.alerting.outbox()[0]
    assert ("sending", 1) == (row.status, row.attempts)

    time.sleep(LEASE_SECONDS + 0.2)
    rerun = subprocess.run(
        [*command, "notify", "flush"],
        env=deployment.env(teams.env()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert 0 == rerun.returncode, rerun.stderr
    assert "1 notices recovered from a sender that stopped" in rerun.stdout
    with deployment.open_store() as store:
        row = store.alerting.outbox()[0]
        attempts = store.alerting.delivery_attempts(row.id)
    assert ("sent", 2) == (row.status, row.attempts)
    assert [True] == [a.ok for a in attempts]  # the killed try left no attempt row
    titles = [card_text(card).splitlines()[0] for card in teams.accepted_cards()]
    assert 2 == len(titles)  # at least once: the killed send may have arrived as well
    assert all(title.startswith(f"[{label}] CRITICAL") for title in titles)
