"""Helpers for the end-to-end tests: a scenario, a deployment on disk, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509

from monitor.simulator import Scenario, scenario_from_dict
from monitor.simulator.ca import make_client_certificate

TENANT_ID = "0b7e3c52-6f0e-4a4e-9c39-5d0c3f3f1a01"
SECRET_APP = "1a8f8f62-3c1b-4f6b-8d59-1f6a9a3d2b01"
CERT_APP = "2b9a9a73-4d2c-4a7c-9e6a-2a7bab4e3c02"
PUBLIC_APP = "3cab0b84-5e3d-4b8d-8f7b-3b8cbc5f4d03"
APP_SECRET = "E2E-app-secret-Vx8Q~3kPq9ZrT1mW"
USER_UPN = "svc-e2e@e2e.example"
USER_PASSWORD = "E2E-user-password-7hG2kL9q"
ENVIRONMENTS = ("e2e-prod", "e2e-test")


def make_certificate() -> tuple[bytes, x509.Certificate]:
    """Return (PEM private key + certificate, certificate) for a certificate identity."""
    return make_client_certificate("e2e-cert-app")


def e2e_scenario() -> Scenario:
    role = ["Integration"]  # Dataverse refuses a member without a security role
    members = [
        {"app": SECRET_APP, "roles": role},
        {"app": CERT_APP, "roles": role},
        {"user": USER_UPN, "roles": role, "access_mode": 4},  # a non-interactive service user
    ]
    return scenario_from_dict(
        {
            "name": "e2e",
            "tenants": [{"name": "e2e", "id": TENANT_ID, "domain": "e2e.example"}],
            "apps": [
                {
                    "client_id": SECRET_APP,
                    "tenant": "e2e",
                    "secrets": [{"value": APP_SECRET, "end": "+30d"}],
                },
                {"client_id": CERT_APP, "tenant": "e2e"},
                {"client_id": PUBLIC_APP, "tenant": "e2e", "allow_public_client": True},
            ],
            "users": [{"upn": USER_UPN, "password": USER_PASSWORD}],
            "environments": [
                {"name": name, "tenant": "e2e", "members": members} for name in ENVIRONMENTS
            ],
        }
    )


@dataclass
class Deployment:
    """A configuration file, its credentials folder and its database, as an operator has them."""

    root: Path
    config: Path
    credentials: Path
    database: Path
    secrets: dict[str, bytes] = field(default_factory=dict)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["CREDENTIALS_DIRECTORY"] = str(self.credentials)
        env.pop("MONITOR_CONFIG", None)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``monitor --config CONFIG ARGS...`` in a subprocess; return the finished process."""
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env(extra_env),
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def write_secret(self, name: str, value: bytes) -> None:
        path = self.credentials / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(value)
        self.secrets[name] = value


class SimulatorAddress(Protocol):
    """Where a simulator is: a :class:`Simulator` in this process, or one in a subprocess."""

    @property
    def authority_host(self) -> str: ...

    @property
    def graph_url(self) -> str: ...

    @property
    def ca_path(self) -> Path: ...

    def environment_url(self, name: str) -> str: ...


def write_deployment(
    root: Path,
    sim: SimulatorAddress,
    certificate_pem: bytes,
    *,
    identities: Sequence[str] = ("app-secret", "app-cert", "user-password"),
    app_secret: str = APP_SECRET,
    password: str = USER_PASSWORD,
    ca_bundle: Path | None = None,
    authority_host: str | None = None,
    environments: Sequence[str] = ("e2e-prod",),
    deadline_seconds: float = 10,
    network_extra: str = "",
) -> Deployment:
    root.mkdir(parents=True, exist_ok=True)
    credentials = root / "credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    deployment = Deployment(
        root=root,
        config=root / "monitor.toml",
        credentials=credentials,
        database=root / "state" / "monitor.db",
    )
    deployment.write_secret("app-secret", app_secret.encode())
    deployment.write_secret("app-cert.pem", certificate_pem)
    deployment.write_secret("user-password", password.encode())
    env_list = ", ".join(f'"{name}"' for name in environments)
    blocks = {
        "app-secret": f"""
[identities.app-secret]
kind = "application"
tenant = "e2e"
client_id = "{SECRET_APP}"
secret = {{ credential = "app-secret" }}
environments = [{env_list}]
owner = "ops@e2e.example"
tags = ["e2e"]
""",
        "app-cert": f"""
[identities.app-cert]
kind = "application"
tenant = "e2e"
client_id = "{CERT_APP}"
certificate = {{ credential = "app-cert.pem" }}
environments = [{env_list}]
""",
        "user-password": f"""
[identities.user-password]
kind = "user"
tenant = "e2e"
client_id = "{PUBLIC_APP}"
username = "{USER_UPN}"
password = {{ credential = "user-password" }}
environments = [{env_list}]
""",
    }
    environment_blocks = "".join(
        f"""
[environments.{name}]
tenant = "e2e"
url = "{sim.environment_url(name)}"
"""
        for name in ENVIRONMENTS
    )
    text = f"""
[network]
ca_bundle = "{ca_bundle or sim.ca_path}"
connect_timeout_seconds = 2
read_timeout_seconds = 3
probe_deadline_seconds = {deadline_seconds}
{network_extra}

[database]
path = "{deployment.database}"

[tenants.e2e]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "{authority_host or sim.authority_host}"
graph_url = "{sim.graph_url}"
{environment_blocks}
{"".join(blocks[name] for name in identities)}
"""
    deployment.config.write_text(text)
    deployment.config.chmod(0o600)
    return deployment
