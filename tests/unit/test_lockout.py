"""The lockout guard's decisions: hold until the password changes, or a doubling cool-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.model.lockout import MAX_COOLDOWN_SECONDS, decide_guard
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _result(outcome: Outcome, stage: str = "token", code: int | None = None) -> ProbeResult:
    return ProbeResult(
        identity="svc",
        environment="prod",
        tenant="contoso",
        credential_type="password",
        started_at=NOW,
        duration_ms=10,
        outcome=outcome,
        stage=stage,  # type: ignore[arg-type]
        aadsts_code=code,
    )


@pytest.mark.parametrize("outcome", [Outcome.CREDENTIAL_INVALID, Outcome.PASSWORD_EXPIRED])
def test_wrong_or_expired_password_holds_until_changed(outcome: Outcome) -> None:
    """A wrong or expired password is never sent again: the hold has no end time."""
    decision = decide_guard(
        [_result(outcome, code=50126)],
        previous_cooldown_seconds=None,
        base_cooldown_seconds=3600,
        now=NOW,
    )
    assert decision.hold
    assert decision.outcome is outcome
    assert decision.hold_until is None
    assert decision.aadsts_code == 50126


def test_lock_answer_starts_with_the_base_cooldown() -> None:
    """The first lock answer pauses sign-ins for the configured base cool-down."""
    decision = decide_guard(
        [_result(Outcome.ACCOUNT_LOCKED, code=50053)],
        previous_cooldown_seconds=None,
        base_cooldown_seconds=3600,
        now=NOW,
    )
    assert decision.hold_until == NOW + timedelta(hours=1)
    assert decision.cooldown_seconds == 3600


def test_repeated_lock_doubles_the_cooldown_up_to_a_day() -> None:
    """Each repeated lock doubles the pause, capped at 24 hours."""
    doubled = decide_guard(
        [_result(Outcome.ACCOUNT_LOCKED)],
        previous_cooldown_seconds=7200,
        base_cooldown_seconds=3600,
        now=NOW,
    )
    capped = decide_guard(
        [_result(Outcome.ACCOUNT_LOCKED)],
        previous_cooldown_seconds=MAX_COOLDOWN_SECONDS,
        base_cooldown_seconds=3600,
        now=NOW,
    )
    assert doubled.cooldown_seconds == 14400
    assert capped.cooldown_seconds == MAX_COOLDOWN_SECONDS


@pytest.mark.parametrize(
    "outcome",
    [Outcome.OK, Outcome.UNREACHABLE, Outcome.THROTTLED, Outcome.SERVICE_ERROR],
)
def test_success_or_transient_answers_release_the_hold(outcome: Outcome) -> None:
    """Answers that say nothing against the password never hold it."""
    decision = decide_guard(
        [_result(outcome)], previous_cooldown_seconds=3600, base_cooldown_seconds=3600, now=NOW
    )
    assert not decision.hold


def test_dataverse_answers_do_not_hold_the_password() -> None:
    """A Dataverse refusal after a successful sign-in is not a password problem."""
    decision = decide_guard(
        [_result(Outcome.ACCOUNT_DISABLED, stage="dataverse")],
        previous_cooldown_seconds=None,
        base_cooldown_seconds=3600,
        now=NOW,
    )
    assert not decision.hold
