"""A fake Entra ID + Dataverse behind msal's ``http_client`` interface, and config builders.

The fake answers like the real services: OIDC discovery, the v2 token endpoint (client secret,
client assertion verified against the registered certificate, password), the ROPC user-realm
lookup, and Dataverse WhoAmI, with Entra's real error body shape (docs/platform.md, "Sign-in
answers"). Tests change its behaviour through plain attributes and record every request it receives.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from monitor.config.model import (
    CertificateCredential,
    Config,
    DatabaseConfig,
    EnvironmentConfig,
    IdentityConfig,
    NetworkConfig,
    ProbingConfig,
    TenantConfig,
)
from monitor.probes.context import ProbeContext
from monitor.secrets import Secret

AUTHORITY_HOST = "https://login.example.test"
TENANT_ID = "3f2c9a1e-0000-4000-8000-00000000c0de"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
FINGERPRINT_KEY = b"unit-test-fingerprint-key-32byte"
ENV_URLS = {
    "prod": "https://contoso.crm.dynamics.com",
    "test": "https://contoso-test.crm4.dynamics.com",
}
USER_ID = "22cc22cc-0000-4000-8000-000000000001"
ORG_ID = "00aa00aa-0000-4000-8000-000000000002"
TRACE_ID = "0d3c8a1e-5f00-4000-8000-0000000000aa"
CORRELATION_ID = "8a2f6b1c-7e00-4000-8000-0000000000bb"


@dataclass
class FakeResponse:
    status_code: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        # Like requests.Response: an error answer is falsy (code must test "is None").
        return self.status_code < 400


def json_response(status: int, body: object, **headers: str) -> FakeResponse:
    return FakeResponse(
        status, json.dumps(body), {"Content-Type": "application/json; charset=utf-8", **headers}
    )


def entra_error(
    code: int,
    error: str,
    text: str,
    *,
    status: int = 400,
    suberror: str | None = None,
    **headers: str,
) -> FakeResponse:
    """An Entra v2 token endpoint error answer, shaped as the real one (docs/platform.md)."""
    stamp = "2026-11-26 12:00:00Z"
    body: dict[str, object] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {text}\r\nTrace ID: {TRACE_ID}\r\n"
            f"Correlation ID: {CORRELATION_ID}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": TRACE_ID,
        "correlation_id": CORRELATION_ID,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    return json_response(status, body, **headers)


def dataverse_error(status: int, code: str, message: str, **headers: str) -> FakeResponse:
    return json_response(status, {"error": {"code": code, "message": message}}, **headers)


@dataclass
class Request:
    method: str
    url: str
    data: dict[str, Any]
    headers: dict[str, str]

    @property
    def family(self) -> str:
        path = urllib.parse.urlsplit(self.url).path
        if path.endswith("/.well-known/openid-configuration"):
            return "discovery"
        if path.endswith("/oauth2/v2.0/token"):
            return "token"
        if "/common/userrealm/" in path:
            return "userrealm"
        if path.endswith("/WhoAmI"):
            return "whoami"
        return "other"


Handler = Callable[[Request], FakeResponse]


class FakeEntra:
    """Answers msal's and the probe's requests. Not thread-safe beyond the request log."""

    def __init__(self, authority_host: str = AUTHORITY_HOST) -> None:
        self.authority_host = authority_host
        self.secrets: dict[str, set[str]] = {}  # client_id -> valid secret values
        self.certificates: dict[str, x509.Certificate] = {}  # client_id -> registered cert
        self.passwords: dict[str, str] = {}  # upn -> password
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        # Per family: a handler that overrides the normal answer (or raises).
        self.overrides: dict[str, Handler] = {}
        self.whoami: Handler = lambda request: json_response(
            200,
            {
                "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#"
                "Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": "11bb11bb-0000-4000-8000-000000000003",
                "UserId": USER_ID,
                "OrganizationId": ORG_ID,
            },
            **{
                "x-ms-ratelimit-burst-remaining-xrm-requests": "5999",
                "x-ms-ratelimit-time-remaining-xrm-requests": "1,200.00",
            },
        )
        self.issued_tokens: list[str] = []

    # msal's http_client interface

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        return self._answer(Request("GET", url, {}, dict(kwargs.get("headers") or {})))

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        data = kwargs.get("data") or {}
        return self._answer(Request("POST", url, dict(data), dict(kwargs.get("headers") or {})))

    def close(self) -> None:
        pass

    # what tests read

    def count(self, family: str | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (family is None or r.family == family) and (method is None or r.method == method)
            )

    def last(self, family: str) -> Request:
        with self._lock:
            return [r for r in self.requests if r.family == family][-1]

    # answers

    def _answer(self, request: Request) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
        override = self.overrides.get(request.family)
        if override is not None:
            return override(request)
        if request.family == "discovery":
            return self._discovery(request)
        if request.family == "token":
            return self._token(request)
        if request.family == "userrealm":
            return json_response(
                200,
                {"ver": "1.0", "account_type": "Managed", "domain_name": "contoso.example"},
            )
        if request.family == "whoami":
            return self.whoami(request)
        return FakeResponse(404, "not found", {"Content-Type": "text/plain"})

    def _discovery(self, request: Request) -> FakeResponse:
        path = urllib.parse.urlsplit(request.url).path
        tenant = path.strip("/").split("/")[0]
        base = f"{self.authority_host}/{tenant}"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{self.authority_host}/{tenant}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
            },
        )

    def _token(self, request: Request) -> FakeResponse:
        data = request.data
        client_id = str(data.get("client_id"))
        grant = data.get("grant_type")
        if grant == "client_credentials":
            if "client_secret" in data:
                if data["client_secret"] not in self.secrets.get(client_id, set()):
                    return entra_error(
                        7000215,
                        "invalid_client",
                        "Invalid client secret provided. Ensure the secret being sent in the "
                        "request is the client secret value, not the client secret ID, for a "
                        f"secret added to app '{client_id}'.",
                        status=401,
                    )
            elif "client_assertion" in data:
                certificate = self.certificates.get(client_id)
                try:
                    if certificate is None:
                        raise jwt.InvalidTokenError("no certificate registered")
                    jwt.decode(
                        data["client_assertion"],
                        certificate.public_key(),  # type: ignore[arg-type]
                        algorithms=["PS256", "RS256"],
                        audience=request.url,
                        issuer=client_id,
                    )
                except jwt.InvalidTokenError:
                    return entra_error(
                        700027,
                        "invalid_client",
                        "Client assertion failed signature validation.",
                        status=401,
                    )
            else:
                return entra_error(
                    7000218,
                    "invalid_client",
                    "The request body must contain the following parameter: "
                    "'client_assertion' or 'client_secret'.",
                    status=401,
                )
        elif grant == "password":
            username = str(data.get("username"))
            if self.passwords.get(username) != data.get("password"):
                return entra_error(
                    50126,
                    "invalid_grant",
                    "Error validating credentials due to invalid username or password.",
                )
        else:
            return entra_error(70003, "unsupported_grant_type", "unsupported grant type")
        token = f"eyJ0eXAiOiJKV1QifQ.{uuid.uuid4().hex}.signature"
        self.issued_tokens.append(token)
        body: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }
        if grant == "password":
            body["scope"] = data.get("scope")
            body["refresh_token"] = f"refresh-{uuid.uuid4().hex}"
        return json_response(200, body)


# --- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyAndCertificate:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def pem(self, passphrase: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        key = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        return key + self.certificate.public_bytes(serialization.Encoding.PEM)

    def pfx(self, passphrase: bytes) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"monitor-test",
            self.key,
            self.certificate,
            None,
            serialization.BestAvailableEncryption(passphrase),
        )


def make_certificate(common_name: str = "monitor-probe-test") -> KeyAndCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return KeyAndCertificate(key, certificate)


# --- configuration ---------------------------------------------------------------------------


def tenant(authority_host: str = AUTHORITY_HOST) -> TenantConfig:
    return TenantConfig(
        name="contoso",
        tenant_id=TENANT_ID,
        cloud="custom",
        authority_host=authority_host,
        graph_url="https://graph.example.test",
    )


def secret_identity(
    secret: str = "s3cr3t-value-~abc", environments: tuple[str, ...] = ("prod",)
) -> IdentityConfig:
    return IdentityConfig(
        name="sales-sync",
        kind="application",
        tenant="contoso",
        client_id="5c1e8b3a-0000-4000-8000-00000000a001",
        environments=environments,
        secret=Secret(secret, "inline"),
    )


def certificate_identity(
    data: bytes, passphrase: bytes | None = None, environments: tuple[str, ...] = ("prod",)
) -> IdentityConfig:
    return IdentityConfig(
        name="erp-sync",
        kind="application",
        tenant="contoso",
        client_id="7d9f2c4e-0000-4000-8000-00000000a002",
        environments=environments,
        certificate=CertificateCredential(
            Secret(data, "inline"), Secret(passphrase, "inline") if passphrase else None
        ),
    )


def password_identity(
    password: str = "Corr3ct-H0rse-Battery", environments: tuple[str, ...] = ("prod",)
) -> IdentityConfig:
    return IdentityConfig(
        name="dataverse-sync",
        kind="user",
        tenant="contoso",
        client_id="2d8f6a14-0000-4000-8000-00000000a003",
        environments=environments,
        username="svc-dataverse-sync@contoso.example",
        password=Secret(password, "inline"),
    )


def config_for(
    *identities: IdentityConfig,
    authority_host: str = AUTHORITY_HOST,
    environments: Mapping[str, str] = ENV_URLS,
    network: NetworkConfig | None = None,
) -> Config:
    return Config(
        source=Path("/etc/monitor/config.toml"),
        network=network or NetworkConfig(),
        probing=ProbingConfig(),
        database=DatabaseConfig(path=Path("/var/lib/monitor/monitor.db")),
        tenants={"contoso": tenant(authority_host)},
        environments={
            name: EnvironmentConfig(name=name, tenant="contoso", url=url)
            for name, url in environments.items()
        },
        identities={identity.name: identity for identity in identities},
    )


class FakeClock:
    """A monotonic clock tests move by hand (the deadline is measured with it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def context_for(
    fake: Any,
    *,
    deadline_seconds: float = 30.0,
    monotonic: Callable[[], float] | None = None,
) -> ProbeContext:
    extra: dict[str, Any] = {"monotonic": monotonic} if monotonic is not None else {}
    return ProbeContext(
        fingerprint_key=FINGERPRINT_KEY,
        http_clients=lambda tenant, deadline: fake,
        deadline_seconds=deadline_seconds,
        clock=lambda: NOW,
        **extra,
    )
