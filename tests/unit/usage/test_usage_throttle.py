"""429 answers: which identity / environment pairs must wait, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config.model import IdentityConfig
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit
from monitor.secrets import Secret
from monitor.usage.gate import RecentThrottles, RetryAfterGate
from monitor.usage.throttle import (
    MAX_HOLD_SECONDS,
    hold_for,
    newest_attempted,
    retry_after_holds,
    throttle_event,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def result(environment: str = "prod", seconds: float = 0, **fields: Any) -> ProbeResult:
    values: dict[str, Any] = {
        "identity": "sales-sync",
        "environment": environment,
        "tenant": "contoso",
        "credential_type": "client_secret",
        "started_at": T0 + timedelta(seconds=seconds),
        "duration_ms": 1000,
        "outcome": Outcome.OK,
        "stage": "dataverse",
    }
    values.update(fields)
    return ProbeResult(**values)


def throttled(environment: str = "prod", retry_after: int | None = 300, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "outcome": Outcome.THROTTLED,
        "http_status": 429,
        "dataverse_error_code": "0x80072322",
        "rate_limit": RateLimit(retry_after_seconds=retry_after),
    }
    values.update(fields)
    return result(environment, **values)


def test_a_dataverse_429_holds_that_environment_until_retry_after() -> None:
    """Answered at T0 + 1 s with Retry-After 300: held until T0 + 301 s, then free."""
    results = [throttled("prod"), result("test")]

    holds = retry_after_holds(results, T0 + timedelta(seconds=300))

    assert [("sales-sync", "prod", T0 + timedelta(seconds=301))] == [
        (hold.identity, hold.environment, hold.until) for hold in holds
    ]
    assert hold_for(holds, "sales-sync", "test") is None
    assert [] == retry_after_holds(results, T0 + timedelta(seconds=301))


def test_the_event_records_status_code_and_retry_after() -> None:
    """The stored 429 is described with its service, status, error code and Retry-After."""
    event = throttle_event(throttled())

    assert event is not None
    assert "Dataverse HTTP 429 0x80072322, Retry-After 300 s" == event.describe()


def test_a_token_endpoint_throttle_holds_every_environment() -> None:
    """Entra throttled the sign-in: the next probe of any environment would ask it again."""
    holds = retry_after_holds(
        [throttled("prod", retry_after=60, stage="token", aadsts_code=None)],
        T0 + timedelta(seconds=30),
    )

    assert [None] == [hold.environment for hold in holds]
    assert hold_for(holds, "sales-sync", "any-other") is not None
    assert hold_for(holds, "other-identity", "prod") is None


def test_missing_retry_after_waits_the_default() -> None:
    """AADSTS50196 (no Retry-After) waits the configured default."""
    event = throttled(retry_after=None, stage="token", http_status=400, aadsts_code=50196)

    holds = retry_after_holds([event], T0 + timedelta(seconds=10), default_seconds=120)

    assert T0 + timedelta(seconds=121) == holds[0].until
    assert "AADSTS50196" in holds[0].event.describe()


def test_absurd_retry_after_is_capped() -> None:
    """A week of Retry-After holds for at most an hour."""
    holds = retry_after_holds([throttled(retry_after=7 * 86400)], T0)

    assert T0 + timedelta(seconds=1 + MAX_HOLD_SECONDS) == holds[0].until


def test_an_answer_stored_in_the_future_holds_for_its_retry_after_only() -> None:
    """A 429 recorded while the clock was a day ahead (then set back) holds for its Retry-After
    from now, not until a day later."""
    holds = retry_after_holds([throttled(retry_after=60, seconds=86400)], T0)

    assert [T0 + timedelta(seconds=60)] == [hold.until for hold in holds]


def test_only_the_newest_attempted_result_decides() -> None:
    """A later success lifts the hold; a later held result (not attempted) does not."""
    old_429 = throttled("prod", seconds=0)
    success = result("prod", seconds=10)
    held = throttled("prod", seconds=20, attempted=False)

    assert [] == retry_after_holds([old_429, success], T0 + timedelta(seconds=30))
    assert 1 == len(retry_after_holds([old_429, held], T0 + timedelta(seconds=30)))
    assert [success] == newest_attempted([success, old_429, held])


def test_non_throttled_results_hold_nothing() -> None:
    """Errors other than throttling are not a Retry-After."""
    error = result(
        outcome=Outcome.SERVICE_ERROR, http_status=503, rate_limit=RateLimit(None, None, 30)
    )

    assert [] == retry_after_holds([error], T0)
    assert throttle_event(error) is None


class FakeResults:
    """The store's ``latest_attempted_results`` over a fixed list."""

    def __init__(self, results: list[ProbeResult]) -> None:
        self.results = results
        self.asked: list[tuple[datetime, list[str] | None]] = []

    def latest_attempted_results(
        self, since: datetime, identities: Any = None, *, outcome: Outcome | None = None
    ) -> list[ProbeResult]:
        self.asked.append((since, identities))
        newest = newest_attempted(r for r in self.results if r.started_at >= since)
        return [r for r in newest if outcome is None or r.outcome is outcome]


