"""Every probe kind over real TLS against the simulator: health, failures, faults, deadlines.

These run the production code path (``ProbeContext.from_config``: one session per tenant, the
configured CA bundle, the discovery-only msal cache) and differ from production only by the
configured endpoints and CA.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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
from monitor.model.lockout import lockout_trigger
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.classify import AADSTS_OUTCOMES
from monitor.probes.context import ProbeContext
from monitor.probes.registry import PROBE_KINDS
from monitor.secrets import Secret
from monitor.simulator import Simulator, scenario_from_dict
from monitor.simulator.entra import DOCUMENTED_ERRORS

TENANT_ID = "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"
SECRET_APP = "5c1e8b3a-0000-4000-8000-00000000a001"
CERT_APP = "7d9f2c4e-0000-4000-8000-00000000a002"
PUBLIC_APP = "2d8f6a14-0000-4000-8000-00000000a003"
SECRET = "sEc8Q~integration-secret-value-01"
UPN = "svc-dataverse-sync@contoso.com"
PASSWORD = "Integration-Password-4711"
ENVIRONMENTS = ("prod", "test")
CREDENTIAL_CLASSES = {
    Outcome.CREDENTIAL_INVALID,
    Outcome.CREDENTIAL_EXPIRED,
    Outcome.PASSWORD_EXPIRED,
    Outcome.ACCOUNT_LOCKED,
}


@dataclass(frozen=True)
class Certificate:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + self.certificate.public_bytes(serialization.Encoding.PEM)

    def public_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def _certificate() -> Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "erp-connector")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    return Certificate(key, certificate)


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return _certificate()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulator")


def _scenario(certificate: Certificate) -> dict[str, Any]:
    role = ["Integration"]  # Dataverse refuses a member without a security role
    members = [
        {"app": SECRET_APP, "roles": role},
        {"app": CERT_APP, "roles": role},
        {"user": UPN, "roles": role},
    ]
    return {
        "name": "probe-integration",
        "settings": {"lockout_threshold": 10, "lockout_seconds": 60},
        "tenants": [{"name": "contoso", "id": TENANT_ID, "domain": "contoso.com",
                     "skus": [{"part_number": "DYN365_ENTERPRISE_SALES", "enabled": 5}]}],
        "apps": [
            {"client_id": SECRET_APP, "tenant": "contoso",
             "secrets": [{"value": SECRET, "end": "+30d"}]},
            {"client_id": CERT_APP, "tenant": "contoso",
             "certificates": [{"pem": certificate.public_pem()}]},
            {"client_id": PUBLIC_APP, "tenant": "contoso", "allow_public_client": True},
        ],
        "users": [{"upn": UPN, "password": PASSWORD, "licences": ["DYN365_ENTERPRISE_SALES"]}],
        "environments": [
            {"name": name, "tenant": "contoso", "members": list(members)}
            for name in ENVIRONMENTS
        ],
    }  # fmt: skip


@pytest.fixture
def sim(certificate: Certificate, state_dir: Path) -> Iterator[Simulator]:
    with Simulator(scenario_from_dict(_scenario(certificate)), state_dir=state_dir) as simulator:
        yield simulator
        assert simulator.internal_errors == []


def _identities(certificate: Certificate) -> dict[str, IdentityConfig]:
    return {
        "client_secret": IdentityConfig(
            name="sales-sync", kind="application", tenant="contoso", client_id=SECRET_APP,
            environments=ENVIRONMENTS, secret=Secret(SECRET, "inline"),
        ),
        "certificate": IdentityConfig(
            name="erp-connector", kind="application", tenant="contoso", client_id=CERT_APP,
            environments=ENVIRONMENTS,
            certificate=CertificateCredential(Secret(certificate.pem(), "inline")),
        ),
        "password": IdentityConfig(
            name="dataverse-sync", kind="user", tenant="contoso", client_id=PUBLIC_APP,
            environments=ENVIRONMENTS, username=UPN, password=Secret(PASSWORD, "inline"),
        ),
    }  # fmt: skip


def _config(
    sim: Simulator,
    certificate: Certificate,
    *,
    network: NetworkConfig | None = None,
    authority_host: str | None = None,
) -> Config:
    return Config(
        source=Path("/etc/monitor/config.toml"),
        network=network or NetworkConfig(ca_bundle=sim.ca_path, probe_deadline_seconds=5.0),
        probing=ProbingConfig(),
        database=DatabaseConfig(path=Path("/var/lib/monitor/monitor.db")),
        tenants={
            "contoso": TenantConfig(
                name="contoso",
                tenant_id=TENANT_ID,
                cloud="custom",
                authority_host=authority_host or sim.authority_host,
                graph_url=sim.graph_url,
            )
        },
        environments={
            name: EnvironmentConfig(name=name, tenant="contoso", url=sim.environment_url(name))
            for name in ENVIRONMENTS
        },
        identities={identity.name: identity for identity in _identities(certificate).values()},
    )


def _probe(
    config: Config,
    kind: str,
    context: ProbeContext | None = None,
    identity: IdentityConfig | None = None,
) -> list[ProbeResult]:
    identity = identity or next(i for i in config.identities.values() if i.credential_type == kind)
    context = context or ProbeContext.from_config(config, fingerprint_key=b"k" * 32)
    return PROBE_KINDS[kind](identity, config, context).run(list(identity.environments))


KINDS = ["client_secret", "certificate", "password"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_succeeds_over_tls(sim: Simulator, certificate: Certificate, kind: str) -> None:
    """Each kind signs in for real (token from the IdP) and WhoAmI answers, in both environments."""
    results = _probe(_config(sim, certificate), kind)
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert all(r.token_source == "identity_provider" and r.user_id for r in results)
    assert all(r.rate_limit.burst_remaining is not None for r in results)
    assert sim.request_count(family="token") == 2
    assert sim.request_count(family="whoami") == 2
    if kind == "password":
        # msal drops the authority's port from this URL; the session puts it back.
        assert sim.request_count(family="userrealm") == 2


def test_discovery_is_cached_and_connections_reused(
    sim: Simulator, certificate: Certificate
) -> None:
    """Many probes in one context: one discovery GET, few TLS connections, every token POSTed."""
    config = _config(sim, certificate)
    context = ProbeContext.from_config(config, fingerprint_key=b"k" * 32)
    for _ in range(3):
        for kind in KINDS:
            assert {r.outcome for r in _probe(config, kind, context)} == {Outcome.OK}
    assert sim.request_count(family="discovery") == 1
    assert sim.request_count(family="token") == 18
    assert sim.connections_accepted <= 2


def test_revoked_secret_is_detected_on_the_next_probe(
    sim: Simulator, certificate: Certificate
) -> None:
    """No cached token: right after revocation the next probe asks Entra and is refused."""
    config = _config(sim, certificate)
    context = ProbeContext.from_config(config, fingerprint_key=b"k" * 32)
    assert {r.outcome for r in _probe(config, "client_secret", context)} == {Outcome.OK}
    sim.revoke_secret(SECRET_APP, SECRET)
    results = _probe(config, "client_secret", context)
    assert [r.outcome for r in results] == [Outcome.CREDENTIAL_INVALID] * 2
    assert results[0].aadsts_code == 7000215
    assert [r.attempted for r in results] == [True, False]
    assert sim.request_count(family="token", client_id=SECRET_APP) == 3


def test_removed_certificate_is_detected_on_the_next_probe(
    sim: Simulator, certificate: Certificate
) -> None:
    """The shared assertion is judged by Entra on every probe: a removed certificate fails."""
    config = _config(sim, certificate)
    context = ProbeContext.from_config(config, fingerprint_key=b"k" * 32)
    assert {r.outcome for r in _probe(config, "certificate", context)} == {Outcome.OK}
    sim.revoke_certificate(CERT_APP, certificate.certificate.fingerprint(hashes.SHA256()).hex())
    results = _probe(config, "certificate", context)
    assert results[0].outcome is Outcome.CREDENTIAL_INVALID
    assert results[0].aadsts_code == 700027


def test_wrong_password_costs_exactly_one_attempt(sim: Simulator, certificate: Certificate) -> None:
    """Two environments, a wrong password: one token POST, one failed sign-in, a lockout trigger."""
    config = _config(sim, certificate)
    identity = replace(
        config.identities["dataverse-sync"], password=Secret("Wrong-Password-0000", "inline")
    )
    results = _probe(config, "password", identity=identity)
    assert [r.outcome for r in results] == [Outcome.CREDENTIAL_INVALID] * 2
    assert [r.attempted for r in results] == [True, False]
    assert sim.request_count(family="token", username=UPN) == 1
    assert sim.failed_password_attempts(UPN) == 1
    trigger = lockout_trigger(results)
    assert trigger is not None
    assert trigger.aadsts_code == 50126


@pytest.mark.parametrize(
    ("change", "kind", "expected"),
    [
        ({"user": {"password_expired": True}}, "password", Outcome.PASSWORD_EXPIRED),
        ({"user": {"enabled": False}}, "password", Outcome.ACCOUNT_DISABLED),
        ({"user": {"locked": True}}, "password", Outcome.ACCOUNT_LOCKED),
        ({"user": {"mfa_required": True}}, "password", Outcome.POLICY_BLOCKED),
        ({"user": {"blocked_by_conditional_access": True}}, "password", Outcome.POLICY_BLOCKED),
        ({"app": {"enabled": False}}, "client_secret", Outcome.ACCOUNT_DISABLED),
        ({"member": {"disabled": True}}, "client_secret", Outcome.ACCOUNT_DISABLED),
        ({"remove_member": True}, "certificate", Outcome.NOT_IN_ENVIRONMENT),
        ({"fault": "loop_detected"}, "client_secret", Outcome.THROTTLED),
        ({"app": {"service_principal": False}}, "client_secret", Outcome.IDENTITY_NOT_FOUND),
        ({"tenant": {"dataverse_disabled": True}}, "client_secret", Outcome.RESOURCE_DISABLED),
        ({"tenant": {"dataverse_disabled": True}}, "password", Outcome.RESOURCE_DISABLED),
        ({"member": {"roles": []}}, "certificate", Outcome.NO_ROLE),
        ({"member": {"missing_privilege": "prvReadAccount"}}, "client_secret",
         Outcome.MISSING_PRIVILEGE),
        ({"user": {"licences": []}}, "password", Outcome.NO_LICENCE),
        ({"member": {"disabled": True}}, "password", Outcome.ACCOUNT_DISABLED),
        ({"environment": {"administration_mode": True}}, "password", Outcome.MAINTENANCE),
        ({"certificate_end": "past"}, "certificate", Outcome.CREDENTIAL_EXPIRED),
    ],
)  # fmt: skip
def test_outcome_classes_from_real_answers(
    sim: Simulator,
    certificate: Certificate,
    change: dict[str, Any],
    kind: str,
    expected: Outcome,
) -> None:
    """The simulator's real Entra / Dataverse error answers map to the right classes."""
    client_id = {"client_secret": SECRET_APP, "certificate": CERT_APP}.get(kind)
    upn = UPN if kind == "password" else None
    if "user" in change:
        sim.set_user(UPN, **change["user"])
    if "app" in change:
        sim.set_application(SECRET_APP, **change["app"])
    if "tenant" in change:
        sim.set_tenant("contoso", **change["tenant"])
    if "environment" in change:
        sim.set_environment("prod", **change["environment"])
    if "certificate_end" in change:
        sim.revoke_certificate(CERT_APP, certificate.certificate.fingerprint(hashes.SHA256()).hex())
        sim.add_certificate(
            CERT_APP, certificate.certificate, end=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        )
    if "member" in change:
        sim.set_member("prod", client_id=client_id, upn=upn, **change["member"])
    if "remove_member" in change:
        sim.remove_member("prod", client_id=client_id)
    if "fault" in change:
        sim.set_fault("token", change["fault"], count=1)
    [first, _] = _probe(_config(sim, certificate), kind)
    assert first.outcome is expected
    assert first.attempted


