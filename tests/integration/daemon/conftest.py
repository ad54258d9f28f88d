"""Fixtures for the daemon tests: the simulator over TLS and a deployment with a fast schedule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from support.daemon import FAST_SCHEDULE, append_config
from support.deployment import (
    CERT_APP,
    Deployment,
    e2e_scenario,
    make_certificate,
    write_deployment,
)

from monitor.simulator import Simulator


@pytest.fixture(scope="session")
def certificate() -> tuple[bytes, x509.Certificate]:
    return make_certificate()


@pytest.fixture(scope="session")
def simulator_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulator")


@pytest.fixture
def sim(simulator_state: Path, certificate: tuple[bytes, x509.Certificate]) -> Iterator[Simulator]:
    with Simulator(e2e_scenario(), state_dir=simulator_state) as simulator:
        simulator.add_certificate(CERT_APP, certificate[1])
        yield simulator


@pytest.fixture
def deployment(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> Deployment:
    """Three identities (secret, certificate, password) in two environments, probed every
    second, with a 3-second probe deadline."""
    deployed = write_deployment(
        tmp_path / "deployment",
        sim,
        certificate[0],
        environments=("e2e-prod", "e2e-test"),
        deadline_seconds=3,
    )
    append_config(deployed, FAST_SCHEDULE)
    return deployed
