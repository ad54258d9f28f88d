"""A database file with garbled pages, through the real CLI: every command says in one line that
the database is damaged and how to recover; `check` and `usage show` exit 3 (UNKNOWN), the
others 70; never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import Deployment, write_deployment

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]


def garble_tables(database: Path) -> list[str]:
    """Overwrite the root page of every table and index but the schema and its revision with
    junk, as a disk fault would; return the tables and indexes garbled."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        roots = connection.execute(
            "SELECT name, rootpage FROM sqlite_master WHERE type IN ('table', 'index') "
            "AND tbl_name NOT IN ('alembic_version', 'sqlite_sequence') AND rootpage > 1"
        ).fetchall()
    connection.close()
    data = bytearray(database.read_bytes())
    for _, page in roots:
        start = (page - 1) * page_size
        data[start : start + page_size] = b"\x5a" * page_size
    database.write_bytes(bytes(data))
    return [name for name, _ in roots]


@pytest.fixture(scope="module")
def damaged(
    tmp_path_factory: pytest.TempPathFactory, simulator_state: Path, certificate: Certificate
) -> Deployment:
    """A deployment whose database held a check's results, then had its tables garbled."""
    from support.deployment import CERT_APP, e2e_scenario

    with Simulator(e2e_scenario(), state_dir=simulator_state) as sim:
        sim.add_certificate(CERT_APP, certificate[1])
        deployment = write_deployment(tmp_path_factory.mktemp("damaged"), sim, certificate[0])
        assert 0 == deployment.run("check", "--no-notify").returncode
    garbled = garble_tables(deployment.database)
    assert {"probe_result", "outbox", "incident"} <= set(garbled)
    return deployment


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["check"], 3),
        (["check", "--json"], 3),
        (["usage", "show"], 3),
        (["notify", "outbox"], 70),
        (["notify", "flush"], 70),
        (["silence", "list"], 70),
        (["ack", "CM-1"], 70),
        (["report"], 70),
        (["report", "incidents"], 70),
        (
            [
                "usage",
                "record",
                "--identity",
                "app-secret",
                "--environment",
                "e2e-prod",
                "--count",
                "5",
            ],
            70,
        ),
        (["posture", "--stored"], 70),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_every_command_says_the_database_is_damaged_in_one_line(
    damaged: Deployment, arguments: list[str], expected: int
) -> None:
    """One line on stderr naming the file, SQLite's words and both remedies; nothing else."""
    done = damaged.run(*arguments)

    lines = done.stderr.splitlines()
    assert expected == done.returncode, done.stderr
    assert 1 == len(lines), done.stderr
    assert (
        f"the database {damaged.database} is damaged (database disk image is malformed)"
        in (lines[0])
    )
    assert (
        f"`sqlite3 {damaged.database} .recover | sqlite3 {damaged.database}.recovered`"
        in (lines[0])
    )
    assert lines[0].endswith("or restore a backup")
    assert "Traceback" not in done.stdout
