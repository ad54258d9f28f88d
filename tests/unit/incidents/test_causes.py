"""Root causes (monitor.incidents.causes): which findings are evidence of one problem, and the
one finding its incident follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from support.daemon import make_config

from monitor.findings.probes import COVERED_BY, RECOVERING
from monitor.incidents.causes import (
    Cause,
    cause_kind,
    cause_of,
    group_by_cause,
    incident_finding,
    incident_findings,
)
from monitor.model.findings import Finding, FindingKind, Level

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def make(
    kind: FindingKind,
    level: Level = Level.WARNING,
    *,
    identity: str | None = "sales-sync",
    tenant: str = "contoso",
    environment: str | None = None,
    subject_id: str = "",
    source: str = "graph",
    deadline: datetime | None = None,
    summary: str = "",
    **details: object,
) -> Finding:
    return Finding.create(
        kind,
        level,
        tenant=tenant,
        identity=identity,
        environment=environment,
        subject=f"{kind.value} {subject_id}",
        summary=summary or f"{kind.value} of {identity or tenant} {subject_id}",
        remedy=f"fix {kind.value}",
        observed_at=NOW,
        source=source,
        subject_id=subject_id,
        deadline=deadline,
        details=details,
    )


def broken(outcome: str, identity: str = "sales-sync", **details: object) -> Finding:
    return make(
        FindingKind.CREDENTIAL_BROKEN,
        Level.CRITICAL,
        identity=identity,
        source="probe",
        subject_id="probe",
        deadline=NOW - timedelta(hours=1),
        outcome=outcome,
        **details,
    )


def keys(findings: list[Finding]) -> dict[str, list[str]]:
    return {
        cause.key: sorted(f.key for f in evidence)
        for cause, evidence in group_by_cause(findings).items()
    }


def test_an_expired_secret_seen_by_a_probe_and_by_graph_is_one_cause() -> None:
    """The probe's rejected secret and Graph's end date are one credential cause; its incident
    is critical (the highest evidence), dated by the earliest deadline, and failing now."""
    probe = broken("credential_expired")
    graph = make(
        FindingKind.CREDENTIAL_EXPIRING,
        Level.CRITICAL,
        subject_id="secret-1",
        deadline=NOW - timedelta(days=2),
    )
    (finding,) = incident_findings([probe, graph], NOW)
    assert ("cause:credential:contoso/sales-sync", Level.CRITICAL) == (finding.key, finding.level)
    assert NOW - timedelta(days=2) == finding.deadline
    assert (2, False) == (finding.details["stage"], finding.details[RECOVERING])
    assert sorted([probe.key, graph.key]) == [e["key"] for e in finding.details["evidence"]]  # type: ignore[attr-defined]


def test_a_certificate_dated_by_its_file_and_by_graph_is_one_cause() -> None:
    """The certificate file and Graph's keyCredential date the same certificate: one cause, at
    the worse of the two levels."""
    soon = NOW + timedelta(days=3)
    found = incident_findings(
        [
            make(
                FindingKind.CREDENTIAL_EXPIRING,
                Level.WARNING,
                source="certificate file",
                subject_id="file",
                deadline=soon,
            ),
            make(FindingKind.CREDENTIAL_EXPIRING, Level.CRITICAL, subject_id="kc", deadline=soon),
        ],
        NOW,
    )
    assert [("cause:credential:contoso/sales-sync", Level.CRITICAL, 0)] == [
        (f.key, f.level, f.details["stage"]) for f in found
    ]


def test_a_broken_account_explains_the_identitys_other_findings_but_not_advice() -> None:
    """A disabled account explains its password's expiry and its missing environment access;
    the advice to move off a named user and its over-privilege stay causes of their own."""
    findings = [
        make(FindingKind.ACCOUNT_DISABLED, Level.CRITICAL, subject_id="account"),
        make(FindingKind.PASSWORD_EXPIRING, subject_id="password"),
        make(FindingKind.NOT_IN_ENVIRONMENT, Level.CRITICAL, subject_id="prod"),
        make(FindingKind.IDENTITY_TYPE, subject_id="named-user"),
        make(FindingKind.OVER_PRIVILEGED, subject_id="prod"),
    ]
    assert [
        "cause:account:contoso/sales-sync",
        "cause:advice:contoso/sales-sync",
        "cause:privilege:contoso/sales-sync",
    ] == sorted(keys(findings))
    assert 3 == len(keys(findings)["cause:account:contoso/sales-sync"])


def test_a_recovering_account_finding_explains_nothing() -> None:
    """An account finding that only keeps its incident open (recovering) does not take the
    identity's live password expiry into its incident."""
    recovering = make(FindingKind.ACCOUNT_DISABLED, Level.CRITICAL, subject_id="a", recovering=True)
    password = make(FindingKind.PASSWORD_EXPIRING, subject_id="password")
    assert ["cause:account:contoso/sales-sync", "cause:credential:contoso/sales-sync"] == sorted(
        keys([recovering, password])
    )


def test_the_password_sign_in_advice_is_part_of_an_mfa_block_only() -> None:
    """A sign-in refused by MFA (AADSTS50076) explains the advice against password sign-in; an
    expired password does not."""
    advice = make(FindingKind.IDENTITY_TYPE, Level.INFO, subject_id="password-sign-in")
    mfa = broken("policy_blocked", aadsts_code=50076)
    assert ["cause:account:contoso/sales-sync"] == sorted(keys([mfa, advice]))
    expired = broken("password_expired")
    assert ["cause:advice:contoso/sales-sync", "cause:credential:contoso/sales-sync"] == sorted(
        keys([expired, advice])
    )


