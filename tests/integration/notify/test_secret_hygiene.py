"""No secret in any message, log line, database byte or report of the alerting path.

Sentinel values stand for a Teams workflow signature, an SMTP password, a heartbeat token and
an identity's client secret. Every path runs at DEBUG: delivery, a failing channel (whose error
text could echo the URL), dead letters and the fallback notice, the test notice and the
heartbeat. The receivers see the signature in the request URL, as they must; it appears in no
message body.
"""

from __future__ import annotations

import base64
import io
import logging
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from support.notify.alerting import (
    SENTINEL_HEARTBEAT,
    SENTINEL_SIG,
    SENTINEL_SMTP_PASSWORD,
    SENTINELS,
    T0,
    finding,
    write_deployment,
)
from support.notify.receivers import HttpsReceiver, SmtpReceiver, free_port

from monitor.incidents.evaluate import evaluate_findings
from monitor.logsetup import PINNED_LOGGERS, configure_logging
from monitor.model.findings import FindingKind, Level
from monitor.notify.dispatch import dispatch
from monitor.notify.heartbeat import ping_heartbeat
from monitor.notify.testsend import send_test


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything logged (ours and apprise's, at DEBUG) as JSON lines; logging restored after."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers = list(root.handlers)
    touched = ("", *PINNED_LOGGERS, "apscheduler.executors")
    levels = {name: logging.getLogger(name).level for name in touched}
    configure_logging("debug", json=True, stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()


def forms(secret: str) -> list[str]:
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ]


def test_sentinel_secrets_appear_in_no_message_log_or_database(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver, log_stream: io.StringIO
) -> None:
    """Deliver, fail, dead-letter, fall back, test and ping with sentinel secrets configured;
    search every message received, the whole log and the raw database files."""
    closed = free_port()
    deployment = write_deployment(
        tmp_path,
        alerts="""
[alerts]
heartbeat_url = { credential = "heartbeat-url" }

[alerts.delivery]
give_up_after_minutes = 5
""",
        channels=[
            {
                "name": "ops-teams",
                "urls": [teams.workflows_url(SENTINEL_SIG)],
                "fallback": "ops-email",
            },
            {
                "name": "ops-email",
                "urls": [
                    mailbox.url(),
                    f"mailtos://alerts:{SENTINEL_SMTP_PASSWORD}@127.0.0.1:{closed}/"
                    "?from=monitor@example.com&to=ops@example.com",
                ],
            },
        ],
    )
    (deployment.credentials / "heartbeat-url").write_text(teams.heartbeat_url(SENTINEL_HEARTBEAT))
    (deployment.credentials / "heartbeat-url").chmod(0o600)
    (tmp_path / "ca.pem").write_bytes(teams.ca_file.read_bytes())
    with deployment.config_path.open("a") as file:
        file.write(f'\n[network]\nca_bundle = "{tmp_path / "ca.pem"}"\n')
    config = deployment.load()
    teams.answer(default=500)
    broken = finding(
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        summary="the credential was rejected",
        subject_id="probe",
    )
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken, finding(deadline=T0 + timedelta(days=6))], T0)
        for minutes in range(0, 8):
            dispatch(store, config, T0 + timedelta(minutes=minutes))
        evaluate_findings(store, config, [], T0 + timedelta(minutes=9))
        dispatch(store, config, T0 + timedelta(minutes=9))
        teams.answer(default=202)
        results = send_test(config, [], datetime.now(UTC))
        assert ping_heartbeat(config) is True
        outbox = store.alerting.outbox()
        attempts = store.alerting.delivery_attempts()

    assert "dead" in {row.status for row in outbox}  # Teams gave up; the fallback was told
    assert any(row.event == "channel_failing" and row.delivered_urls for row in outbox)
    assert any(not r.delivered for r in results)  # the closed SMTP port
    assert any(a.error == "connection failed" for a in attempts)
    assert teams.received(path_part=SENTINEL_HEARTBEAT)  # the heartbeat did arrive

    haystacks = {
        "log": log_stream.getvalue(),
        "bodies": "\n".join(r.body.decode() for r in teams.requests),
        "mails": "\n".join(m.raw.decode(errors="replace") for m in mailbox.messages),
        "outbox": "\n".join(f"{r.notice} {r.last_error}" for r in outbox),
        "attempts": "\n".join(str(a.error) for a in attempts),
        "test results": "\n".join(f"{r.url} {r.error}" for r in results),
        "database": b"".join(
            path.read_bytes() for path in deployment.database.parent.iterdir()
        ).decode("latin-1"),
    }
    assert len(haystacks["log"]) > 1000
    assert mailbox.messages
    for secret in SENTINELS:
        for form in forms(secret):
            for name, text in haystacks.items():
                assert form not in text, f"{secret} leaked into {name}"
