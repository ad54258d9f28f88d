"""The real CLI in a subprocess against hostile servers: an SMTP tarpit behind an alert channel,
an identity provider that echoes the credential back re-encoded."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import APP_SECRET, PUBLIC_APP, SECRET_APP, USER_UPN, write_deployment
from support.notify.alerting import write_deployment as write_alerting_deployment
from support.notify.receivers import TarpitServer

from monitor.secrets import MASK
from monitor.simulator import Simulator
from monitor.simulator.entra import echo_encode
from monitor.simulator.faults import ECHO_ENCODINGS

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


# Characters that every encoding changes: a space, +, /, &, <, >, quotes, ~, a non-ASCII letter.
ECHO_SECRET = "Echo Secret+/&<'\"~>é-Vx8Q7kPq9Z"
ECHO_PASSWORD = "Echo Pass word+/&<é~9hG2kL"


def echoed_forms(value: str, encoding: str, client_id: str) -> list[str]:
    """Return what must not appear anywhere: the value and the echo of it (for base64, the
    characters that carry only the value's bits)."""
    forms = [value, echo_encode(value, encoding, client_id=client_id)]
    if encoding == "base64":
        prefix = f"{client_id}:".encode()
        padded = base64.b64encode(prefix + value.encode() + b"\0\0").decode()
        forms.append(
            padded[-(-len(prefix) * 8 // 6) : (len(prefix) + len(value.encode())) * 8 // 6]
        )
    return forms


@pytest.mark.parametrize("encoding", ECHO_ENCODINGS)
def test_an_echoed_credential_reaches_no_output_log_or_database(
    tmp_path: Path, sim: Simulator, certificate: Certificate, encoding: str
) -> None:
    """The token endpoint echoes the client secret and the password back (raw, upper- and
    lower-case percent-encoded, form-encoded, as HTML references, as JSON \\u escapes, in
    base64 after the client id): neither appears in `check` output (text and JSON), its debug
    log, or the database files; the echo did reach the monitor (it was masked)."""
    deployment = write_deployment(
        tmp_path,
        sim,
        certificate[0],
        identities=["app-secret", "user-password"],
        app_secret=ECHO_SECRET,
        password=ECHO_PASSWORD,
    )
    sim.set_fault("token", "echo", encoding=encoding, client_id=SECRET_APP)
    sim.set_fault("token", "echo", encoding=encoding, username=USER_UPN)

    runs = [deployment.run("-vv", "check"), deployment.run("-vv", "check", "--json")]

    output = "".join(run.stdout + run.stderr for run in runs)
    haystack = output.encode()
    for path in deployment.database.parent.rglob("*"):
        if path.is_file():  # the database, its WAL, the key, the sign-in locks
            haystack += path.read_bytes()
    forbidden = [
        *echoed_forms(ECHO_SECRET, encoding, SECRET_APP),
        *echoed_forms(ECHO_PASSWORD, encoding, PUBLIC_APP),
    ]
    for form in forbidden:
        assert form.encode() not in haystack, f"{form[:12]}... leaked"
    assert MASK in output
    assert all(run.returncode in (1, 2, 3) for run in runs), [r.stderr for r in runs]
