"""Deployments and findings for the alerting tests: a config on disk with channels whose URLs are
systemd-style credentials, and factories for findings and probe results at chosen times."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor.config import Config, load_config
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.store import Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

SENTINEL_SIG = "SENTINELsigQ7fKx2pLm9"
SENTINEL_SMTP_PASSWORD = "SENTINEL-smtp-pw-4Rt8"
SENTINEL_APP_SECRET = "SENTINEL-app-secret-Zk3p"
SENTINEL_HEARTBEAT = "SENTINELbeat5Hq"
SENTINELS = (SENTINEL_SIG, SENTINEL_SMTP_PASSWORD, SENTINEL_APP_SECRET, SENTINEL_HEARTBEAT)

TENANTS = {
    "contoso": "0b7e3c52-6f0e-4a4e-9c39-5d0c3f3f1a01",
    "fabrikam": "1c8f4d63-7a1f-4b5f-8d4a-6e1d4a4a2b02",
}


@dataclass(frozen=True)
class IdentitySpec:
    name: str
    tenant: str = "contoso"
    environments: tuple[str, ...] = ("contoso-prod",)
    tags: tuple[str, ...] = ()
    owner: str = "crm-team@example.com"


DEFAULT_IDENTITIES = (
    IdentitySpec("sales-sync", tags=("sales",)),
    IdentitySpec("inventory-sync", tags=("inventory",)),
)


@dataclass
class AlertingDeployment:
    """A config file with its credentials folder, as an operator has it."""

    root: Path
    config_path: Path
    credentials: Path
    database: Path
    secrets: dict[str, str] = field(default_factory=dict)

    def load(self) -> Config:
        return load_config(self.config_path, environ={}, credentials_directory=self.credentials)

    def open_store(self) -> Store:
        return Store.open(self.database)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["CREDENTIALS_DIRECTORY"] = str(self.credentials)
        env.pop("MONITOR_CONFIG", None)
        env.update(extra or {})
        return env


def _write_private(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(value)


def write_deployment(
    root: Path,
    *,
    channels: Sequence[Mapping[str, Any]] = (),
    alerts: str = "",
    identities: Sequence[IdentitySpec] = DEFAULT_IDENTITIES,
    extra: str = "",
) -> AlertingDeployment:
    """Write ``monitor.toml`` with *identities* and *channels* (each ``name``, ``urls`` (the
    real URLs, stored as credentials), optional ``severities``, ``tags``, ``fallback``) plus
    *alerts* (TOML text of ``[alerts]`` tables)."""
    root.mkdir(parents=True, exist_ok=True)
    credentials = root / "credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    deployment = AlertingDeployment(
        root=root,
        config_path=root / "monitor.toml",
        credentials=credentials,
        database=root / "state" / "monitor.db",
    )
    _write_private(credentials / "app-secret", SENTINEL_APP_SECRET)
    _write_private(credentials / "fingerprint-key", "k" * 32)
    environments = sorted({env for spec in identities for env in spec.environments})
    lines = [
        "[database]",
        f'path = "{deployment.database}"',
        'fingerprint_key = { credential = "fingerprint-key" }',
        "",
    ]
    for tenant, tenant_id in TENANTS.items():
        lines += [f"[tenants.{tenant}]", f'tenant_id = "{tenant_id}"', ""]
    for environment in environments:
        tenant = environment.split("-")[0]
        lines += [
            f"[environments.{environment}]",
            f'tenant = "{tenant}"',
            f'url = "https://{environment}.crm.dynamics.com"',
            "",
        ]
    for spec in identities:
        client_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, spec.name))
        envs = ", ".join(f'"{e}"' for e in spec.environments)
        tags = ", ".join(f'"{t}"' for t in spec.tags)
        lines += [
            f"[identities.{spec.name}]",
            'kind = "application"',
            f'tenant = "{spec.tenant}"',
            f'client_id = "{client_id}"',
            'secret = { credential = "app-secret" }',
            f"environments = [{envs}]",
            f'owner = "{spec.owner}"',
            f"tags = [{tags}]",
            "",
        ]
    for channel in channels:
        refs = []
        for i, url in enumerate(channel["urls"]):
            name = f"channel-{channel['name']}-{i}"
            _write_private(credentials / name, url)
            deployment.secrets[name] = url
            refs.append(f'{{ credential = "{name}" }}')
        lines += ["[[channels]]", f'name = "{channel["name"]}"', f"urls = [{', '.join(refs)}]"]
        if "severities" in channel:
            lines.append(
                "severities = [" + ", ".join(f'"{s}"' for s in channel["severities"]) + "]"
            )
        if "tags" in channel:
            lines.append("tags = [" + ", ".join(f'"{t}"' for t in channel["tags"]) + "]")
        if "fallback" in channel:
            lines.append(f'fallback = "{channel["fallback"]}"')
        lines.append("")
    lines += [alerts, extra]
    deployment.config_path.write_text("\n".join(lines), encoding="utf-8")
    return deployment


def finding(
    identity: str = "sales-sync",
    *,
    kind: FindingKind = FindingKind.CREDENTIAL_EXPIRING,
    level: Level = Level.WARNING,
    tenant: str = "contoso",
    deadline: datetime | None = None,
    subject: str = "client secret 'prod-2025'",
    summary: str = "the client secret expires; no successor registered",
    subject_id: str = "secret-1",
    observed_at: datetime = T0,
    environment: str | None = None,
    details: Mapping[str, object] | None = None,
) -> Finding:
    """Return a finding such as posture produces (an expiring client secret by default)."""
    return Finding(
        key=Finding.make_key(kind, tenant=tenant, identity=identity, subject_id=subject_id),
        kind=kind,
        level=level,
        tenant=tenant,
        identity=identity,
        environment=environment,
        subject=subject,
        summary=summary,
        remedy="Add a new client secret, deploy it to the integration, then remove the old one.",
        observed_at=observed_at,
        source="graph",
        deadline=deadline,
        details=MappingProxyType(dict(details or {})),
    )


def probe(
    identity: str,
    at: datetime,
    outcome: Outcome = Outcome.OK,
    *,
    environment: str = "contoso-prod",
    tenant: str = "contoso",
    aadsts_code: int | None = None,
) -> ProbeResult:
    """Return a probe result of *identity* at *at*."""
    return ProbeResult(
        identity=identity,
        environment=environment,
        tenant=tenant,
        credential_type="client_secret",
        started_at=at,
        duration_ms=100,
        outcome=outcome,
        stage="token" if outcome is not Outcome.OK else "dataverse",
        message=f"{outcome.value} (test)",
        aadsts_code=aadsts_code,
    )


def record(store: Store, results: Sequence[ProbeResult], at: datetime) -> None:
    """Store *results* as one check run at *at*."""
    store.probes.record_results(
        RunRecord(
            run_id=uuid.uuid4().hex,
            kind="check",
            started_at=at,
            finished_at=at + timedelta(seconds=1),
        ),
        results,
    )
