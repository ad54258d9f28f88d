"""`monitor posture` end to end: the real CLI in a subprocess, over TLS, against the simulator.

A secret expiring in 10 days, a certificate file expiring in 3 days, a disabled user, a removed
licence and a System Administrator role are each reported with the right deadline and remedy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support.posture import (
    APP,
    APP_SECRET,
    CERT_APP,
    FINANCE_PASSWORD,
    OBSERVER_SECRET,
    PASSWORD,
    USER,
    certificate_expiring_in,
    config_path,
    posture_scenario,
    write_config,
)

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

IDENTITIES = ("sales-sync", "erp", "finance", "svc-sync")


@pytest.fixture
def posture_sim(simulator_state: Path) -> Iterator[Simulator]:
    with Simulator(posture_scenario(), state_dir=simulator_state) as simulator:
        yield simulator
        errors = simulator.internal_errors
    assert errors == []


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MONITOR_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config_path(root)), "posture", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def deploy(root: Path, sim: Simulator) -> datetime:
    """Write the configuration with a certificate file ending in 3 days (registered on its app
    too); return that certificate's notAfter."""
    pem, certificate = certificate_expiring_in(3)
    sim.add_certificate(CERT_APP, certificate)
    root.mkdir(parents=True)
    certificate_file = root / "erp.pem"
    certificate_file.write_bytes(pem)
    certificate_file.chmod(0o600)
    write_config(root, sim, identities=IDENTITIES, certificate_file=certificate_file)
    return certificate.not_valid_after_utc


def finding(
    document: dict[str, Any], kind: str, identity: str, source: str | None = None
) -> dict[str, Any]:
    found = [
        f
        for f in document["findings"]
        if f["kind"] == kind
        and f["identity"] == identity
        and (source is None or f["source"] == source)
    ]
    assert len(found) == 1, [f["summary"] for f in document["findings"]]
    return found[0]


