"""Identifiers, builders and real-client helpers shared by the simulator tests."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from monitor.simulator import (
    Application,
    ClientCertificate,
    ClientSecret,
    Environment,
    Member,
    Scenario,
    Simulator,
    Sku,
    Tenant,
    User,
)

TENANT = "contoso"
TENANT_ID = "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"
OTHER_TENANT = "fabrikam"
OTHER_TENANT_ID = "8d2e4f60-7a1b-4c3d-9e8f-0a1b2c3d4e5f"

SECRET_APP = "5c1e8b3a-0000-4000-8000-000000000001"
CERTIFICATE_APP = "5c1e8b3a-0000-4000-8000-000000000002"
PUBLIC_APP = "5c1e8b3a-0000-4000-8000-000000000003"
DISABLED_APP = "5c1e8b3a-0000-4000-8000-000000000004"
FABRIKAM_APP = "5c1e8b3a-0000-4000-8000-000000000005"
OUTSIDER_APP = "5c1e8b3a-0000-4000-8000-000000000006"
DISABLED_MEMBER_APP = "5c1e8b3a-0000-4000-8000-000000000007"

GOOD_SECRET = "gOo8Q~good-secret-value-0123456789abcdef"
EXPIRED_SECRET = "eXp8Q~expired-secret-value-0123456789abc"
OTHER_SECRET = "oTh8Q~other-secret-value-0123456789abcde"

USER = "svc-sync@contoso.com"
PASSWORD = "Correct-Horse-Battery-9"

PROD = "contoso-prod"
TEST = "contoso-test"
FABRIKAM_PROD = "fabrikam-prod"

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$")


@dataclass(frozen=True)
class CertificatePair:
    """An RSA key and its self-signed certificate, as msal wants them."""

    key_pem: str
    cert_pem: str
    certificate: x509.Certificate

    @property
    def sha1(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - a thumbprint

    def sha256_credential(self) -> dict[str, str]:
        return {"private_key": self.key_pem, "public_certificate": self.cert_pem}

    def sha1_credential(self) -> dict[str, str]:
        return {"private_key": self.key_pem, "thumbprint": self.sha1}


def make_certificate_pair(common_name: str = "integration") -> CertificatePair:
    """Return a fresh RSA-2048 key with a self-signed certificate valid for a year."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return CertificatePair(key_pem, cert_pem, certificate)


INTEGRATION_ROLE = "Integration"


def build_scenario(certificate: CertificatePair) -> Scenario:
    """Return the scenario most simulator tests run against, built in code."""
    now = dt.datetime.now(dt.UTC)
    scenario = Scenario(name="tests")
    scenario.add_tenant(
        Tenant(TENANT, TENANT_ID, domain="contoso.com", extra_domains=("contoso.onmicrosoft.com",))
    )
    scenario.add_tenant(Tenant(OTHER_TENANT, OTHER_TENANT_ID, domain="fabrikam.com"))
    scenario.add_application(
        Application(
            SECRET_APP,
            TENANT,
            display_name="Sales sync",
            secrets=[
                ClientSecret(GOOD_SECRET, end=now + dt.timedelta(days=365)),
                ClientSecret(EXPIRED_SECRET, end=now - dt.timedelta(days=1)),
            ],
        )
    )
    scenario.add_application(
        Application(
            CERTIFICATE_APP,
            TENANT,
            display_name="ERP connector",
            certificates=[ClientCertificate(certificate.certificate)],
        )
    )
    scenario.add_application(
        Application(PUBLIC_APP, TENANT, display_name="Sync client", allow_public_client=True)
    )
    scenario.add_application(
        Application(
            DISABLED_APP,
            TENANT,
            display_name="Old app",
            enabled=False,
            secrets=[ClientSecret(GOOD_SECRET)],
        )
    )
    scenario.add_application(
        Application(FABRIKAM_APP, OTHER_TENANT, secrets=[ClientSecret(GOOD_SECRET)])
    )
    scenario.add_application(Application(OUTSIDER_APP, TENANT, secrets=[ClientSecret(GOOD_SECRET)]))
    scenario.add_application(
        Application(DISABLED_MEMBER_APP, TENANT, secrets=[ClientSecret(GOOD_SECRET)])
    )
    scenario.tenants[TENANT].add_sku(Sku("DYN365_ENTERPRISE_SALES", enabled=5))
    scenario.add_user(
        User(
            USER,
            PASSWORD,
            TENANT,
            display_name="Sync service",
            licences=["DYN365_ENTERPRISE_SALES"],
        )
    )
    role = [INTEGRATION_ROLE]  # Dataverse refuses a member without a security role
    prod = scenario.add_environment(Environment(PROD, TENANT))
    for client_id in (SECRET_APP, CERTIFICATE_APP):
        prod.add_member(Member(app=client_id, roles=list(role)))
    prod.add_member(Member(app=DISABLED_MEMBER_APP, disabled=True, roles=list(role)))
    prod.add_member(Member(user=USER, roles=list(role)))
    test = scenario.add_environment(Environment(TEST, TENANT, url_name="contoso-test.crm4"))
    test.add_member(Member(app=SECRET_APP, roles=list(role)))
    fabrikam = scenario.add_environment(Environment(FABRIKAM_PROD, OTHER_TENANT))
    fabrikam.add_member(Member(app=FABRIKAM_APP, roles=list(role)))
    return scenario


