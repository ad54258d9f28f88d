"""End-to-end fixtures: the real simulator over TLS and a certificate identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import CERT_APP, e2e_scenario, make_certificate

from monitor.simulator import Simulator


@pytest.fixture(scope="session")
def certificate() -> tuple[bytes, x509.Certificate]:
    return make_certificate()


@pytest.fixture(scope="session")
def simulator_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA for the whole session (the simulator reuses it)."""
    return tmp_path_factory.mktemp("simulator")


@pytest.fixture
def sim(simulator_state: Path, certificate: tuple[bytes, x509.Certificate]) -> Iterator[Simulator]:
    with Simulator(e2e_scenario(), state_dir=simulator_state) as simulator:
        simulator.add_certificate(CERT_APP, certificate[1])
        yield simulator