def test_posture_reports_each_problem_with_its_deadline_and_remedy(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """Two reads with a licence removed in between; every problem shows up with its deadline
    and remedy, the exit code is critical, and no secret appears anywhere."""
    root = tmp_path / "deploy"
    not_after = deploy(root, posture_sim)
    registered_end = posture_sim.scenario.application(APP).secrets[0].end
    assert registered_end is not None
    secret_end = registered_end.replace(microsecond=0)  # Graph shows whole seconds here

    first = run(root, "--json")
    assert first.returncode == 2, first.stderr
    before = json.loads(first.stdout)
    assert ["posture"] == before["tenants_read"]
    read_at = datetime.fromisoformat(before["evaluated_at"])

    posture_sim.set_user(USER, licences=[])
    second = run(root, "--json")
    assert second.returncode == 2, second.stderr
    after = json.loads(second.stdout)
    removed_at = datetime.fromisoformat(after["evaluated_at"])

    secret = finding(after, "credential_expiring", "sales-sync")
    assert ("warning", secret_end.isoformat(), "graph") == (
        secret["level"],
        secret["deadline"],
        secret["source"],
    )
    # Ends 10 days after set-up, read moments later: whole days rounded down.
    assert "(in 9 days); no successor is registered" in secret["summary"]
    assert secret["remedy"].startswith("add a new client secret to app 'Sales sync'")

    certificate = finding(after, "credential_expiring", "erp", "certificate file")
    assert ("critical", not_after.isoformat()) == (certificate["level"], certificate["deadline"])
    assert certificate["remedy"].startswith("renew the certificate, upload the new one")
    registered = finding(after, "credential_expiring", "erp", "graph")
    assert not_after.isoformat() == registered["deadline"]

    disabled = finding(after, "account_disabled", "finance")
    assert ("critical", read_at.isoformat()) == (disabled["level"], disabled["deadline"])
    assert disabled["remedy"].startswith("re-enable the account")

    licence = finding(after, "licence", "svc-sync")
    assert ("critical", removed_at.isoformat(), "prod") == (
        licence["level"],
        licence["deadline"],
        licence["environment"],
    )
    assert licence["remedy"].startswith("assign a Dynamics 365 / Power Apps licence again")
    assert [] == [
        f for f in before["findings"] if f["kind"] == "licence" and f["identity"] == "svc-sync"
    ]

    admin = finding(after, "over_privileged", "sales-sync")
    assert ("warning", None) == (admin["level"], admin["deadline"])
    assert "holds the System Administrator role in prod" in admin["summary"]
    assert admin["remedy"].startswith("grant a least-privilege custom role")

    nearest = after["identities"]["erp"]["nearest_deadline"]
    assert (not_after.isoformat(), "certificate file") == (nearest["at"], nearest["source"])
    assert "non-interactive user" == after["identities"]["finance"]["classification"]

    everything = first.stdout + first.stderr + second.stdout + second.stderr
    database = sqlite3.connect(root / "monitor.db")
    try:
        everything += "\n".join(database.iterdump())
    finally:
        database.close()
    for value in (APP_SECRET, OBSERVER_SECRET, PASSWORD, FINANCE_PASSWORD):
        assert value not in everything


def test_text_output_shows_nearest_deadlines_and_fixes(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """The text form has a nearest-deadline row per identity and a fix line per finding; a
    second run with --stored reads nothing."""
    root = tmp_path / "deploy"
    deploy(root, posture_sim)

    read = run(root)
    stored = run(root, "--stored", "--identity", "erp")

    assert 2 == read.returncode, read.stderr
    lines = read.stdout.splitlines()
    assert "Directory read just now: posture" == lines[0]
    erp = next(line for line in lines if line.startswith("erp "))
    assert "(in 2 days) [certificate file]: certificate file (thumbprint" in erp  # 2 d 23 h
    assert any(line.startswith("  [CRITICAL] finance: the account") for line in lines)
    assert sum(1 for line in lines if line.startswith("      fix: ")) >= 5
    assert "sales-sync" not in stored.stdout
    assert "Directory read just now" not in stored.stdout
    assert 2 == stored.returncode


def test_unknown_identity_is_refused(tmp_path: Path, posture_sim: Simulator) -> None:
    """An identity name that is not configured is an error (exit 3), nothing is read."""
    root = tmp_path / "deploy"
    deploy(root, posture_sim)

    result = run(root, "--identity", "nope")

    assert (3, "monitor posture: unknown identity: nope\n") == (result.returncode, result.stderr)
    assert 0 == posture_sim.request_count("graph")


def run_cli(root: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m monitor``), or *code* (a ``python -c`` program ending in
    the CLI's ``main``) with the deployment's configuration."""
    env = dict(os.environ)
    env.pop("MONITOR_CONFIG", None)
    command = ["-m", "monitor"] if code is None else ["-c", code]
    return subprocess.run(
        [sys.executable, *command, "--config", str(config_path(root)), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_check_survives_a_404_on_a_navigation_property(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """Dataverse answers 404 (0x80040217) to systemusers(<id>)/teammembership_association, as
    when a user is deleted between two reads: `monitor check` prints every probe result and a
    Nagios status line, exits with a Nagios code, stores the rest of the posture, and notes
    only the roles as not read. One failed read is no "not observed" finding yet: that takes
    [directory] not_observed_after_failures reads in a row."""
    root = tmp_path / "deploy"
    deploy(root, posture_sim)
    posture_sim.set_fault("dataverse", "http_404", path="/teammembership_association")

    finished = run_cli(root, "check", "--json", "--no-notify")

    assert finished.returncode in (0, 1, 2), finished.stderr
    assert "Traceback" not in finished.stderr
    document = json.loads(finished.stdout)
    assert {"sales-sync", "erp", "finance", "svc-sync"} == {
        r["identity"] for r in document["results"]
    }
    assert [] == [f for f in document["findings"] if f["kind"] == "not_observed"]
    notes = [
        note
        for identity in document["posture"]["identities"].values()
        for note in identity["not_observed"]
    ]
    assert notes, document["posture"]
    assert all(note.startswith("prod security roles: ") for note in notes), notes
    assert all("HTTP 404 0x80040217" in note for note in notes), notes
    assert finding(document, "credential_expiring", "sales-sync", "graph")  # the rest goes on
    assert document["incidents"]  # and incidents are still opened


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_an_uncaught_exception_in_check_is_one_unknown_line(
    tmp_path: Path, posture_sim: Simulator, verbose: bool
) -> None:
    """A failure nothing handled ends `monitor check` with exit 3 (UNKNOWN) and one status line
    naming it, never exit 1 with a traceback; -v shows the traceback."""
    root = tmp_path / "deploy"
    deploy(root, posture_sim)
    program = (
        "import sys, monitor.pipeline.steps as steps\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('the pipeline broke')\n"
        "steps.run_cycle = broken\n"
        "from monitor.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    flags = ["-v"] if verbose else []

    finished = run_cli(root, *flags, "check", code=program)

    assert 3 == finished.returncode
    lines = finished.stdout.splitlines()
    assert 1 == len(lines), finished.stdout
    assert lines[0].startswith("MONITOR UNKNOWN - internal error: RuntimeError: the pipeline broke")
    assert ("Traceback (most recent call last)" in finished.stderr) is verbose


def test_check_without_directory_neither_opens_nor_resolves_posture_incidents(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """`monitor check --no-directory` skips the directory reads, and a skipped source is not
    a complete one: every posture incident the first check opened stays open under its id, and
    the next full check reopens nothing under a new id."""
    root = tmp_path / "deploy"
    pem, certificate = certificate_expiring_in(3)
    posture_sim.add_certificate(CERT_APP, certificate)
    root.mkdir(parents=True)
    (root / "erp.pem").write_bytes(pem)
    (root / "erp.pem").chmod(0o600)
    write_config(
        root,
        posture_sim,
        identities=IDENTITIES,
        certificate_file=root / "erp.pem",
        extra="[directory]\ninterval_hours = 0.0001\n",  # every full check reads
    )

    def check(*options: str) -> tuple[list[tuple[str, str]], set[str]]:
        finished = run_cli(root, "check", "--json", "--no-notify", *options)
        assert finished.returncode in (0, 1, 2), finished.stderr
        document = json.loads(finished.stdout)
        with sqlite3.connect(root / "monitor.db") as connection:
            open_ids = {
                f"CM-{row[0]}"
                for row in connection.execute("SELECT id FROM incident WHERE resolved_at IS NULL")
            }
        return [(i["id"], i["event"]) for i in document["incidents"]], open_ids

    first, opened = check()
    skipped, still_open = check("--no-directory")
    again, open_after = check()

    assert {event for _, event in first} == {"opened"}
    assert (opened, opened) == (still_open, open_after)
    assert ([], []) == (skipped, again)