class PortRoutingSession(requests.Session):
    """A requests session that trusts only the simulator's CA and sends msal's port-less
    user-realm request (``https://localhost/common/userrealm/...``) to the simulator."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__()
        self.trust_env = False  # REQUESTS_CA_BUNDLE is set on these machines; ignore it
        self.verify = str(simulator.ca_path)
        self._portless = "https://localhost/common/userrealm/"
        self._routed = f"{simulator.authority_host}/common/userrealm/"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(self._portless):
            url = self._routed + url[len(self._portless) :]
        return super().request(method, url, *args, **kwargs)


def confidential_app(
    simulator: Simulator,
    session: requests.Session,
    client_id: str,
    credential: str | dict[str, Any],
    *,
    tenant: str = TENANT,
    client_claims: dict[str, Any] | None = None,
) -> msal.ConfidentialClientApplication:
    """Return a fresh msal confidential client (own token cache) against the simulator."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=simulator.authority(tenant),
        http_client=session,
        instance_discovery=False,
        azure_region=False,
        token_cache=msal.TokenCache(),
        client_claims=client_claims,
    )


def public_app(
    simulator: Simulator, session: requests.Session, client_id: str = PUBLIC_APP
) -> msal.PublicClientApplication:
    """Return a fresh msal public client (own token cache) against the simulator."""
    return msal.PublicClientApplication(
        client_id,
        authority=simulator.authority(TENANT),
        http_client=session,
        instance_discovery=False,
        azure_region=False,
        token_cache=msal.TokenCache(),
    )


def sign_in_with_password(
    application: msal.ClientApplication,
    scope: str,
    username: str = USER,
    password: str = PASSWORD,
) -> dict[str, Any]:
    """Run ROPC, silencing only msal's deprecation warning for public clients."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="This API has been deprecated", category=DeprecationWarning
        )
        result: dict[str, Any] = application.acquire_token_by_username_password(
            username, password, scopes=[scope]
        )
    return result


def default_scope(simulator: Simulator, environment: str = PROD) -> str:
    return simulator.environment_url(environment) + "/.default"


def who_am_i(
    simulator: Simulator, session: requests.Session, token: str | None, environment: str = PROD
) -> requests.Response:
    headers = {"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return session.get(
        simulator.environment_url(environment) + "/api/data/v9.2/WhoAmI",
        headers=headers,
        timeout=5,
    )


def assert_entra_error(
    result: dict[str, Any], error: str, code: int, *, suberror: str | None = None
) -> None:
    """Assert that ``result`` is an Entra error body of exactly the real shape."""
    assert result["error"] == error
    assert result["error_codes"] == [code]
    assert GUID.match(result["trace_id"])
    assert GUID.match(result["correlation_id"])
    assert TIMESTAMP.match(result["timestamp"])
    assert result["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    description = result["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert description.endswith(
        f"\r\nTrace ID: {result['trace_id']}\r\nCorrelation ID: {result['correlation_id']}"
        f"\r\nTimestamp: {result['timestamp']}"
    )
    assert result.get("suberror") == suberror


def new_guid() -> str:
    return str(uuid.uuid4())
