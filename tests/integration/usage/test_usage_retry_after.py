"""Retry-After is honoured: the engine sends nothing to a throttled pair until it expires.

In-process check passes against the simulator with a clock the test moves; the simulator's own
request counters prove what was (not) sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import (
    CERT_APP,
    SECRET_APP,
    e2e_scenario,
    make_certificate,
    write_deployment,
)

from monitor.config import load_config
from monitor.config.model import Config
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.pipeline.probing import ProbePass
from monitor.simulator import Simulator
from monitor.store import Store, fingerprint_key

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


class SteppingClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def certificate() -> tuple[bytes, x509.Certificate]:
    return make_certificate()


@pytest.fixture
def sim(tmp_path: Path, certificate: tuple[bytes, x509.Certificate]) -> Iterator[Simulator]:
    with Simulator(e2e_scenario(), state_dir=tmp_path / "sim") as simulator:
        simulator.add_certificate(CERT_APP, certificate[1])
        yield simulator


def load(tmp_path: Path, sim: Simulator, pem: bytes) -> Config:
    deployment = write_deployment(
        tmp_path / "deploy",
        sim,
        pem,
        identities=["app-secret"],
        environments=["e2e-prod", "e2e-test"],
    )
    return load_config(deployment.config, credentials_directory=deployment.credentials)


def passes(config: Config, clock: SteppingClock, offsets: list[int]) -> list[list[ProbeResult]]:
    """Run one pass at each START + offset seconds; return each pass's results."""
    runs: list[list[ProbeResult]] = []
    with Store.open(config.database.path) as store:
        checker = ProbePass(
            config, store, fingerprint_key=fingerprint_key(config.database.path), clock=clock
        )
        for offset in offsets:
            clock.now = START + timedelta(seconds=offset)
            runs.append(list(checker.run([config.identities["app-secret"]]).results))
    return runs


def by_environment(results: list[ProbeResult]) -> dict[str, tuple[Outcome, bool]]:
    return {r.environment: (r.outcome, r.attempted) for r in results}


def test_dataverse_429_holds_only_that_environment_until_retry_after(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """WhoAmI answers 429 (Retry-After 120) in e2e-prod: the next passes send neither a token
    request nor WhoAmI for e2e-prod until 120 s have passed; e2e-test is probed every time."""
    sim.set_fault("whoami", "throttle_429", retry_after=120, environment="e2e-prod")
    config = load(tmp_path, sim, certificate[0])

    first, during, later = passes(config, SteppingClock(START), [0, 60, 200])

    assert {"e2e-prod": (Outcome.THROTTLED, True), "e2e-test": (Outcome.OK, True)} == (
        by_environment(first)
    )
    assert {"e2e-prod": (Outcome.THROTTLED, False), "e2e-test": (Outcome.OK, True)} == (
        by_environment(during)
    )
    assert {"e2e-prod": (Outcome.THROTTLED, True), "e2e-test": (Outcome.OK, True)} == (
        by_environment(later)
    )
    # 3 passes: e2e-prod was called in the 1st and 3rd only, e2e-test in all three.
    assert 2 == sim.request_count(family="whoami", environment="e2e-prod")
    assert 3 == sim.request_count(family="whoami", environment="e2e-test")
    assert 5 == sim.request_count(family="token", client_id=SECRET_APP)
    held = next(r for r in during if r.environment == "e2e-prod")
    assert "Retry-After 120 s" in held.message
    assert 0 < (held.rate_limit.retry_after_seconds or 0) <= 61


def test_the_429_is_stored_with_retry_after_and_error_code(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """The throttled answer is recorded with HTTP 429, its Retry-After and Dataverse's code."""
    sim.set_fault("whoami", "throttle_429", retry_after=90, environment="e2e-prod")
    config = load(tmp_path, sim, certificate[0])
    passes(config, SteppingClock(START), [0])

    with Store.open(config.database.path) as store:
        (stored,) = store.probes.throttled_results(START - timedelta(minutes=1))

    assert (429, 90, "0x80072322", "dataverse") == (
        stored.http_status,
        stored.rate_limit.retry_after_seconds,
        stored.dataverse_error_code,
        stored.stage,
    )


def test_token_endpoint_429_holds_every_environment(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """Entra throttles the sign-in (Retry-After 60): no request at all for 60 s, then again."""
    sim.set_fault("token", "throttle_429", retry_after=60, client_id=SECRET_APP)
    config = load(tmp_path, sim, certificate[0])

    first, during, later = passes(config, SteppingClock(START), [0, 30, 120])

    assert {(Outcome.THROTTLED, True)} == set(by_environment(first).values())
    assert {(Outcome.THROTTLED, False)} == set(by_environment(during).values())
    assert {(Outcome.THROTTLED, True)} == set(by_environment(later).values())
    assert 4 == sim.request_count(family="token", client_id=SECRET_APP)  # 2 + 0 + 2
    assert 0 == sim.request_count(family="whoami")


def test_low_headroom_is_recorded_at_probe_time(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """A member that starts its window with 300 requests left reports 299 after the probe."""
    sim.set_member("e2e-prod", client_id=SECRET_APP, burst_remaining=300)
    config = load(tmp_path, sim, certificate[0])
    passes(config, SteppingClock(START), [0])

    with Store.open(config.database.path) as store:
        latest = store.probes.latest_attempted_results(START - timedelta(minutes=1), ["app-secret"])

    assert {"e2e-prod": 299, "e2e-test": 5999} == {
        r.environment: r.rate_limit.burst_remaining for r in latest
    }