FAULTS = [
    ("token", "http_500", {}, Outcome.SERVICE_ERROR),
    ("token", "throttle_429", {"retry_after": 30}, Outcome.THROTTLED),
    ("token", "throttle_429", {"retry_after": 30, "text_body": True}, Outcome.THROTTLED),
    ("token", "malformed_json", {}, Outcome.SERVICE_ERROR),
    ("token", "html", {}, Outcome.SERVICE_ERROR),
    ("token", "drop", {}, Outcome.UNREACHABLE),
    ("token", "slow", {"seconds": 30}, Outcome.UNREACHABLE),
    ("token", "drip", {"seconds": 0.2}, Outcome.UNREACHABLE),
    ("token", "hang", {}, Outcome.UNREACHABLE),
    ("discovery", "http_503", {"retry_after": 5}, Outcome.SERVICE_ERROR),
    ("discovery", "drip", {"seconds": 0.2}, Outcome.UNREACHABLE),
    ("whoami", "http_500", {}, Outcome.SERVICE_ERROR),
    ("whoami", "throttle_429", {"retry_after": 12}, Outcome.THROTTLED),
    ("whoami", "drip", {"seconds": 0.2}, Outcome.UNREACHABLE),
    ("whoami", "hang", {}, Outcome.UNREACHABLE),
    ("userrealm", "http_500", {}, Outcome.SERVICE_ERROR),
    ("userrealm", "drip", {"seconds": 0.2}, Outcome.UNREACHABLE),
]


