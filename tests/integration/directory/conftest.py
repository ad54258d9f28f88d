"""Fixtures: the posture simulator over real TLS, and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.posture import posture_scenario

from monitor.simulator import Simulator
from monitor.store import Store


@pytest.fixture(scope="session")
def posture_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulator CA for the session."""
    return tmp_path_factory.mktemp("posture-simulator")


@pytest.fixture
def sim(posture_state: Path) -> Iterator[Simulator]:
    """The posture scenario, served; the test fails if the simulator raised while answering."""
    with Simulator(posture_scenario(), state_dir=posture_state) as simulator:
        yield simulator
        errors = simulator.internal_errors
    assert errors == []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened
