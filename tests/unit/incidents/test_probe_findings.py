"""The probe rules: definitive outcomes are critical at once, transient ones only after three
failures over ten minutes, one finding per tenant when all of it fails, two successes to clear."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.notify.alerting import T0, IdentitySpec, write_deployment

from monitor.config import Config
from monitor.findings.probes import COVERED_BY, RECOVERING, probe_findings
from monitor.model.findings import Finding, Level
from monitor.model.incidents import ProbeHistory
from monitor.model.outcomes import Outcome
from monitor.model.probes import IdentityState

IDENTITIES = (
    IdentitySpec("sales-sync", environments=("contoso-prod", "contoso-test")),
    IdentitySpec("inventory-sync"),
    IdentitySpec("solo", tenant="fabrikam", environments=("fabrikam-prod",)),
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return write_deployment(
        tmp_path_factory.mktemp("rules"),
        identities=IDENTITIES,
        alerts="""
[alerts.identities.inventory-sync]
cannot_verify_after_failures = 5
""",
    ).load()


def state(
    identity: str,
    environment: str,
    outcome: Outcome,
    *,
    since: datetime,
    last: datetime,
    failures: int = 0,
    successes: int = 0,
    tenant: str = "contoso",
) -> IdentityState:
    return IdentityState(
        identity=identity,
        environment=environment,
        tenant=tenant,
        credential_type="client_secret",
        outcome=outcome,
        since=since,
        last_probe_at=last,
        last_attempt_at=last,
        last_success_at=None,
        consecutive_failures=failures,
        consecutive_successes=successes,
        credential_fingerprint=None,
        last_result_id=None,
    )


def healthy(identity: str, environment: str, tenant: str = "contoso") -> IdentityState:
    return state(identity, environment, Outcome.OK, since=T0, last=T0, successes=9, tenant=tenant)


def by_kind(findings: list[Finding]) -> dict[tuple[str, str | None], Finding]:
    return {(f.kind.value, f.identity): f for f in findings}


def test_everything_healthy_finds_nothing(config: Config) -> None:
    """Healthy states produce no finding."""
    states = [
        healthy("sales-sync", "contoso-prod"),
        healthy("sales-sync", "contoso-test"),
        healthy("inventory-sync", "contoso-prod"),
    ]
    assert [] == probe_findings(states, {}, config, T0)


def test_definitive_outcomes_are_critical_at_once(config: Config) -> None:
    """One failed sign-in with a definitive answer is a critical finding; the kind follows the
    outcome; not-in-environment is per environment."""
    states = [
        state(
            "sales-sync", "contoso-prod", Outcome.CREDENTIAL_EXPIRED, since=T0, last=T0, failures=1
        ),
        state(
            "sales-sync", "contoso-test", Outcome.NOT_IN_ENVIRONMENT, since=T0, last=T0, failures=1
        ),
        state(
            "inventory-sync", "contoso-prod", Outcome.ACCOUNT_LOCKED, since=T0, last=T0, failures=1
        ),
    ]
    history = {
        ("sales-sync", "contoso-prod"): ProbeHistory(
            "sales-sync", "contoso-prod", aadsts_code=7000222
        )
    }
    found = by_kind(probe_findings(states, history, config, T0))
    assert {
        ("credential_broken", "sales-sync"),
        ("not_in_environment", "sales-sync"),
        ("account_locked", "inventory-sync"),
    } == set(found)
    assert all(f.level is Level.CRITICAL for f in found.values())
    assert "AADSTS7000222" in found[("credential_broken", "sales-sync")].summary
    assert "contoso-test" == found[("not_in_environment", "sales-sync")].environment


@pytest.mark.parametrize(
    ("failures", "minutes", "due"),
    [(2, 30, False), (3, 9, False), (3, 10, True), (6, 60, True)],
)
def test_transient_failures_need_three_over_ten_minutes(
    config: Config, failures: int, minutes: int, due: bool
) -> None:
    """Only three failures in a row spanning ten minutes make "cannot verify" open; before
    that the finding only keeps an open incident open."""
    start = T0
    states = [
        state(
            "sales-sync",
            "contoso-prod",
            Outcome.UNREACHABLE,
            since=start,
            last=start + timedelta(minutes=minutes),
            failures=failures,
        ),
        healthy("sales-sync", "contoso-test"),
        healthy("inventory-sync", "contoso-prod"),
    ]
    found = by_kind(probe_findings(states, {}, config, start + timedelta(minutes=minutes)))
    finding = found[("cannot_verify", "sales-sync")]
    assert (Level.WARNING, not due) == (finding.level, finding.details[RECOVERING])


def test_a_switch_between_transient_classes_keeps_the_run(config: Config) -> None:
    """503 then timeouts: the run began at the first failure, not at the class switch."""
    history = {
        ("sales-sync", "contoso-prod"): ProbeHistory("sales-sync", "contoso-prod", failing_since=T0)
    }
    states = [
        state(
            "sales-sync",
            "contoso-prod",
            Outcome.THROTTLED,
            since=T0 + timedelta(minutes=9),
            last=T0 + timedelta(minutes=15),
            failures=4,
        ),
        healthy("inventory-sync", "contoso-prod"),
    ]
    found = by_kind(probe_findings(states, history, config, T0 + timedelta(minutes=15)))
    assert found[("cannot_verify", "sales-sync")].details[RECOVERING] is False


def test_per_identity_threshold(config: Config) -> None:
    """inventory-sync needs five failures ([alerts.identities])."""
    states = [
        state(
            "inventory-sync",
            "contoso-prod",
            Outcome.SERVICE_ERROR,
            since=T0,
            last=T0 + timedelta(minutes=40),
            failures=4,
        ),
        healthy("sales-sync", "contoso-prod"),
    ]
    found = by_kind(probe_findings(states, {}, config, T0 + timedelta(minutes=40)))
    assert found[("cannot_verify", "inventory-sync")].details[RECOVERING] is True


def test_whole_tenant_failing_is_one_finding_covering_the_identities(config: Config) -> None:
    """Both contoso identities unreachable for 30 minutes: one tenant-wide finding, and the
    per-identity ones name it as covering them; the single-identity tenant has none."""
    last = T0 + timedelta(minutes=30)
    states = [
        state(i, e, Outcome.UNREACHABLE, since=T0, last=last, failures=7)
        for i, e in (
            ("sales-sync", "contoso-prod"),
            ("sales-sync", "contoso-test"),
            ("inventory-sync", "contoso-prod"),
        )
    ] + [
        state(
            "solo",
            "fabrikam-prod",
            Outcome.UNREACHABLE,
            since=T0,
            last=last,
            failures=7,
            tenant="fabrikam",
        )
    ]
    found = by_kind(probe_findings(states, {}, config, last))
    tenant = found[("cannot_verify", None)]
    assert ("contoso", False) == (tenant.tenant, tenant.details[RECOVERING])
    assert tenant.key == found[("cannot_verify", "sales-sync")].details[COVERED_BY]
    assert found[("cannot_verify", "solo")].details[RECOVERING] is False
    assert 1 == sum(1 for f in found.values() if f.identity is None)


def test_a_broken_identity_does_not_stop_the_tenant_finding(config: Config) -> None:
    """An identity held after a definitive failure is left out of "everything fails"."""
    last = T0 + timedelta(minutes=30)
    states = [
        state(
            "sales-sync",
            "contoso-prod",
            Outcome.CREDENTIAL_INVALID,
            since=T0,
            last=last,
            failures=1,
        ),
        state(
            "inventory-sync", "contoso-prod", Outcome.UNREACHABLE, since=T0, last=last, failures=7
        ),
    ]
    found = by_kind(probe_findings(states, {}, config, last))
    assert ("cannot_verify", None) not in found  # one identity left: no tenant-wide finding
    assert found[("cannot_verify", "inventory-sync")].details[RECOVERING] is False


def test_two_successes_to_clear(config: Config) -> None:
    """After a definitive failure, one success keeps the finding (recovering); two clear it."""
    history = {
        ("inventory-sync", "contoso-prod"): ProbeHistory(
            "inventory-sync", "contoso-prod", recovered_from="credential_invalid"
        )
    }
    one = [state("inventory-sync", "contoso-prod", Outcome.OK, since=T0, last=T0, successes=1)]
    found = by_kind(probe_findings(one, history, config, T0))
    assert found[("credential_broken", "inventory-sync")].details[RECOVERING] is True
    two = [state("inventory-sync", "contoso-prod", Outcome.OK, since=T0, last=T0, successes=2)]
    assert [] == probe_findings(two, history, config, T0)


def test_removed_identities_find_nothing(config: Config, tmp_path: Path) -> None:
    """States of identities no longer configured are ignored (their incidents resolve)."""
    states = [
        state(
            "gone-sync", "contoso-prod", Outcome.CREDENTIAL_INVALID, since=T0, last=T0, failures=1
        )
    ]
    assert [] == probe_findings(states, {}, config, T0)


def test_dataverse_refusals_have_their_own_kinds_and_words(config: Config) -> None:
    """No role and a missing privilege are security_role findings per environment (the
    privilege named); no licence and a disabled Dataverse are licence findings; a deleted
    enterprise application says to re-create it."""
    states = [
        state("sales-sync", "contoso-prod", Outcome.NO_ROLE, since=T0, last=T0, failures=1),
        state(
            "sales-sync", "contoso-test", Outcome.MISSING_PRIVILEGE, since=T0, last=T0, failures=1
        ),
        state(
            "inventory-sync", "contoso-prod", Outcome.RESOURCE_DISABLED, since=T0, last=T0,
            failures=1,
        ),
        state("solo", "fabrikam-prod", Outcome.IDENTITY_NOT_FOUND, since=T0, last=T0,
              failures=1, tenant="fabrikam"),
    ]  # fmt: skip
    history = {
        ("sales-sync", "contoso-test"): ProbeHistory(
            "sales-sync",
            "contoso-test",
            message="Dataverse HTTP 403 (0x80040220) (missing prvReadAccount): Principal user",
        ),
        ("inventory-sync", "contoso-prod"): ProbeHistory(
            "inventory-sync", "contoso-prod", aadsts_code=500014
        ),
        ("solo", "fabrikam-prod"): ProbeHistory("solo", "fabrikam-prod", aadsts_code=7000229),
    }

    findings = probe_findings(states, history, config, T0)

    roles = sorted(
        (f.environment or "", f.summary) for f in findings if f.kind.value == "security_role"
    )
    assert [
        (
            "contoso-prod",
            "signed in, but the identity holds no security role in this environment",
        ),
        (
            "contoso-test",
            "signed in, but the identity's security roles lack a privilege the call needs: "
            "prvReadAccount",
        ),
    ] == roles
    found = by_kind(findings)
    disabled = found[("licence", "inventory-sync")]
    assert "Dataverse (Dynamics CRM) in tenant contoso" == disabled.subject
    assert "not the identity's own account (AADSTS500014)" in disabled.summary
    assert found[("credential_broken", "solo")].remedy.startswith(
        "Re-create the enterprise application"
    )


def test_administration_mode_is_one_warning_per_environment(config: Config) -> None:
    """Every identity refused by an environment in administration mode: one maintenance
    warning for the environment, no identity finding, no "cannot verify"."""
    states = [
        state("sales-sync", "contoso-prod", Outcome.MAINTENANCE, since=T0, last=T0, failures=4),
        healthy("sales-sync", "contoso-test"),
        state(
            "inventory-sync",
            "contoso-prod",
            Outcome.MAINTENANCE,
            since=T0,
            last=T0 + timedelta(hours=2),
            failures=9,
        ),
    ]

    findings = probe_findings(states, {}, config, T0 + timedelta(hours=2))

    assert [("maintenance", None, "contoso-prod", Level.WARNING)] == [
        (f.kind.value, f.identity, f.environment, f.level) for f in findings
    ]
    assert "inventory-sync, sales-sync wait for it to end" in findings[0].summary
