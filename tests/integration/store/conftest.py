"""Fixtures for tests of the real SQLite store: a database path, an open writer, results."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

MakeResult = Callable[..., ProbeResult]
MakeRun = Callable[..., RunRecord]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


def result(offset_minutes: float = 0, **fields: Any) -> ProbeResult:
    """Return an ok result of identity ``sales-sync`` in ``contoso-prod`` at T0 + offset."""
    values: dict[str, Any] = {
        "identity": "sales-sync",
        "environment": "contoso-prod",
        "tenant": "contoso",
        "credential_type": "client_secret",
        "started_at": T0 + timedelta(minutes=offset_minutes),
        "duration_ms": 120,
        "outcome": Outcome.OK,
        "stage": "dataverse",
    }
    values.update(fields)
    return ProbeResult(**values)


def run_record(**fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": str(uuid.uuid4()),
        "kind": "check",
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=5),
    }
    values.update(fields)
    return RunRecord(**values)


@pytest.fixture
def make_result() -> MakeResult:
    return result


@pytest.fixture
def make_run() -> MakeRun:
    return run_record