def identity() -> IdentityConfig:
    return IdentityConfig(
        name="sales-sync",
        kind="application",
        tenant="contoso",
        client_id="5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d",
        environments=("prod", "test"),
        secret=Secret("not-a-real-secret", "inline"),
    )


def test_gate_splits_an_identity_into_probed_and_held_environments() -> None:
    """The held environment gets a not-attempted throttled result saying until when."""
    now = T0 + timedelta(seconds=100)
    store = FakeResults([throttled("prod"), result("test")])
    gate = RetryAfterGate.load(store, ["sales-sync"], now)

    probe, held = gate.split(identity(), now, "fp")

    assert ["test"] == probe
    assert [("prod", Outcome.THROTTLED, False, "guard", 201)] == [
        (r.environment, r.outcome, r.attempted, r.stage, r.rate_limit.retry_after_seconds)
        for r in held
    ]
    assert "12:05:01 UTC" in held[0].message
    assert "0x80072322" == held[0].dataverse_error_code


def test_gate_reads_only_recent_results_and_nothing_for_no_identities() -> None:
    """The lookback covers the longest hold; no identities means no query."""
    store = FakeResults([])

    assert () == RetryAfterGate.load(store, [], T0).holds
    assert [] == store.asked
    RetryAfterGate.load(store, ["sales-sync"], T0)
    ((since, names),) = store.asked
    assert T0 - since >= timedelta(seconds=MAX_HOLD_SECONDS)
    assert ["sales-sync"] == names


def test_the_daemons_memory_holds_like_the_store() -> None:
    """RecentThrottles, seeded from the store and told each pass's results, gives the gate the
    same holds as a store read would, with no read per probe."""
    store = FakeResults([throttled("prod"), result("test")])
    memory = RecentThrottles()
    memory.load(store, T0 + timedelta(seconds=1))
    ((since, names),) = store.asked  # one read, at start, for every identity
    assert names is None
    assert T0 - since >= timedelta(seconds=MAX_HOLD_SECONDS)
    now = T0 + timedelta(seconds=100)

    probe, held = RetryAfterGate.load(memory, ["sales-sync"], now).split(identity(), now, "fp")
    assert (["test"], ["prod"]) == (probe, [r.environment for r in held])

    # The test environment answers 429 next; prod answers again (ok): prod is free, test held.
    memory.observe(
        [result("prod", 400), throttled("test", 120, started_at=T0 + timedelta(seconds=400))]
    )
    later = T0 + timedelta(seconds=450)
    probe, held = RetryAfterGate.load(memory, ["sales-sync"], later).split(identity(), later, "fp")
    assert (["prod"], ["test"]) == (probe, [r.environment for r in held])


def test_the_memory_keeps_the_newest_attempted_answer_only() -> None:
    """An older answer never replaces a newer one; held (not attempted) results change
    nothing; only throttled answers can be asked for."""
    memory = RecentThrottles()
    memory.observe([throttled("prod", seconds=10)])
    memory.observe([result("prod", seconds=5)])  # older: ignored
    memory.observe([result("prod", seconds=20, attempted=False, outcome=Outcome.ACCOUNT_LOCKED)])
    assert ["prod"] == [
        r.environment for r in memory.latest_attempted_results(T0, outcome=Outcome.THROTTLED)
    ]
    assert [] == memory.latest_attempted_results(
        T0 + timedelta(seconds=11), outcome=Outcome.THROTTLED
    )
    assert [] == memory.latest_attempted_results(T0, ["other"], outcome=Outcome.THROTTLED)
    memory.observe([result("prod", seconds=30)])
    assert [] == memory.latest_attempted_results(T0, outcome=Outcome.THROTTLED)
    with pytest.raises(ValueError, match="throttled answers only"):
        memory.latest_attempted_results(T0)
