"""The daemon's status row on a real SQLite file: the 0004_daemon migration, upsert and read."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command

from monitor.model.daemon import DAEMON_INSTANCE, DaemonStatusRecord
from monitor.model.schema import SCHEMA_HEAD
from monitor.store import Store, migrate
from monitor.store.database import open_engine
from monitor.store.migrations import alembic_config

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def started(**fields: object) -> DaemonStatusRecord:
    values: dict[str, object] = {
        "state": "running",
        "pid": 4242,
        "hostname": "monitor-01",
        "monitor_version": "0.1.0",
        "started_at": T0,
        "last_beat_at": T0,
        "write_interval_seconds": 60,
        "config_path": "/etc/monitor/monitor.toml",
    }
    values.update(fields)
    return DaemonStatusRecord(**values)  # type: ignore[arg-type]


def _tables(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    finally:
        connection.close()


def _downgrade(path: Path, revision: str) -> None:
    engine = open_engine(path, foreign_keys=False)
    try:
        with engine.begin() as connection:
            config = alembic_config(None)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_upgrade_from_the_posture_head_adds_the_table(db_path: Path) -> None:
    """A database at 0003_posture with history upgrades to the newest revision (through
    0004_daemon): the history stays, the status table is there and empty."""
    with Store.open(db_path) as store:
        store.daemon.write(started())
    _downgrade(db_path, "0003_posture")
    assert "daemon_status" not in _tables(db_path)

    upgrade = migrate(db_path)

    assert ("0003_posture", SCHEMA_HEAD) == (upgrade.before, upgrade.after)
    assert "daemon_status" in _tables(db_path)
    with Store.open_readonly(db_path) as reader:
        assert reader.daemon.read() is None


def test_write_then_read_round_trips(store: Store) -> None:
    """Every field written is read back, times aware UTC."""
    record = started(
        last_beat_at=T0 + timedelta(minutes=5),
        last_probe_at=T0 + timedelta(minutes=4),
        probes_since_start=1200,
        identities=1000,
        failing_pairs=3,
    )

    store.daemon.write(record)

    assert record == store.daemon.read()


def test_the_row_is_updated_in_place(store: Store) -> None:
    """Each write replaces the one row of the instance (one row per daemon, not a history)."""
    store.daemon.write(started())
    beat = started(last_beat_at=T0 + timedelta(minutes=1), probes_since_start=10)
    store.daemon.write(beat)
    stopped = replace(
        beat,
        state="stopped",
        last_beat_at=T0 + timedelta(minutes=2),
        stopped_at=T0 + timedelta(minutes=2),
        stop_reason="SIGTERM",
    )
    store.daemon.write(stopped)

    assert stopped == store.daemon.read()
    connection = sqlite3.connect(store.path)
    try:
        rows = connection.execute("SELECT instance, state FROM daemon_status").fetchall()
    finally:
        connection.close()
    assert [(DAEMON_INSTANCE, "stopped")] == rows


def test_the_reader_sees_the_row(store: Store, db_path: Path) -> None:
    """The read-only view reads what the writer wrote; no row at all reads as None."""
    with Store.open_readonly(db_path) as reader:
        assert reader.daemon.read() is None
    store.daemon.write(started())
    with Store.open_readonly(db_path) as reader:
        found = reader.daemon.read()
    assert found is not None
    assert (4242, "monitor-01") == (found.pid, found.hostname)


@pytest.mark.parametrize(
    "record",
    [
        started(state="sleeping"),
        started(last_beat_at=datetime(2026, 11, 26, 10, 0)),  # noqa: DTZ001 - the point
    ],
    ids=["unknown state", "naive time"],
)
def test_bad_records_are_refused_before_writing(store: Store, record: DaemonStatusRecord) -> None:
    """An unknown state or a naive time is a ValueError, and nothing is written."""
    with pytest.raises(ValueError, match=r"state|naive"):
        store.daemon.write(record)
    assert store.daemon.read() is None


def test_upgrade_to_failed_reads_keeps_every_fact(db_path: Path) -> None:
    """A database at 0004_daemon with a stored fact upgrades to 0006_failed_reads: the fact
    and its value stay, with no failed read counted."""
    from monitor.model.observations import NonInteractiveUsers, Observation

    with Store.open(db_path) as store:
        store.posture.record(
            "r1",
            [
                Observation.of(
                    NonInteractiveUsers(3),
                    tenant="contoso",
                    environment="prod",
                    source="dataverse",
                    observed_at=T0,
                )
            ],
            tenants=["contoso"],
            at=T0,
        )
    _downgrade(db_path, "0004_daemon")

    upgrade = migrate(db_path)

    assert ("0004_daemon", "0006_failed_reads") == (upgrade.before, upgrade.after)
    with Store.open_readonly(db_path) as reader:
        (fact,) = reader.posture.current()
    assert (3, 0, None, None) == (
        fact.fact.count,  # type: ignore[union-attr]
        fact.failed_reads,
        fact.failing_since,
        fact.cause,
    )
