"""The alerting commands through the real CLI in a subprocess, with real apprise delivering to
real receivers on loopback: ``notify test``, ``notify flush`` / ``outbox``, ``silence``, ``ack``;
and no secret in anything they print, even at -vv."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.notify.alerting import (
    SENTINEL_SIG,
    SENTINEL_SMTP_PASSWORD,
    SENTINELS,
    AlertingDeployment,
    finding,
    write_deployment,
)
from support.notify.receivers import HttpsReceiver, SmtpReceiver, card_text, free_port

from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import FindingKind, Level

pytestmark = pytest.mark.e2e


@pytest.fixture
def teams(tmp_path: Path) -> Iterator[HttpsReceiver]:
    receiver = HttpsReceiver(tmp_path / "receiver").start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def mailbox() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def deployment(tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver) -> AlertingDeployment:
    return write_deployment(
        tmp_path / "deploy",
        channels=[
            {
                "name": "ops-teams",
                "urls": [teams.workflows_url(SENTINEL_SIG)],
                "fallback": "ops-email",
            },
            {"name": "ops-email", "urls": [mailbox.url()]},
        ],
    )


def monitor(
    deployment: AlertingDeployment, teams: HttpsReceiver, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``monitor --config ... ARGS`` with the receiver's CA trusted in that process only."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(deployment.config_path), *args],
        capture_output=True,
        text=True,
        env=deployment.env(teams.env()),
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def assert_no_secret(*texts: str) -> None:
    for secret in SENTINELS:
        for text in texts:
            assert secret not in text


def broken_now() -> list:  # type: ignore[type-arg]
    return [
        finding(
            kind=FindingKind.CREDENTIAL_BROKEN,
            level=Level.CRITICAL,
            summary="the credential was rejected",
            subject_id="probe",
            observed_at=datetime.now(UTC),
        )
    ]


def test_notify_test_reports_delivery_per_url(
    deployment: AlertingDeployment, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """`monitor -vv notify test` reaches the Teams receiver and the mailbox and prints one line
    per URL without the URL's secrets."""
    done = monitor(deployment, teams, "-vv", "notify", "test")
    assert 0 == done.returncode, done.stderr
    lines = done.stdout.splitlines()
    assert 2 == len(lines)
    assert lines[0].startswith("ops-teams  url 1  workflows://127.0.0.1:")
    assert "delivered in" in lines[0]
    assert lines[1].startswith("ops-email  url 1  mailto://127.0.0.1:")
    cards = teams.accepted_cards()
    assert card_text(cards[0]).startswith("[CM-TEST] Test notice")
    assert "[CM-TEST]" in mailbox.wait_for(1)[0].subject
    assert_no_secret(done.stdout, done.stderr)


def test_notify_test_failure(tmp_path: Path, teams: HttpsReceiver) -> None:
    """A URL that cannot be reached fails with its error class (exit 1), secrets unshown."""
    closed = free_port()
    deployment = write_deployment(
        tmp_path / "deploy",
        channels=[
            {
                "name": "broken-mail",
                "urls": [
                    f"mailtos://u:{SENTINEL_SMTP_PASSWORD}@127.0.0.1:{closed}/"
                    "?from=m@example.com&to=o@example.com"
                ],
            }
        ],
    )
    failed = monitor(deployment, teams, "-vv", "notify", "test", "broken-mail")
    assert 1 == failed.returncode
    assert "FAILED: connection failed" in failed.stdout
    assert_no_secret(failed.stdout, failed.stderr)


def test_flush_delivers_the_outbox_and_outbox_lists_it(
    deployment: AlertingDeployment, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Notices queued by an evaluation go out with `notify flush`; `notify outbox` lists them."""
    config = deployment.load()
    with deployment.open_store() as store:
        evaluate_findings(store, config, broken_now(), datetime.now(UTC))
        label = store.alerting.incidents()[0].label
    flushed = monitor(deployment, teams, "notify", "flush")
    assert 0 == flushed.returncode, flushed.stderr
    assert f"ops-teams: delivered (1 notices: {label})" in flushed.stdout
    assert card_text(teams.accepted_cards()[0]).startswith(f"[{label}] CRITICAL")
    assert 1 == len(mailbox.wait_for(1))
    listed = monitor(deployment, teams, "notify", "outbox")
    assert 0 == listed.returncode
    assert "ops-email sent 1, ops-teams sent 1" in listed.stdout
    again = monitor(deployment, teams, "notify", "flush")
    assert "nothing due" in again.stdout


def test_silence_and_ack_commands(deployment: AlertingDeployment, teams: HttpsReceiver) -> None:
    """silence add / list / remove and ack through the CLI; the silence holds the notice back
    until it is removed; ack records who."""
    added = monitor(
        deployment,
        teams,
        "silence",
        "add",
        "--identity",
        "sales-sync",
        "--until",
        "2h",
        "--reason",
        "rotating the secret",
    )
    assert 0 == added.returncode, added.stderr
    assert added.stdout.startswith("silence 1: identity sales-sync until ")
    listed = monitor(deployment, teams, "silence", "list")
    assert "active" in listed.stdout
    assert "rotating the secret" in listed.stdout
    config = deployment.load()
    with deployment.open_store() as store:
        evaluate_findings(store, config, broken_now(), datetime.now(UTC))
        label = store.alerting.incidents()[0].label
        assert [] == store.alerting.outbox()
    removed = monitor(deployment, teams, "silence", "remove", "1")
    assert "silence 1 (identity sales-sync) ended" in removed.stdout
    with deployment.open_store() as store:
        evaluate_findings(store, config, broken_now(), datetime.now(UTC))
    monitor(deployment, teams, "notify", "flush")
    assert 1 == len(teams.accepted_cards())

    acked = monitor(deployment, teams, "ack", label, "--by", "carol", "--note", "on it")
    assert 0 == acked.returncode, acked.stderr
    assert acked.stdout.startswith(f"{label} acknowledged (open): sales-sync")
    with deployment.open_store() as store:
        incident = store.alerting.incidents()[0]
    assert ("carol", "on it") == (incident.acknowledged_by, incident.acknowledgement_note)
