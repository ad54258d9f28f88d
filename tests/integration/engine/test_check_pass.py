"""The check pass against the simulator, in-process, with an injected clock.

A simulated day of passes every 15 minutes shows the lockout guard's budget: a wrong password is
sent once, a locked account a handful of times (doubling cool-down), a healthy one every time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import (
    APP_SECRET,
    CERT_APP,
    SECRET_APP,
    USER_PASSWORD,
    USER_UPN,
    e2e_scenario,
    make_certificate,
    write_deployment,
)

from monitor.config import load_config
from monitor.config.model import Config, IdentityConfig
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.pipeline.probing import ProbePass
from monitor.probes.registry import PROBE_KINDS
from monitor.simulator import Simulator
from monitor.store import Store, fingerprint_key

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


class SteppingClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(scope="module")
def certificate() -> tuple[bytes, x509.Certificate]:
    return make_certificate()


@pytest.fixture
def sim(tmp_path: Path, certificate: tuple[bytes, x509.Certificate]) -> Iterator[Simulator]:
    with Simulator(e2e_scenario(), state_dir=tmp_path / "sim") as simulator:
        simulator.add_certificate(CERT_APP, certificate[1])
        yield simulator


def _load(tmp_path: Path, sim: Simulator, pem: bytes, **kwargs: object) -> Config:
    deployment = write_deployment(tmp_path / "deploy", sim, pem, **kwargs)  # type: ignore[arg-type]
    return load_config(deployment.config, credentials_directory=deployment.credentials)


def _day_of_passes(config: Config, clock: SteppingClock, names: list[str]) -> list[ProbeResult]:
    results: list[ProbeResult] = []
    with Store.open(config.database.path) as store:
        checker = ProbePass(
            config,
            store,
            fingerprint_key=fingerprint_key(config.database.path),
            clock=clock,
        )
        for _ in range(96):  # every 15 minutes for 24 hours
            report = checker.run([config.identities[name] for name in names])
            results.extend(report.results)
            clock.advance(timedelta(minutes=15))
    return results


def test_a_wrong_password_costs_one_failed_sign_in_per_day(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """96 passes over 24 h with a wrong password: exactly one sign-in reaches the directory."""
    config = _load(
        tmp_path,
        sim,
        certificate[0],
        identities=["user-password"],
        password="definitely-wrong-1",
        environments=["e2e-prod", "e2e-test"],
    )

    results = _day_of_passes(config, SteppingClock(START), ["user-password"])

    assert sim.failed_password_attempts(USER_UPN) == 1
    assert sim.request_count(family="token", username=USER_UPN) == 1
    assert sum(1 for r in results if r.attempted) == 1
    assert {Outcome.CREDENTIAL_INVALID} == {r.outcome for r in results}


def test_a_locked_account_is_retried_on_a_doubling_cooldown(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """Locked all day: sign-ins at 0, 1, 3, 7 and 15 hours (cool-down 1, 2, 4, 8 h) - five."""
    sim.set_user(USER_UPN, locked=True)
    config = _load(tmp_path, sim, certificate[0], identities=["user-password"])

    results = _day_of_passes(config, SteppingClock(START), ["user-password"])

    attempted = [r for r in results if r.attempted]
    assert [r.started_at - START for r in attempted] == [
        timedelta(hours=h) for h in (0, 1, 3, 7, 15)
    ]
    assert {Outcome.ACCOUNT_LOCKED} == {r.outcome for r in results}


def test_an_unlocked_account_recovers_after_its_cooldown(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """Once an admin unlocks the account, the next attempt after the cool-down succeeds."""
    sim.set_user(USER_UPN, locked=True)
    config = _load(tmp_path, sim, certificate[0], identities=["user-password"])
    clock = SteppingClock(START)
    with Store.open(config.database.path) as store:
        checker = ProbePass(
            config, store, fingerprint_key=fingerprint_key(config.database.path), clock=clock
        )
        first = checker.run([config.identities["user-password"]])
        sim.set_user(USER_UPN, locked=False)
        clock.advance(timedelta(minutes=30))
        held = checker.run([config.identities["user-password"]])
        clock.advance(timedelta(minutes=31))
        recovered = checker.run([config.identities["user-password"]])
        guard = store.guards.get("user-password")

    assert [r.outcome for r in first.results] == [Outcome.ACCOUNT_LOCKED]
    assert [r.attempted for r in held.results] == [False]
    assert [r.outcome for r in recovered.results] == [Outcome.OK]
    assert guard is None


def test_healthy_identities_are_probed_every_pass(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """The guard never holds a healthy password identity."""
    config = _load(tmp_path, sim, certificate[0], identities=["user-password", "app-secret"])

    results = _day_of_passes(config, SteppingClock(START), ["user-password", "app-secret"])

    assert len(results) == 192
    assert all(r.attempted and r.outcome is Outcome.OK for r in results)
    assert sim.request_count(family="token", username=USER_UPN) == 96
    assert USER_PASSWORD not in repr(results)
    assert APP_SECRET not in repr(results)


def test_a_probe_that_overruns_its_deadline_is_abandoned(
    tmp_path: Path,
    sim: Simulator,
    certificate: tuple[bytes, x509.Certificate],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe stuck past its deadline is reported unreachable and does not hold up the pass."""
    release = threading.Event()

    class StuckProbe:
        def __init__(self, identity: IdentityConfig, config: Config, context: object) -> None:
            self.identity = identity

        def run(self, environments: list[str]) -> list[ProbeResult]:
            release.wait(30)
            return []

    monkeypatch.setitem(PROBE_KINDS, "client_secret", StuckProbe)  # type: ignore[arg-type]
    config = _load(
        tmp_path,
        sim,
        certificate[0],
        identities=["app-secret", "user-password"],
        deadline_seconds=1,
    )
    try:
        with Store.open(config.database.path) as store:
            report = ProbePass(
                config, store, fingerprint_key=fingerprint_key(config.database.path)
            ).run(list(config.identities.values()))
    finally:
        release.set()

    outcomes = {(r.identity, r.stage): r.outcome for r in report.results}
    assert outcomes == {
        ("app-secret", "deadline"): Outcome.UNREACHABLE,
        ("user-password", "dataverse"): Outcome.OK,
    }


def test_one_crashing_probe_does_not_stop_the_others(
    tmp_path: Path,
    sim: Simulator,
    certificate: tuple[bytes, x509.Certificate],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception inside a probe becomes an unclassified result; the rest run normally."""

    class BrokenProbe:
        def __init__(self, identity: IdentityConfig, config: Config, context: object) -> None:
            pass

        def run(self, environments: list[str]) -> list[ProbeResult]:
            raise RuntimeError("boom")

    monkeypatch.setitem(PROBE_KINDS, "certificate", BrokenProbe)  # type: ignore[arg-type]
    config = _load(tmp_path, sim, certificate[0], identities=["app-cert", "app-secret"])
    with Store.open(config.database.path) as store:
        report = ProbePass(
            config, store, fingerprint_key=fingerprint_key(config.database.path)
        ).run(list(config.identities.values()))

    outcomes = {r.identity: r.outcome for r in report.results}
    assert outcomes == {"app-cert": Outcome.UNCLASSIFIED, "app-secret": Outcome.OK}
    assert sim.request_count(family="token", client_id=SECRET_APP) == 1
