"""Builders for posture rule tests: a configuration in code and observations of facts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config.model import (
    CertificateCredential,
    Config,
    DatabaseConfig,
    DirectoryConfig,
    EnvironmentConfig,
    IdentityConfig,
    NetworkConfig,
    ObserverConfig,
    ProbingConfig,
    TenantConfig,
)
from monitor.findings.posture import Posture, evaluate_posture
from monitor.model.findings import Finding, FindingKind
from monitor.model.observations import (
    AppCredentials,
    Fact,
    NotObservedCause,
    Observation,
    RegisteredCredential,
    Source,
)
from monitor.secrets import Secret

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TENANT = "contoso"
ENVIRONMENT = "prod"


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def app_identity(
    name: str = "sales-sync",
    *,
    environments: Sequence[str] = (ENVIRONMENT,),
    certificate_not_after: datetime | None = None,
    declared: datetime | None = None,
    declared_source: str | None = None,
) -> IdentityConfig:
    certificate = (
        CertificateCredential(
            data=Secret(b"-----BEGIN CERTIFICATE-----\nfake\n", "test"),
            thumbprint_sha1="AB" * 20,
            not_after=certificate_not_after,
        )
        if certificate_not_after is not None
        else None
    )
    return IdentityConfig(
        name=name,
        kind="application",
        tenant=TENANT,
        client_id="5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d",
        environments=tuple(environments),
        secret=None if certificate else Secret("posture-test-secret-value", "test"),
        certificate=certificate,
        credential_expires=declared,
        credential_expires_source=declared_source,
    )


def user_identity(
    name: str = "crm-import",
    *,
    username: str = "j.doe@contoso.com",
    environments: Sequence[str] = (ENVIRONMENT,),
) -> IdentityConfig:
    return IdentityConfig(
        name=name,
        kind="user",
        tenant=TENANT,
        client_id="2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a",
        environments=tuple(environments),
        username=username,
        password=Secret("posture-test-password", "test"),
    )


def config(
    *identities: IdentityConfig,
    environments: Iterable[str] = (ENVIRONMENT,),
    observer: bool = True,
    directory: DirectoryConfig | None = None,
) -> Config:
    return Config(
        source=Path("/etc/monitor/monitor.toml"),
        network=NetworkConfig(),
        probing=ProbingConfig(),
        database=DatabaseConfig(path=Path("/var/lib/monitor/monitor.db")),
        tenants={
            TENANT: TenantConfig(
                name=TENANT,
                tenant_id="3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70",
                cloud="public",
                authority_host="https://login.microsoftonline.com",
                graph_url="https://graph.microsoft.com",
                observer=ObserverConfig(
                    client_id="9b0d7c2e-1f3a-4e5b-8c6d-7e8f9a0b1c2d",
                    secret=Secret("observer-test-secret", "test"),
                )
                if observer
                else None,
            )
        },
        environments={
            name: EnvironmentConfig(name, TENANT, f"https://{name}.crm.dynamics.com")
            for name in environments
        },
        identities={identity.name: identity for identity in identities},
        directory=directory or DirectoryConfig(),
    )


def observe(
    fact: Fact,
    *,
    identity: str | None = None,
    environment: str | None = None,
    subject: str = "",
    source: Source = "graph",
    at: datetime = NOW,
    since: datetime | None = None,
) -> Observation:
    observation = Observation.of(
        fact,
        tenant=TENANT,
        identity=identity,
        environment=environment,
        subject=subject,
        source=source,
        observed_at=at,
    )
    if since is None:
        return observation
    from dataclasses import replace

    return replace(observation, since=since)


def missing(
    kind: str,
    cause: NotObservedCause,
    reason: str,
    *,
    identity: str | None = None,
    environment: str | None = None,
    subject: str = "",
    source: Source = "graph",
) -> Observation:
    return Observation.missing(
        kind,
        tenant=TENANT,
        identity=identity,
        environment=environment,
        subject=subject,
        source=source,
        observed_at=NOW,
        cause=cause,
        reason=reason,
    )


def secret(
    key_id: str,
    end: datetime | None,
    *,
    in_use: bool = False,
    start: datetime | None = None,
    name: str | None = None,
    kind: str = "client_secret",
) -> RegisteredCredential:
    return RegisteredCredential(
        key_id=key_id,
        type="certificate" if kind == "certificate" else "client_secret",
        display_name=name if name is not None else key_id,
        start=start if start is not None else NOW - timedelta(days=300),
        end=end,
        in_use=in_use,
    )


def credentials(
    *registered: RegisteredCredential, configured: str = "client_secret"
) -> AppCredentials:
    in_use = any(c.in_use for c in registered)
    return AppCredentials(
        client_id="5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d",
        display_name="Sales sync",
        configured="certificate" if configured == "certificate" else "client_secret",
        matched_by=("thumbprint" if configured == "certificate" else "hint") if in_use else "none",
        credentials=registered,
    )


def evaluate(cfg: Config, *observations: Observation, now: datetime = NOW) -> Posture:
    return evaluate_posture(observations, cfg, now)


def findings_of(posture: Posture, kind: FindingKind, identity: str | None = None) -> list[Finding]:
    return [
        finding
        for finding in posture.findings
        if finding.kind is kind and (identity is None or finding.identity == identity)
    ]


def only(posture: Posture, kind: FindingKind, identity: str | None = None) -> Finding:
    found = findings_of(posture, kind, identity)
    assert len(found) == 1, [f.summary for f in posture.findings]
    return found[0]