@pytest.mark.parametrize(
    ("kind", "family", "mode", "options", "expected"),
    [
        (kind, *fault)
        for fault in FAULTS
        for kind in KINDS
        if fault[0] != "userrealm" or kind == "password"  # only ROPC looks up the user realm
    ],
)
def test_faults_are_never_credential_failures_and_stay_in_the_deadline(
    sim: Simulator,
    certificate: Certificate,
    kind: str,
    family: str,
    mode: str,
    options: dict[str, Any],
    expected: Outcome,
) -> None:
    """5xx, 429, malformed bodies, drops, slow answers and drips: the right transient class,
    never a credential class, and the whole probe ends by its deadline."""
    deadline = 2.0
    network = NetworkConfig(
        ca_bundle=sim.ca_path,
        connect_timeout_seconds=2.0,
        read_timeout_seconds=5.0,
        probe_deadline_seconds=deadline,
    )
    sim.set_fault(family, mode, **options)  # type: ignore[arg-type]
    start = time.monotonic()
    results = _probe(_config(sim, certificate, network=network), kind)
    elapsed = time.monotonic() - start
    assert results[0].outcome is expected, results[0].message
    assert not CREDENTIAL_CLASSES & {r.outcome for r in results}
    assert elapsed < deadline + 1.0
    if expected is Outcome.UNREACHABLE and mode in {"slow", "drip", "hang"}:
        assert results[0].stage == "deadline"
    if mode == "throttle_429":
        assert results[0].rate_limit.retry_after_seconds == options["retry_after"]
    if kind == "password":
        assert sim.failed_password_attempts(UPN) == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_unreachable(
    sim: Simulator, certificate: Certificate, kind: str
) -> None:
    """Nothing listening at the authority: unreachable, quickly, never a credential class."""
    config = _config(sim, certificate, authority_host=f"https://localhost:{_closed_port()}")
    start = time.monotonic()
    results = _probe(config, kind)
    assert [r.outcome for r in results] == [Outcome.UNREACHABLE] * 2
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("kind", KINDS)
def test_untrusted_ca_is_a_tls_error(
    sim: Simulator, certificate: Certificate, kind: str, tmp_path: Path
) -> None:
    """A session that does not trust the simulator's CA refuses it: tls_error, never ok."""
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    network = NetworkConfig(ca_bundle=stranger, probe_deadline_seconds=5.0)
    results = _probe(_config(sim, certificate, network=network), kind)
    assert results[0].outcome is Outcome.TLS_ERROR
    assert "certificate" in results[0].message
    assert sim.request_count() == 0  # nothing got past the handshake


