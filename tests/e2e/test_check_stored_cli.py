"""``monitor check --stored``: the real command in a subprocess, reading what a real ``monitor
check`` recorded against the simulator, without signing in and without the credentials."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import SECRET_APP, Deployment, write_deployment

from monitor.model.incidents import IncidentRecord
from monitor.simulator import Simulator
from monitor.store import Store

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]


def _without_credentials(deployment: Deployment) -> dict[str, str]:
    """The environment of a shell user: no $CREDENTIALS_DIRECTORY, and the folder gone."""
    shutil.rmtree(deployment.credentials)
    return {"CREDENTIALS_DIRECTORY": ""}


def _counts(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as db:
        results = db.execute("SELECT count(*) FROM probe_result").fetchone()[0]
        changes = db.execute("SELECT count(*) FROM state_change").fetchone()[0]
    return int(results), int(changes)


def test_stored_reports_the_last_check_without_signing_in_or_credentials(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """A wrong secret recorded by `check` reads CRITICAL from the database: same status, no
    token request, nothing written, and no credential needed (the folder is gone)."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret", "app-cert"], app_secret="wrong"
    )
    live = deployment.run("check")
    assert 2 == live.returncode, live.stderr
    tokens = sim.request_count(family="token")
    before = _counts(deployment.database)

    stored = deployment.run("check", "--stored", extra_env=_without_credentials(deployment))

    assert 2 == stored.returncode, stored.stderr
    first = stored.stdout.splitlines()[0]
    assert first.startswith("MONITOR CRITICAL - 1 critical of 2 probes")
    assert "(stored: newest probe under a minute ago)" in first
    assert " | ok=1 warning=0 critical=1 unknown=0 " in first
    assert "app-secret" in stored.stdout
    assert "AADSTS7000215" in stored.stdout
    assert tokens == sim.request_count(family="token")
    assert before == _counts(deployment.database)


def test_stored_is_unknown_when_the_newest_probe_is_older_than_the_bound(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """`--max-age 1` two seconds after the check: every pair is UNKNOWN, and so is the check,
    with the time of the newest probe; the JSON says the same."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    assert 0 == deployment.run("check").returncode
    time.sleep(2.1)

    stored = deployment.run("check", "--stored", "--max-age", "1")
    as_json = deployment.run("check", "--stored", "--max-age", "1", "--json")

    assert 3 == stored.returncode, stored.stderr
    assert stored.stdout.startswith("MONITOR UNKNOWN - 1 unknown of 1 probes")
    assert "app-secret (e2e-prod): not probed since " in stored.stdout
    assert "bound 1 s" in stored.stdout
    document = json.loads(as_json.stdout)
    assert ("UNKNOWN", 3) == (document["state"], as_json.returncode)
    assert [True] == [result["stale"] for result in document["results"]]


def test_a_configured_identity_never_probed_is_unknown(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """An identity added to the configuration after the last pass has no stored state: UNKNOWN,
    "no probe recorded yet", while the others keep their state."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    assert 0 == deployment.run("check").returncode
    later = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret", "user-password"]
    )

    stored = later.run("check", "--stored", "--json")

    assert 3 == stored.returncode, stored.stderr
    document = json.loads(stored.stdout)
    assert {("app-secret", "OK"), ("user-password", "UNKNOWN")} == {
        (result["identity"], result["state"]) for result in document["results"]
    }
    [never] = [r for r in document["results"] if r["identity"] == "user-password"]
    assert ("not_probed", "no probe recorded yet") == (never["outcome"], never["detail"])


def test_an_open_incident_raises_the_state_even_when_every_probe_is_ok(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """A critical posture incident (a secret expiring) makes the stored check CRITICAL with
    every probe OK, like `monitor check`; --tag selects, an unknown tag is one line, exit 3."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret", "app-cert"]
    )
    assert 0 == deployment.run("check").returncode
    now = datetime.now(UTC)
    with Store.open(deployment.database) as store, store.alerting.unit() as unit:
        unit.save_incident(
            IncidentRecord(
                id=None,
                key="cause:credential:e2e/app-secret/key-1",
                kind="credential_expiring",
                level="critical",
                tenant="e2e",
                identity="app-secret",
                environment=None,
                subject="client secret 'prod-2025'",
                summary="the client secret expires",
                remedy="Add a new client secret.",
                source="graph",
                deadline=now + timedelta(days=2),
                opened_at=now,
                observed_at=now,
            )
        )

    everyone = deployment.run("check", "--stored")
    tagged = deployment.run("check", "--stored", "--tag", "e2e", "--json")
    unknown = deployment.run("check", "--stored", "--tag", "nope")

    assert 2 == everyone.returncode, everyone.stderr
    first = everyone.stdout.splitlines()[0]
    assert first.startswith("MONITOR CRITICAL - all 2 probes OK; 1 critical incident (stored")
    assert "incidents_critical=1" in first
    # CM-1 is the check's own (info: the tenant has no observer).
    assert "CM-2 critical app-secret: client secret 'prod-2025'" in everyone.stdout
    assert ["app-secret"] == [r["identity"] for r in json.loads(tagged.stdout)["results"]]
    assert (3, "monitor check: unknown tag: nope\n") == (unknown.returncode, unknown.stderr)


def test_live_only_and_stored_only_options_are_refused_together(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """--stored with --force, or --tag without --stored, is a one-line usage error (exit 3)."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])

    forced = deployment.run("check", "--stored", "--force")
    tag_alone = deployment.run("check", "--tag", "e2e")

    assert 3 == forced.returncode
    assert "--stored reads only" in forced.stderr
    assert 3 == tag_alone.returncode
    assert "go with --stored" in tag_alone.stderr
    assert 0 == sim.request_count(family="token", client_id=SECRET_APP)
