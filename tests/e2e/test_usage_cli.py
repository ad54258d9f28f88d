"""The real ``monitor`` CLI, over TLS, against the simulator: API usage end to end."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from support.deployment import (
    APP_SECRET,
    SECRET_APP,
    USER_PASSWORD,
    Deployment,
    write_deployment,
)
from support.usage import LICENSED_REPORT, NON_LICENSED_REPORT, report_ending

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]


def with_licences(deployment: Deployment, licences: str) -> None:
    """Declare the user identity's licences in the deployment's configuration."""
    text = deployment.config.read_text()
    marker = 'password = { credential = "user-password" }\n'
    assert marker in text
    deployment.config.write_text(text.replace(marker, marker + f"licences = {licences}\n"))


def findings(document: dict[str, Any]) -> dict[str, str]:
    return {finding["key"]: finding["level"] for finding in document["findings"]}


def test_low_headroom_and_ninety_percent_of_the_allocation_both_produce_findings(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """The application starts its service-protection window with 500 of 6,000 requests left;
    the Team Member user's integration pushes 5,400 of its 6,000. Both are warnings."""
    sim.set_member("e2e-prod", client_id=SECRET_APP, burst_remaining=500)
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret", "user-password"]
    )
    with_licences(deployment, '["DYN365_ENTERPRISE_TEAM_MEMBERS"]')

    checked = deployment.run("check")
    recorded = deployment.run(
        "usage",
        "record",
        "--identity",
        "user-password",
        "--environment",
        "e2e-prod",
        "--count",
        "5400",
    )
    shown = deployment.run("usage", "show", "--json")
    table = deployment.run("usage", "show")

    # The check itself already warns about the low headroom it just read.
    assert 1 == checked.returncode, checked.stdout + checked.stderr
    assert "API USAGE" in checked.stdout
    assert 0 == recorded.returncode, recorded.stderr
    assert 1 == shown.returncode, shown.stderr
    document = json.loads(shown.stdout)
    assert {
        "usage:e2e/app-secret/e2e-prod:headroom": "warning",
        "usage:e2e/user-password/-:allocation": "warning",
    } == findings(document)
    texts = {finding["key"]: finding["summary"] for finding in document["findings"]}
    assert texts["usage:e2e/app-secret/e2e-prod:headroom"].startswith(
        "only 499 of 6,000 requests (8.3%) were left"
    )
    assert "used 5,400 of 6,000 requests (90%)" in texts["usage:e2e/user-password/-:allocation"]
    assert 1 == table.returncode
    assert "the monitor's own requests over 1 days: 1 to Entra ID, 1 WhoAmI" in table.stdout
    assert "the monitor's own requests over 1 days: 2 to Entra ID, 1 WhoAmI" in table.stdout
    with sqlite3.connect(deployment.database) as db:
        daily = db.execute(
            "SELECT identity, requests, allocation, source FROM usage_daily"
        ).fetchall()
    assert [("user-password", 5400, 6000, "integration")] == daily


def test_retry_after_is_honoured_across_runs_and_repeated_429s_are_critical(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """WhoAmI answers 429 with Retry-After 300: the next check sends no request as that
    identity to that environment. With Retry-After 1, a second 429 a second later is
    critical."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    sim.set_fault("whoami", "throttle_429", retry_after=300, client_id=SECRET_APP)

    first = deployment.run("check", "--json")
    second = deployment.run("check", "--json")

    # Throttled probes could not verify (UNKNOWN), and the 429 is a usage warning: WARNING.
    assert (1, 1) == (first.returncode, second.returncode)
    (held,) = json.loads(second.stdout)["results"]
    assert (False, "throttled") == (held["attempted"], held["outcome"])
    assert 1 == sim.request_count(family="whoami", client_id=SECRET_APP)
    assert 1 == sim.request_count(family="token", client_id=SECRET_APP)
    shown = deployment.run("usage", "show", "--json")
    assert {"usage:e2e/app-secret/e2e-prod:throttled": "warning"} == findings(
        json.loads(shown.stdout)
    )

    other = write_deployment(tmp_path / "short", sim, certificate[0], identities=["app-secret"])
    sim.clear_faults()
    sim.set_fault("whoami", "throttle_429", retry_after=1, client_id=SECRET_APP)
    other.run("check")
    time.sleep(1.5)
    other.run("check")
    shown = other.run("usage", "show", "--json")

    assert 2 == shown.returncode
    assert {"usage:e2e/app-secret/e2e-prod:throttled": "critical"} == findings(
        json.loads(shown.stdout)
    )
    assert 3 == sim.request_count(family="whoami", client_id=SECRET_APP)


def test_import_both_reports_and_no_secret_leaks(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Both report formats import through the CLI, a second import adds nothing, and no
    secret appears in any output or in the database."""
    deployment = write_deployment(tmp_path, sim, certificate[0])
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    files = []
    for fixture in (LICENSED_REPORT, NON_LICENSED_REPORT):
        files.append(tmp_path / fixture.name)
        files[-1].write_bytes(report_ending(fixture, yesterday))
    runs = [deployment.run("-vv", "check")]
    for report in (*files, files[-1]):
        runs.append(deployment.run("-vv", "usage", "import", str(report)))
    runs.append(deployment.run("-vv", "usage", "show", "--json"))
    runs.append(deployment.run("-vv", "usage", "show"))

    assert [0, 0, 0] == [run.returncode for run in runs[1:4]]
    assert "already imported" in runs[3].stdout
    document = json.loads(runs[4].stdout)
    (pool,) = document["pools"]
    assert (1_100_000, "report") == (
        pool["allocation"]["requests"],
        pool["allocation"]["basis"],
    )
    haystack = "".join(run.stdout + run.stderr for run in runs).encode()
    for path in deployment.database.parent.rglob("*"):
        if path.is_file():  # the database, its WAL, the key, the sign-in locks
            haystack += path.read_bytes()
    for secret in (APP_SECRET, USER_PASSWORD):
        assert secret.encode() not in haystack, f"secret {secret[:6]}... leaked"