def test_requests_ca_bundle_changes_nothing(
    sim: Simulator, certificate: Certificate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE (and friends) neither add trust nor take the configured one away."""
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(stranger))
    ok = _probe(_config(sim, certificate), "client_secret")
    assert {r.outcome for r in ok} == {Outcome.OK}
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(sim.ca_path))
    refused = _probe(
        _config(sim, certificate, network=NetworkConfig(ca_bundle=stranger)), "client_secret"
    )
    assert refused[0].outcome is Outcome.TLS_ERROR


@pytest.mark.parametrize("code", sorted(DOCUMENTED_ERRORS))
def test_every_documented_sign_in_answer_gets_its_class(
    sim: Simulator, certificate: Certificate, code: int
) -> None:
    """Each further AADSTS code, answered by the simulator as Microsoft documents it (OAuth
    error, description, 401 for invalid_client else 400), gets its documented class through
    the real probe; none is healthy."""
    kind = "password" if DOCUMENTED_ERRORS[code][0] != "invalid_client" else "client_secret"
    sim.set_fault("token", "aadsts", value=code)

    [first, second] = _probe(_config(sim, certificate), kind)

    assert (AADSTS_OUTCOMES[code], code) == (first.outcome, first.aadsts_code)
    assert first.outcome is not Outcome.OK
    assert (401 if DOCUMENTED_ERRORS[code][0] == "invalid_client" else 400) == first.http_status
    assert second.outcome is first.outcome


@pytest.mark.parametrize(
    ("change", "kind", "summary", "remedy"),
    [
        (
            {"app": {"service_principal": False}},
            "client_secret",
            "the app registration exists, but its enterprise application",
            "Re-create the enterprise application",
        ),
        (
            {"tenant": {"dataverse_disabled": True}},
            "client_secret",
            "Dataverse itself is disabled for the tenant",
            "Check the tenant's Dynamics 365 / Power Apps subscription",
        ),
        (
            {"certificate_end": "past"},
            "certificate",
            "the client secret or certificate has expired",
            "Renew the certificate",
        ),
    ],
    ids=["7000229", "500014", "expired-certificate"],
)
def test_the_check_output_says_what_the_code_means(
    sim: Simulator,
    certificate: Certificate,
    change: dict[str, Any],
    kind: str,
    summary: str,
    remedy: str,
) -> None:
    """The result's words follow the code and credential: a deleted enterprise application is
    re-created, a disabled Dataverse is the tenant's problem, an expired certificate renewed."""
    from monitor.output.probes import result_to_dict

    if "app" in change:
        sim.set_application(SECRET_APP, **change["app"])
    if "tenant" in change:
        sim.set_tenant("contoso", **change["tenant"])
    if "certificate_end" in change:
        sim.revoke_certificate(CERT_APP, certificate.certificate.fingerprint(hashes.SHA256()).hex())
        sim.add_certificate(
            CERT_APP, certificate.certificate, end=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        )

    [first, _] = _probe(_config(sim, certificate), kind)
    document = result_to_dict(first)

    assert document["summary"].startswith(summary)
    assert document["remedy"].startswith(remedy)
