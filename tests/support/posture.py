"""A simulated tenant with posture facts, and a configuration pointing at it (observer included).

Used by the directory integration tests and the posture end-to-end tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from monitor.config import Config, load_config
from monitor.simulator import Scenario, Simulator, scenario_from_dict

TENANT_ID = "0b7e3c52-6f0e-4a4e-9c39-5d0c3f3f1a01"
OBSERVER = "4dbc1c95-6f4e-4b9e-8f7b-4c9dcd6f5e04"
OBSERVER_SECRET = "oBs8Q~integration-observer-secret-000"
APP = "1a8f8f62-3c1b-4f6b-8d59-1f6a9a3d2b01"
APP_SECRET = "aPp8Q~integration-app-secret-0000000"
NEXT_SECRET = "nXt8Q~integration-next-secret-000000"
OUTSIDER = "5ecd2da6-7a5f-4cab-9a8c-5dade7a06f05"
PUBLIC = "3cab0b84-5e3d-4b8d-8f7b-3b8cbc5f4d03"
CERT_APP = "6fde3eb7-8b6a-4dbc-8b9d-6ebef8b17006"
USER = "svc-sync@posture.example"
PASSWORD = "Posture-user-password-7hG2kL9q"
FINANCE_USER = "svc-finance@posture.example"
FINANCE_PASSWORD = "Posture-finance-password-3kJ8mN2p"
ENVIRONMENT = "prod"
SECOND_ENVIRONMENT = "test"
ALL_PERMISSIONS = [
    "Application.Read.All",
    "User.Read.All",
    "Domain.Read.All",
    "Organization.Read.All",
]


def posture_scenario(
    *, other_noninteractive_users: int = 4, second_environment: bool = False
) -> Scenario:
    """One tenant: an app whose secret ends in 10 days (System Administrator in prod), an app
    not in prod, a licensed user with a 90-day password policy, an observer with every
    permission and a read role. With *second_environment*, a "test" environment where the app
    is System Administrator too and the user a salesperson."""
    environments = [
        {
            "name": ENVIRONMENT,
            "tenant": "posture",
            "other_noninteractive_users": other_noninteractive_users,
            "members": [
                {"app": OBSERVER, "roles": ["Monitor reader"]},
                {"app": APP, "roles": ["System Administrator"]},
                {"user": USER, "roles": ["Salesperson"]},
                {"app": CERT_APP, "roles": ["ERP integration"]},
                {"user": FINANCE_USER, "access_mode": 4, "roles": ["Finance export"]},
            ],
        }
    ]
    if second_environment:
        environments.append(
            {
                "name": SECOND_ENVIRONMENT,
                "tenant": "posture",
                "members": [
                    {"app": OBSERVER, "roles": ["Monitor reader"]},
                    {"app": APP, "roles": ["System Administrator"]},
                    {"user": USER, "roles": ["Salesperson"]},
                    {"app": CERT_APP, "roles": ["ERP integration"]},
                ],
            }
        )
    return scenario_from_dict(
        {
            "name": "posture",
            "tenants": [
                {
                    "name": "posture",
                    "id": TENANT_ID,
                    "domain": "posture.example",
                    "password_validity_days": 90,
                    "skus": [{"part_number": "DYN365_ENTERPRISE_SALES", "enabled": 1}],
                }
            ],
            "apps": [
                {
                    "client_id": OBSERVER,
                    "tenant": "posture",
                    "name": "Monitor observer",
                    "graph_permissions": ALL_PERMISSIONS,
                    "secrets": [{"value": OBSERVER_SECRET, "end": "+400d", "name": "observer"}],
                },
                {
                    "client_id": APP,
                    "tenant": "posture",
                    "name": "Sales sync",
                    "secrets": [{"value": APP_SECRET, "end": "+10d", "name": "sales 2025"}],
                },
                {
                    "client_id": OUTSIDER,
                    "tenant": "posture",
                    "name": "Outsider",
                    "secrets": [{"value": APP_SECRET, "end": "+300d"}],
                },
                {"client_id": PUBLIC, "tenant": "posture", "allow_public_client": True},
                {"client_id": CERT_APP, "tenant": "posture", "name": "ERP connector"},
            ],
            "users": [
                {
                    "upn": USER,
                    "password": PASSWORD,
                    "licences": ["DYN365_ENTERPRISE_SALES"],
                    "password_changed": "-10d",
                },
                {
                    "upn": FINANCE_USER,
                    "password": FINANCE_PASSWORD,
                    "enabled": False,
                    "password_changed": "-10d",
                    "password_policies": "DisablePasswordExpiration",
                },
            ],
            "environments": environments,
        }
    )


def write_config(
    root: Path,
    sim: Simulator,
    *,
    observer: bool = True,
    observer_secret: str = OBSERVER_SECRET,
    app_secret: str = APP_SECRET,
    identities: Sequence[str] = ("sales-sync", "outsider", "svc-sync"),
    extra: str = "",
    certificate_file: Path | None = None,
    environments: Sequence[str] = (ENVIRONMENT,),
) -> Config:
    """Write a private configuration (inline secrets) for the simulator and load it; the
    identities use *environments* (each declared)."""
    env_list = ", ".join(f'"{name}"' for name in environments)
    root.mkdir(parents=True, exist_ok=True)
    observer_line = (
        f'observer = {{ client_id = "{OBSERVER}", secret = "{observer_secret}" }}'
        if observer
        else ""
    )
    blocks = {
        "sales-sync": f"""
[identities.sales-sync]
kind = "application"
tenant = "posture"
client_id = "{APP}"
secret = "{app_secret}"
environments = [{env_list}]
""",
        "outsider": f"""
[identities.outsider]
kind = "application"
tenant = "posture"
client_id = "{OUTSIDER}"
secret = "{APP_SECRET}"
environments = [{env_list}]
""",
        "erp": f"""
[identities.erp]
kind = "application"
tenant = "posture"
client_id = "{CERT_APP}"
certificate = {{ file = "{certificate_file}" }}
environments = [{env_list}]
""",
        "finance": f"""
[identities.finance]
kind = "user"
tenant = "posture"
client_id = "{PUBLIC}"
username = "{FINANCE_USER}"
password = "{FINANCE_PASSWORD}"
environments = [{env_list}]
""",
        "svc-sync": f"""
[identities.svc-sync]
kind = "user"
tenant = "posture"
client_id = "{PUBLIC}"
username = "{USER}"
password = "{PASSWORD}"
environments = [{env_list}]
""",
    }
    environment_blocks = "".join(
        f"""
[environments.{name}]
tenant = "posture"
url = "{sim.environment_url(name)}"
"""
        for name in environments
    )
    path = config_path(root)
    path.write_text(
        f"""
[network]
ca_bundle = "{sim.ca_path}"
connect_timeout_seconds = 2
read_timeout_seconds = 5
probe_deadline_seconds = 10

[database]
path = "{root / "monitor.db"}"
{extra}
[tenants.posture]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "{sim.authority_host}"
graph_url = "{sim.graph_url}"
{observer_line}
{environment_blocks}
{"".join(blocks[name] for name in identities)}
"""
    )
    path.chmod(0o600)
    return load_config(path, environ={})


def config_path(root: Path) -> Path:
    return root / "monitor.toml"


def certificate_expiring_in(
    days: float, common_name: str = "erp-connector"
) -> tuple[bytes, x509.Certificate]:
    """Return (PEM private key + certificate, certificate) whose notAfter is *days* away."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=300))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
    return pem, certificate
