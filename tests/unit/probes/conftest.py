"""Fixtures for probe unit tests: a fake Entra/Dataverse and test certificates."""

from __future__ import annotations

import pytest
from probe_fakes import FakeEntra, KeyAndCertificate, make_certificate


@pytest.fixture
def fake() -> FakeEntra:
    return FakeEntra()


@pytest.fixture(scope="session")
def certificate() -> KeyAndCertificate:
    return make_certificate()


@pytest.fixture(scope="session")
def other_certificate() -> KeyAndCertificate:
    return make_certificate("monitor-probe-rotated")
