"""A small, known history for the report's tests, written by the real store.

Five identity/environment pairs probed every 2 hours for the 12 days before ``now``:

* ``sales-sync`` (secret, tenant contoso, tag sales) in ``contoso-prod``: ``credential_invalid``
  from now-10d to now-9d (12 results), ok otherwise; in ``contoso-test``: always ok.
* ``dataverse-sync`` (password, contoso): ok until ``account_locked`` at now-6h, then two held
  results; its lockout guard holds until now+1h.
* ``cert-app`` (certificate, tenant fabrikam, tag finance) in ``fabrikam-prod``: always ok; its
  configured certificate file ends at now+10d.
* ``flaky-app`` (secret, fabrikam) in ``fabrikam-prod``: ok but ``unreachable`` at now-5d and
  now-3d and ``throttled`` at now-1d (could not verify: not downtime).

:func:`add_feature_tables` adds the posture, incident and usage tables the report reads (the
shape the report expects from those features) with a few rows.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from monitor.model.lockout import LockoutGuard
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.report.context import IdentityMeta
from monitor.store import Store

STEP = dt.timedelta(hours=2)
TICKS = 144  # 12 days
PAIRS = (
    ("sales-sync", "contoso-prod", "contoso", "client_secret"),
    ("sales-sync", "contoso-test", "contoso", "client_secret"),
    ("dataverse-sync", "contoso-prod", "contoso", "password"),
    ("cert-app", "fabrikam-prod", "fabrikam", "certificate"),
    ("flaky-app", "fabrikam-prod", "fabrikam", "client_secret"),
)
SECRET_MESSAGE = "AADSTS7000215: Invalid client secret provided."
CERTIFICATE_DAYS = 10


@dataclass(frozen=True)
class History:
    path: Path
    now: dt.datetime


def metas(now: dt.datetime) -> dict[str, IdentityMeta]:
    """Return the configured identities of the history (as a configuration would give)."""
    return {
        "sales-sync": IdentityMeta(
            "sales-sync",
            "application",
            "contoso",
            "client_secret",
            ("contoso-prod", "contoso-test"),
            ("sales",),
        ),
        "dataverse-sync": IdentityMeta(
            "dataverse-sync", "user", "contoso", "password", ("contoso-prod",), ("sales",)
        ),
        "cert-app": IdentityMeta(
            "cert-app",
            "application",
            "fabrikam",
            "certificate",
            ("fabrikam-prod",),
            ("finance",),
            certificate_not_after=now + dt.timedelta(days=CERTIFICATE_DAYS),
            certificate_thumbprint="AB12CD34EF",
        ),
        "flaky-app": IdentityMeta(
            "flaky-app", "application", "fabrikam", "client_secret", ("fabrikam-prod",)
        ),
    }


def _outcome(
    identity: str, environment: str, at: dt.datetime, now: dt.datetime
) -> tuple[Outcome, bool]:
    """Return (outcome, attempted) of the result of a pair at *at*."""
    down = now - dt.timedelta(days=10) <= at < now - dt.timedelta(days=9)
    if identity == "sales-sync" and environment == "contoso-prod" and down:
        return Outcome.CREDENTIAL_INVALID, True
    if identity == "dataverse-sync":
        if at == now - dt.timedelta(hours=6):
            return Outcome.ACCOUNT_LOCKED, True
        if at > now - dt.timedelta(hours=6):
            return Outcome.ACCOUNT_LOCKED, False
    if identity == "flaky-app":
        if at in (now - dt.timedelta(days=5), now - dt.timedelta(days=3)):
            return Outcome.UNREACHABLE, True
        if at == now - dt.timedelta(days=1):
            return Outcome.THROTTLED, True
    return Outcome.OK, True


def write_history(path: Path, now: dt.datetime) -> History:
    """Write the history into a new database at *path*, ending just before *now*."""
    start = now - TICKS * STEP
    with Store.open(path) as store:
        for day in range(TICKS // 12):
            results = []
            for tick in range(day * 12, day * 12 + 12):
                at = start + tick * STEP
                for identity, environment, tenant, credential_type in PAIRS:
                    outcome, attempted = _outcome(identity, environment, at, now)
                    results.append(
                        ProbeResult(
                            identity=identity,
                            environment=environment,
                            tenant=tenant,
                            credential_type=credential_type,
                            started_at=at,
                            duration_ms=150,
                            outcome=outcome,
                            stage="token" if outcome is not Outcome.OK else "dataverse",
                            attempted=attempted,
                            message=SECRET_MESSAGE if outcome is Outcome.CREDENTIAL_INVALID else "",
                            aadsts_code=7000215 if outcome is Outcome.CREDENTIAL_INVALID else None,
                        )
                    )
            day_start = start + day * 12 * STEP
            store.probes.record_results(
                RunRecord(str(uuid.uuid4()), "scheduled", day_start, day_start + 12 * STEP),
                results,
            )
        store.guards.hold(
            LockoutGuard(
                "dataverse-sync",
                None,
                Outcome.ACCOUNT_LOCKED,
                50053,
                now - dt.timedelta(hours=6),
                now + dt.timedelta(hours=1),
                3600,
                0,
                None,
                None,
            )
        )
    return History(path, now)


def _us(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def posture_feature_present() -> bool:
    """Return whether this checkout has the posture feature (its rules and its migration)."""
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    return importlib.util.find_spec("monitor.findings.posture") is not None and any(
        versions.glob("0003_posture*.py")
    )


POSTURE = posture_feature_present()
POSTURE_MISSING = "the posture feature (migration 0003_posture) is not in this checkout"


def posture_facts(now: dt.datetime) -> list[tuple[str, str | None, str, Any]]:
    """Return (tenant, identity, subject, fact) of the directory facts of the history:
    ``sales-sync``'s client secret 'prod-2025' (in use) ends in 5 days; ``dataverse-sync``'s
    password was changed 50 days ago under a 90-day policy (ends in 40 days) and it holds an
    ENTERPRISEPACK licence."""
    from monitor.model.observations import (
        AppCredentials,
        DomainPolicy,
        Licence,
        RegisteredCredential,
        UserAccount,
        UserLicences,
    )

    secret = RegisteredCredential(
        "k1",
        "client_secret",
        "prod-2025",
        now - dt.timedelta(days=300),
        now + dt.timedelta(days=5),
        True,
    )
    return [
        (
            "contoso",
            "sales-sync",
            "",
            AppCredentials(
                client_id="5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d",
                display_name="sales-sync",
                configured="client_secret",
                matched_by="hint",
                credentials=(secret,),
            ),
        ),
        (
            "contoso",
            "dataverse-sync",
            "",
            UserAccount(
                found=True,
                user_principal_name="svc-dataverse-sync@contoso.com",
                account_enabled=True,
                last_password_change=now - dt.timedelta(days=50),
            ),
        ),
        (
            "contoso",
            "dataverse-sync",
            "",
            UserLicences(
                licences=(Licence("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK"),)
            ),
        ),
        (
            "contoso",
            None,
            "contoso.com",
            DomainPolicy(domain="contoso.com", password_validity_days=90),
        ),
    ]


def add_feature_tables(path: Path, now: dt.datetime) -> None:
    """Add rows to the posture, incident and usage tables (creating the incident and usage
    tables in the shape the report reads if their migrations are absent): the directory facts
    of :func:`posture_facts`; one open critical incident, a resolved one and a resolved
    tenant-wide one; ``sales-sync`` used 90% of its allocation."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            if "usage_daily" not in tables:  # the usage migration is not there: its shape
                connection.execute(
                    "CREATE TABLE usage_daily (id INTEGER PRIMARY KEY, identity TEXT,"
                    " environment TEXT, day TEXT, requests INTEGER, allocation INTEGER,"
                    " source TEXT)"
                )
            if "incident" not in tables:  # the alerting migration is not there: its shape
                connection.execute(
                    "CREATE TABLE incident (id INTEGER PRIMARY KEY, key TEXT, kind TEXT,"
                    " level TEXT, tenant TEXT, identity TEXT, environment TEXT, subject TEXT,"
                    " summary TEXT, remedy TEXT, source TEXT, details TEXT, deadline INTEGER,"
                    " opened_at INTEGER, observed_at INTEGER, resolved_at INTEGER,"
                    " acknowledged_at INTEGER)"
                )
            seen = _us(now - dt.timedelta(hours=1))
            if "posture_fact" in tables:  # the posture feature is in this checkout
                facts = posture_facts(now)
                connection.executemany(
                    "INSERT INTO posture_fact (fact_key, kind, tenant, identity, environment,"
                    " subject, source, observed, cause, reason, value, since, last_observed_at)"
                    " VALUES (?, ?, ?, ?, NULL, ?, 'graph', 1, NULL, NULL, ?, ?, ?)",
                    [
                        (
                            f"{fact.kind}:{tenant}/{identity or '-'}/-:{subject}",
                            fact.kind,
                            tenant,
                            identity,
                            subject,
                            json.dumps(fact.to_json(), sort_keys=True),
                            seen,
                            seen,
                        )
                        for tenant, identity, subject, fact in facts
                    ],
                )
            connection.executemany(
                "INSERT INTO incident (id, key, kind, level, tenant, identity, environment,"
                " subject, summary, remedy, source, details, deadline, opened_at, observed_at,"
                " resolved_at, acknowledged_at) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'probe', '{}', NULL, ?, ?, ?, NULL)",
                [
                    (
                        2,
                        "account_locked:contoso/dataverse-sync/contoso-prod:",
                        "account_locked",
                        "critical",
                        "contoso",
                        "dataverse-sync",
                        "contoso-prod",
                        "password",
                        "account locked",
                        "Unlock the account in Entra ID, then update the password copies.",
                        _us(now - dt.timedelta(hours=6)),
                        seen,
                        None,
                    ),
                    (
                        1,
                        "credential_broken:contoso/sales-sync/contoso-prod:",
                        "credential_broken",
                        "critical",
                        "contoso",
                        "sales-sync",
                        "contoso-prod",
                        "client secret",
                        "client secret rejected",
                        "Put the current client secret in the integration and the monitor.",
                        _us(now - dt.timedelta(days=10)),
                        _us(now - dt.timedelta(days=9)),
                        _us(now - dt.timedelta(days=9)),
                    ),
                    (
                        3,
                        "cannot_verify:fabrikam/-/-:",
                        "cannot_verify",
                        "warning",
                        "fabrikam",
                        None,
                        None,
                        "sign-in",
                        "cannot verify fabrikam: identity provider unreachable",
                        "Check the network path to the identity provider.",
                        _us(now - dt.timedelta(days=5, hours=1)),
                        _us(now - dt.timedelta(days=5)),
                        _us(now - dt.timedelta(days=5)),
                    ),
                ],
            )
            rows = []
            for back in range(7, 0, -1):
                day = (now - dt.timedelta(days=back)).date().isoformat()
                rows.append(
                    ("sales-sync", "contoso-prod", day, 4000 + back, 5000, "admin center csv")
                )
            rows[-1] = (rows[-1][0], rows[-1][1], rows[-1][2], 4500, 5000, rows[-1][5])
            connection.executemany(
                "INSERT INTO usage_daily (identity, environment, day, requests, allocation,"
                " source) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
    finally:
        connection.close()


def write_certificate(path: Path, not_after: dt.datetime) -> None:
    """Write a PEM key + self-signed certificate ending at *not_after* (mode 0600)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cert-app")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


CONFIG = """
[database]
path = "{database}"

[tenants.contoso]
tenant_id = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"

[tenants.fabrikam]
tenant_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[environments.contoso-test]
tenant = "contoso"
url = "https://contoso-test.crm.dynamics.com"

[environments.fabrikam-prod]
tenant = "fabrikam"
url = "https://fabrikam.crm.dynamics.com"

[identities.sales-sync]
kind = "application"
tenant = "contoso"
client_id = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
secret = {{ env = "REPORT_SALES_SECRET" }}
environments = ["contoso-prod", "contoso-test"]
tags = ["sales"]

[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-3c5d-4e6f-8a9b-0c1d2e3f4a5b"
username = "svc-dataverse-sync@contoso.com"
password = {{ env = "REPORT_USER_PASSWORD" }}
environments = ["contoso-prod"]
tags = ["sales"]

[identities.cert-app]
kind = "application"
tenant = "fabrikam"
client_id = "7e9f0a1b-3c5d-4e6f-8a9b-0c1d2e3f4a5b"
certificate = {{ file = "{certificate}" }}
environments = ["fabrikam-prod"]
tags = ["finance"]

[identities.flaky-app]
kind = "application"
tenant = "fabrikam"
client_id = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
secret = {{ env = "REPORT_FLAKY_SECRET" }}
environments = ["fabrikam-prod"]
"""

SECRETS = {
    "REPORT_SALES_SECRET": "Sentinel-sales-secret-Q7v~x",
    "REPORT_USER_PASSWORD": "Sentinel-user-password-K9z",
    "REPORT_FLAKY_SECRET": "Sentinel-flaky-secret-P3m~y",
}


def write_config(root: Path, database: Path, now: dt.datetime) -> Path:
    """Write a configuration for the history's identities (secrets from the environment, see
    SECRETS; the certificate file ends at now+10d) and return its path."""
    certificate = root / "cert-app.pem"
    write_certificate(certificate, now + dt.timedelta(days=CERTIFICATE_DAYS))
    path = root / "monitor.toml"
    path.write_text(CONFIG.format(database=database, certificate=certificate))
    path.chmod(0o600)
    return path
