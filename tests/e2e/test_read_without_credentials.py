"""Commands that only read or annotate the history run without the service's credentials (as a
member of the service's group would, from a shell), against the database the daemon uses; a
command that must sign in says how to run it with the credentials."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import write_deployment

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]


def test_read_and_annotate_commands_need_no_credential(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """With the credentials folder gone and $CREDENTIALS_DIRECTORY unset: report, silence,
    ack, notify outbox, db status, usage show and check --stored work on the same database;
    the silence and the acknowledgement are in it."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret", "app-cert"], app_secret="wrong"
    )
    assert 2 == deployment.run("check").returncode
    shutil.rmtree(deployment.credentials)
    shell = {"CREDENTIALS_DIRECTORY": ""}

    def run(*args: str) -> str:
        finished = deployment.run(*args, extra_env=shell)
        assert finished.returncode in (0, 1, 2), (args, finished.returncode, finished.stderr)
        assert "credential" not in finished.stderr.lower(), (args, finished.stderr)
        return finished.stdout

    board = run("report")
    silenced = run("silence", "add", "--identity", "app-secret", "--until", "2h", "--reason", "x")
    with sqlite3.connect(deployment.database) as db:
        (first_incident,) = db.execute("SELECT min(id) FROM incident").fetchone()
    acknowledged = run("ack", f"CM-{first_incident}", "--by", "ops")
    outbox = run("notify", "outbox")
    status = run("db", "status")
    usage = run("usage", "show")
    stored = run("check", "--stored")

    assert "app-secret" in board
    assert "app-secret" in silenced
    assert f"CM-{first_incident} acknowledged" in acknowledged
    assert outbox is not None
    assert "0006" in status
    assert "app-secret" in usage
    assert stored.startswith("MONITOR CRITICAL")
    with sqlite3.connect(deployment.database) as db:
        silences = db.execute("SELECT count(*) FROM silence").fetchone()[0]
        acknowledged_by = db.execute(
            "SELECT acknowledged_by FROM incident WHERE id = ?", (first_incident,)
        ).fetchone()[0]
    assert (1, "ops") == (silences, acknowledged_by)


def test_a_command_that_signs_in_says_how_to_run_it_with_the_credentials(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """`monitor check` without $CREDENTIALS_DIRECTORY: exit 78, naming the secret and the
    systemd-run way to lend it the unit's credentials."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])

    finished = deployment.run("check", extra_env={"CREDENTIALS_DIRECTORY": ""})

    assert 78 == finished.returncode
    assert "identities.app-secret.secret" in finished.stderr
    assert "systemd-run" in finished.stderr
    assert 0 == sim.request_count(family="token")
