"""The ``password`` probe kind (ROPC): lockout safety and msal's deprecation warning."""

from __future__ import annotations

import threading
import warnings
from datetime import UTC, datetime

import pytest
import requests
from probe_fakes import (
    FakeEntra,
    FakeResponse,
    Request,
    config_for,
    context_for,
    entra_error,
    password_identity,
)

from monitor.model.lockout import LOCKOUT_TRIGGERS, LockoutHold, lockout_trigger
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.context import ProbeContext
from monitor.probes.password import UserPasswordProbe

PASSWORD = "Corr3ct-H0rse-Battery"


def _run(
    fake: FakeEntra,
    password: str = PASSWORD,
    environments: tuple[str, ...] = ("prod",),
    context: ProbeContext | None = None,
) -> list[ProbeResult]:
    identity = password_identity(password, environments)
    assert identity.username is not None
    fake.passwords[identity.username] = PASSWORD
    probe = UserPasswordProbe(identity, config_for(identity), context or context_for(fake))
    return probe.run(list(environments))


def test_correct_password_signs_in_without_a_deprecation_warning(fake: FakeEntra) -> None:
    """ROPC through msal's public client; msal's DeprecationWarning does not escape (-W error)."""
    [result] = _run(fake)
    assert result.outcome is Outcome.OK
    assert result.credential_type == "password"
    token = fake.last("token")
    assert token.data["grant_type"] == "password"
    assert "https://contoso.crm.dynamics.com/user_impersonation" in token.data["scope"].split()
    assert fake.count("userrealm") == 1
    assert not any("public client flows" in str(f[1]) for f in warnings.filters)


def test_wrong_password_costs_one_post_whatever_the_environments(fake: FakeEntra) -> None:
    """A wrong password: exactly one sign-in attempt, the other environment not attempted."""
    results = _run(fake, "wrong-password!", ("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.CREDENTIAL_INVALID] * 2
    assert [r.attempted for r in results] == [True, False]
    assert results[0].aadsts_code == 50126
    assert fake.count("token") == 1
    assert "at most one failed sign-in" in results[1].message


def test_correct_password_signs_in_to_every_environment(fake: FakeEntra) -> None:
    """With a good password each environment gets its own token and WhoAmI."""
    results = _run(fake, environments=("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.OK] * 2
    assert fake.count("token") == 2


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: FakeResponse(503, "Service Unavailable"),
        lambda request: (_ for _ in ()).throw(requests.exceptions.ReadTimeout("slow")),
        lambda request: entra_error(50196, "invalid_grant", "Loop detected."),
    ],
)
def test_any_failed_sign_in_stops_the_run(fake: FakeEntra, answer: object) -> None:
    """Even a transient failure stops further password attempts in the same run."""
    fake.overrides["token"] = answer  # type: ignore[assignment]
    results = _run(fake, environments=("prod", "test"))
    assert results[0].outcome in {Outcome.SERVICE_ERROR, Outcome.UNREACHABLE, Outcome.THROTTLED}
    assert [r.attempted for r in results] == [True, False]
    assert results[1].outcome is results[0].outcome
    assert fake.count("token") == 1


def test_dataverse_failure_after_sign_in_does_not_stop_the_run(fake: FakeEntra) -> None:
    """The password worked; a WhoAmI problem in one environment does not hold the others."""
    calls = iter([FakeResponse(500, "oops")])
    default = fake.whoami

    def whoami(request: Request) -> FakeResponse:
        answer = next(calls, None)
        return answer if answer is not None else default(request)

    fake.whoami = whoami
    results = _run(fake, environments=("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.SERVICE_ERROR, Outcome.OK]
    assert fake.count("token") == 2


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (50055, Outcome.PASSWORD_EXPIRED),
        (50053, Outcome.ACCOUNT_LOCKED),
        (50057, Outcome.ACCOUNT_DISABLED),
        (50034, Outcome.IDENTITY_NOT_FOUND),
        (50076, Outcome.POLICY_BLOCKED),
        (7000218, Outcome.MISCONFIGURED),
    ],
)
def test_account_answers(fake: FakeEntra, code: int, expected: Outcome) -> None:
    """Each account-state answer from Entra gets its class."""
    fake.overrides["token"] = lambda request: entra_error(code, "invalid_grant", "Answer.")
    assert _run(fake)[0].outcome is expected


def test_concurrent_password_probes_never_leak_the_warning() -> None:
    """Many threads in ROPC at once: no DeprecationWarning escapes, the filter is removed."""
    before = list(warnings.filters)
    errors: list[BaseException] = []
    outcomes: list[Outcome] = []

    def worker() -> None:
        try:
            fake = FakeEntra()
            for _ in range(10):
                outcomes.append(_run(fake)[0].outcome)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes == [Outcome.OK] * 80
    assert warnings.filters == before


# --- lockout triggers ------------------------------------------------------------------------


def _result(
    outcome: Outcome,
    *,
    stage: str = "token",
    attempted: bool = True,
    code: int | None = 50126,
    error: str | None = "invalid_grant",
) -> ProbeResult:
    return ProbeResult(
        identity="dataverse-sync",
        environment="prod",
        tenant="contoso",
        credential_type="password",
        started_at=datetime(2026, 11, 26, tzinfo=UTC),
        duration_ms=1,
        outcome=outcome,
        stage=stage,  # type: ignore[arg-type]
        attempted=attempted,
        aadsts_code=code,
        oauth_error=error,
    )


def test_lockout_triggers_cover_the_password_answers() -> None:
    """Wrong or expired passwords hold until changed; account/policy answers pause."""
    assert LOCKOUT_TRIGGERS[Outcome.CREDENTIAL_INVALID] is LockoutHold.UNTIL_CHANGED
    assert LOCKOUT_TRIGGERS[Outcome.PASSWORD_EXPIRED] is LockoutHold.UNTIL_CHANGED
    for outcome in (Outcome.ACCOUNT_LOCKED, Outcome.ACCOUNT_DISABLED, Outcome.POLICY_BLOCKED):
        assert LOCKOUT_TRIGGERS[outcome] is LockoutHold.COOLDOWN
    for outcome in (Outcome.OK, Outcome.THROTTLED, Outcome.UNREACHABLE, Outcome.SERVICE_ERROR):
        assert outcome not in LOCKOUT_TRIGGERS


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([_result(Outcome.CREDENTIAL_INVALID)], LockoutHold.UNTIL_CHANGED),
        ([_result(Outcome.ACCOUNT_LOCKED, code=50053)], LockoutHold.COOLDOWN),
        ([_result(Outcome.UNCLASSIFIED, code=9999999)], LockoutHold.COOLDOWN),
        ([_result(Outcome.UNCLASSIFIED, code=None, error=None)], None),
        ([_result(Outcome.CREDENTIAL_INVALID, attempted=False)], None),
        ([_result(Outcome.NOT_IN_ENVIRONMENT, stage="dataverse")], None),
        ([_result(Outcome.UNREACHABLE, code=None, error=None)], None),
        ([_result(Outcome.OK), _result(Outcome.PASSWORD_EXPIRED)], LockoutHold.UNTIL_CHANGED),
    ],
)
def test_lockout_trigger(results: list[ProbeResult], expected: LockoutHold | None) -> None:
    """Only attempted token-stage answers from Entra trigger a hold."""
    trigger = lockout_trigger(results)
    assert (trigger.hold if trigger else None) is expected
