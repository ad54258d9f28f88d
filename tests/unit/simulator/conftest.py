"""Fixtures for the simulator tests: a session-wide CA directory and a running simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from monitor.simulator import Scenario, Simulator

from .helpers import CertificatePair, PortRoutingSession, build_scenario, make_certificate_pair


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulator state directory (CA and server certificate) for the whole session."""
    return tmp_path_factory.mktemp("simulator-state")


@pytest.fixture(scope="session")
def certificate() -> CertificatePair:
    """The certificate registered on CERTIFICATE_APP, with its private key."""
    return make_certificate_pair("erp-connector")


@pytest.fixture(scope="session")
def stranger_certificate() -> CertificatePair:
    """A certificate registered nowhere."""
    return make_certificate_pair("stranger")


@pytest.fixture
def scenario(certificate: CertificatePair) -> Scenario:
    return build_scenario(certificate)


@pytest.fixture
def sim(scenario: Scenario, state_dir: Path) -> Iterator[Simulator]:
    """A running simulator; the test fails if the simulator raised while answering."""
    with Simulator(scenario, state_dir=state_dir) as simulator:
        yield simulator
        errors = simulator.internal_errors
    assert errors == []


@pytest.fixture
def session(sim: Simulator) -> Iterator[requests.Session]:
    """A requests session that trusts the simulator's CA (and nothing from the environment)."""
    with PortRoutingSession(sim) as http:
        yield http