def test_a_revoked_consent_is_one_cause_for_the_client_application() -> None:
    """Two users failing with AADSTS65001 through one client are one cause keyed by the
    client's id, which names both; the client application's key is the same whichever user
    noticed it."""
    config = make_config()
    shared = replace(config.identities["user"], name="other")
    config = replace(config, identities={**config.identities, "other": shared})
    findings = [
        broken("policy_blocked", identity="user", aadsts_code=65001),
        broken("policy_blocked", identity="other", aadsts_code=65001),
    ]
    (finding,) = incident_findings(findings, NOW, config)
    assert ("cause:client:contoso/c2", ["other", "user"]) == (
        finding.key,
        finding.details["identities"],
    )
    assert "affects other, user" in finding.summary


def test_throttling_of_two_identities_is_one_tenant_storm() -> None:
    """429 answers for two identities of a tenant, and the directory reads the storm throttled,
    are one tenant-wide cause; one throttled identity alone is its own usage cause."""
    one = make(FindingKind.USAGE, identity="a", subject_id="throttled", source="usage")
    two = make(FindingKind.USAGE, identity="b", subject_id="throttled", source="usage")
    reads = make(FindingKind.NOT_OBSERVED, identity=None, subject_id="throttled", cause="throttled")
    assert {"cause:throttling:contoso": sorted([one.key, two.key, reads.key])} == keys(
        [one, two, reads]
    )
    assert ["cause:usage:contoso/a"] == list(keys([one]))


def test_a_tenant_that_cannot_be_verified_because_of_429_is_a_storm() -> None:
    """Every identity of a tenant failing with 429: the tenant-wide "cannot verify" and each
    identity's are the storm."""
    tenant = make(FindingKind.CANNOT_VERIFY, identity=None, source="probe", outcomes=["throttled"])
    identity = make(
        FindingKind.CANNOT_VERIFY,
        source="probe",
        outcome="throttled",
        **{COVERED_BY: tenant.key},
    )
    assert ["cause:throttling:contoso"] == list(keys([tenant, identity]))


def test_an_outage_that_is_not_throttling_stays_one_signin_cause() -> None:
    """A tenant-wide outage (unreachable) takes each identity's "cannot verify" that it covers."""
    tenant = make(
        FindingKind.CANNOT_VERIFY, identity=None, source="probe", outcomes=["unreachable"]
    )
    identity = make(
        FindingKind.CANNOT_VERIFY, source="probe", outcome="unreachable", **{COVERED_BY: tenant.key}
    )
    assert ["cause:signin:contoso"] == list(keys([tenant, identity]))


def test_every_missing_permission_of_the_observer_is_one_cause() -> None:
    """Two permissions missing: one observer cause; facts that cannot be read because the
    directory is unreachable are another."""
    domain = make(
        FindingKind.NOT_OBSERVED, identity=None, subject_id="permission:domain", cause="permission"
    )
    organization = make(
        FindingKind.NOT_OBSERVED,
        identity=None,
        subject_id="permission:organization",
        cause="permission",
    )
    unreachable = make(
        FindingKind.NOT_OBSERVED, identity=None, subject_id="unreachable", cause="unreachable"
    )
    assert ["cause:directory:contoso", "cause:observer:contoso"] == sorted(
        keys([domain, organization, unreachable])
    )


def test_over_privilege_in_two_environments_is_one_cause() -> None:
    """System Administrator in prod and in test: one privilege cause with both as evidence."""
    findings = [
        make(FindingKind.OVER_PRIVILEGED, environment="prod", subject_id="prod"),
        make(FindingKind.OVER_PRIVILEGED, environment="test", subject_id="test"),
    ]
    (finding,) = incident_findings(findings, NOW)
    assert ("cause:privilege:contoso/sales-sync", None, 2) == (
        finding.key,
        finding.environment,
        len(finding.details["evidence"]),  # type: ignore[arg-type]
    )


def test_recovering_evidence_only_keeps_the_incident_recovering() -> None:
    """An incident whose every piece of evidence is recovering is recovering itself (it keeps
    the incident open but opens nothing)."""
    finding = incident_finding(
        Cause("account", "contoso", "sales-sync"),
        [make(FindingKind.ACCOUNT_DISABLED, Level.CRITICAL, recovering=True)],
        NOW,
    )
    assert (True, Level.CRITICAL) == (finding.details[RECOVERING], finding.level)


def test_cause_kind_reads_a_cause_key() -> None:
    """The kind of a cause key; None for a key of another form (an incident of an older
    version, keyed by its finding)."""
    assert ("credential", "throttling", None) == (
        cause_kind("cause:credential:contoso/sales-sync"),
        cause_kind("cause:throttling:contoso"),
        cause_kind("credential_expiring:contoso/sales-sync/-:secret"),
    )


def test_the_observers_own_expiring_secret_is_an_observer_cause() -> None:
    """The observer's own credential (no identity) is the observer's cause, not a tenant
    credential."""
    finding = make(FindingKind.CREDENTIAL_EXPIRING, identity=None, subject_id="observer")
    assert Cause("observer", "contoso") == cause_of(finding)
