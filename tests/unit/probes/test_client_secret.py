"""The ``client_secret`` probe kind against a fake Entra/Dataverse behind msal's http_client."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msal
import pytest
import requests
from probe_fakes import (
    CORRELATION_ID,
    FINGERPRINT_KEY,
    NOW,
    ORG_ID,
    TENANT_ID,
    USER_ID,
    FakeClock,
    FakeEntra,
    FakeResponse,
    Request,
    config_for,
    context_for,
    dataverse_error,
    entra_error,
    secret_identity,
)

from monitor.config.model import EnvironmentConfig, TenantConfig
from monitor.http import HttpClient
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.client_secret import ApplicationSecretProbe
from monitor.probes.context import ProbeContext
from monitor.probes.registry import PROBE_KINDS

SECRET = "s3cr3t-value-~abc"


def _probe(
    fake: FakeEntra,
    environments: tuple[str, ...] = ("prod",),
    context: ProbeContext | None = None,
    secret: str = SECRET,
) -> list[ProbeResult]:
    identity = secret_identity(secret, environments)
    fake.secrets.setdefault(identity.client_id, {SECRET})
    probe = ApplicationSecretProbe(identity, config_for(identity), context or context_for(fake))
    return probe.run(list(environments))


def _raise(exc: BaseException) -> Any:
    def handler(request: Request) -> FakeResponse:
        raise exc

    return handler


def test_registry_maps_every_kind() -> None:
    """The registry is keyed by ``IdentityConfig.credential_type``: an identity with a client
    secret is probed by this kind (tests/unit/probes/test_probe_kinds.py checks the key set)."""
    assert PROBE_KINDS[secret_identity().credential_type] is ApplicationSecretProbe


def test_healthy_secret_is_ok_with_whoami_details(fake: FakeEntra) -> None:
    """A valid secret: token from the identity provider, WhoAmI 200, headroom recorded."""
    [result] = _probe(fake)
    assert result.outcome is Outcome.OK
    assert result.stage == "dataverse"
    assert result.attempted
    assert result.http_status == 200
    assert result.token_source == "identity_provider"
    assert result.user_id == USER_ID
    assert result.organization_id == ORG_ID
    assert result.rate_limit.burst_remaining == 5999
    assert result.rate_limit.time_remaining == 1200000
    assert result.started_at == NOW
    assert result.credential_type == "client_secret"
    assert result.credential_fingerprint == secret_identity().credential().fingerprint(
        FINGERPRINT_KEY
    )


def test_request_shape(fake: FakeEntra) -> None:
    """Tenant-specific authority, ``{env}/.default`` scope, OData headers on WhoAmI."""
    _probe(fake)
    token = fake.last("token")
    assert token.url == f"https://login.example.test/{TENANT_ID}/oauth2/v2.0/token"
    assert token.data["scope"] == "https://contoso.crm.dynamics.com/.default"
    assert token.data["grant_type"] == "client_credentials"
    whoami = fake.last("whoami")
    assert whoami.url == "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI"
    assert whoami.headers["OData-MaxVersion"] == "4.0"
    assert whoami.headers["OData-Version"] == "4.0"
    assert whoami.headers["Accept"] == "application/json"
    assert whoami.headers["Authorization"] == f"Bearer {fake.issued_tokens[-1]}"
    # Only the configured cloud is contacted: no instance discovery, no regional endpoint.
    assert {r.family for r in fake.requests} == {"discovery", "token", "whoami"}


def test_revoked_secret_fails_on_the_very_next_probe(fake: FakeEntra) -> None:
    """No token cache survives a probe: after revocation the next probe asks Entra and fails."""
    context = context_for(fake)
    assert _probe(fake, context=context)[0].outcome is Outcome.OK
    fake.secrets[secret_identity().client_id] = set()  # revoked
    [result] = _probe(fake, context=context)
    assert result.outcome is Outcome.CREDENTIAL_INVALID
    assert result.aadsts_code == 7000215
    assert result.http_status == 401
    assert result.stage == "token"
    assert fake.count("token") == 2
    assert fake.count("discovery") == 1  # discovery is the only thing shared


def test_repeated_400_is_asked_again_not_replayed(fake: FakeEntra) -> None:
    """msal would replay a 400 for 60 s from a shared http cache; every probe must ask Entra."""
    fake.overrides["token"] = lambda request: entra_error(
        700016, "unauthorized_client", "Application with identifier 'x' was not found."
    )
    context = context_for(fake)
    first = _probe(fake, context=context)[0]
    second = _probe(fake, context=context)[0]
    assert first.outcome is second.outcome is Outcome.IDENTITY_NOT_FOUND
    assert fake.count("token") == 2


def test_throttled_answer_is_not_replayed_for_retry_after(fake: FakeEntra) -> None:
    """A 429 with Retry-After: throttled, and the next probe still reaches the token endpoint."""
    fake.overrides["token"] = lambda request: FakeResponse(
        429, json.dumps({"error": "temporarily_unavailable"}), {"Retry-After": "60"}
    )
    context = context_for(fake)
    [first] = _probe(fake, context=context)
    assert first.outcome is Outcome.THROTTLED
    assert first.rate_limit.retry_after_seconds == 60
    del fake.overrides["token"]
    assert _probe(fake, context=context)[0].outcome is Outcome.OK
    assert fake.count("token") == 2


def test_definitive_failure_is_not_repeated_for_other_environments(fake: FakeEntra) -> None:
    """A rejected secret is rejected everywhere: one sign-in, the rest repeat it unattempted."""
    results = _probe(fake, ("prod", "test"), secret="wrong-secret-value")
    assert [r.outcome for r in results] == [Outcome.CREDENTIAL_INVALID] * 2
    assert [r.attempted for r in results] == [True, False]
    assert results[1].environment == "test"
    assert results[1].aadsts_code == 7000215
    assert results[1].correlation_id == CORRELATION_ID
    assert "not signed in again" in results[1].message
    assert fake.count("token") == 1


def test_environment_specific_failure_does_not_stop_the_others(fake: FakeEntra) -> None:
    """A wrong environment URL (AADSTS500011) concerns that environment only."""

    def token(request: Request) -> FakeResponse:
        if "contoso-test" in request.data["scope"]:
            return entra_error(500011, "invalid_resource", "The resource principal was not found.")
        return FakeEntra._token(fake, request)

    fake.overrides["token"] = token
    results = _probe(fake, ("test", "prod"))
    assert [r.outcome for r in results] == [Outcome.MISCONFIGURED, Outcome.OK]
    assert all(r.attempted for r in results)


def test_transient_failure_does_not_stop_the_others(fake: FakeEntra) -> None:
    """A 5xx in one environment's sign-in leaves the next environment to be tried."""
    calls = iter([FakeResponse(503, "Service Unavailable")])

    def token(request: Request) -> FakeResponse:
        answer = next(calls, None)
        return answer if answer is not None else FakeEntra._token(fake, request)

    fake.overrides["token"] = token
    results = _probe(fake, ("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.SERVICE_ERROR, Outcome.OK]


@pytest.mark.parametrize(
    ("family", "answer", "expected", "stage"),
    [
        ("token", _raise(requests.exceptions.ConnectionError("refused")), Outcome.UNREACHABLE,
         "token"),
        ("token", _raise(requests.exceptions.ReadTimeout("slow")), Outcome.UNREACHABLE, "token"),
        ("token", _raise(requests.exceptions.SSLError("certificate verify failed")),
         Outcome.TLS_ERROR, "token"),
        ("discovery", _raise(requests.exceptions.ConnectionError("refused")), Outcome.UNREACHABLE,
         "token"),
        ("token", lambda r: FakeResponse(500, "Internal Server Error"), Outcome.SERVICE_ERROR,
         "token"),
        ("token", lambda r: FakeResponse(502, "<html>Bad Gateway</html>"), Outcome.SERVICE_ERROR,
         "token"),
        ("token", lambda r: FakeResponse(200, "<html>captive portal</html>"),
         Outcome.SERVICE_ERROR, "token"),
        ("token", lambda r: FakeResponse(429, "Too Many Requests", {"Retry-After": "5"}),
         Outcome.THROTTLED, "token"),
        ("token", lambda r: FakeResponse(200, json.dumps({"token_type": "Bearer"})),
         Outcome.SERVICE_ERROR, "token"),
        ("discovery", lambda r: FakeResponse(503, "unavailable"), Outcome.SERVICE_ERROR, "token"),
        ("discovery", lambda r: FakeResponse(200, "<html>portal</html>"), Outcome.SERVICE_ERROR,
         "token"),
        ("discovery", lambda r: entra_error(90002, "invalid_tenant", "Tenant not found."),
         Outcome.MISCONFIGURED, "token"),
        ("whoami", _raise(requests.exceptions.ConnectionError("reset")), Outcome.UNREACHABLE,
         "dataverse"),
        ("whoami", lambda r: dataverse_error(403, "0x80072560",
                                             "The user is not a member of the organization."),
         Outcome.NOT_IN_ENVIRONMENT, "dataverse"),
        ("whoami", lambda r: dataverse_error(403, "0x80040225",
                                             "The user with SystemUserId=x is disabled."),
         Outcome.ACCOUNT_DISABLED, "dataverse"),
        ("whoami", lambda r: FakeResponse(401, ""), Outcome.MISCONFIGURED, "dataverse"),
        ("whoami", lambda r: dataverse_error(429, "0x80072322", "Number of requests exceeded.",
                                             **{"Retry-After": "7"}),
         Outcome.THROTTLED, "dataverse"),
        ("whoami", lambda r: FakeResponse(500, "oops"), Outcome.SERVICE_ERROR, "dataverse"),
        ("whoami", lambda r: FakeResponse(200, "<html/>"), Outcome.SERVICE_ERROR, "dataverse"),
    ],
)  # fmt: skip
def test_failures_are_never_credential_classes(
    fake: FakeEntra, family: str, answer: Any, expected: Outcome, stage: str
) -> None:
    """Network errors, TLS, 5xx, 429, HTML and bad tenants each get their own class."""
    fake.overrides[family] = answer
    [result] = _probe(fake)
    assert result.outcome is expected
    assert result.stage == stage
    assert result.attempted
    assert "\n" not in result.message


def test_dataverse_429_records_retry_after(fake: FakeEntra) -> None:
    """A Dataverse 429 keeps Retry-After and the Dataverse error code."""
    fake.overrides["whoami"] = lambda r: dataverse_error(
        429, "0x80072322", "Number of requests exceeded the limit.", **{"Retry-After": "7"}
    )
    [result] = _probe(fake)
    assert result.rate_limit.retry_after_seconds == 7
    assert result.dataverse_error_code == "0x80072322"
    assert result.http_status == 429


def test_deadline_bounds_the_whole_run(fake: FakeEntra) -> None:
    """When the deadline passes mid-probe: unreachable at stage deadline, the rest untried."""
    clock = FakeClock()

    def slow_token(request: Request) -> FakeResponse:
        clock.advance(31)  # the token answer arrives after the deadline
        return FakeEntra._token(fake, request)

    fake.overrides["token"] = slow_token
    context = context_for(fake, deadline_seconds=30, monotonic=clock)
    results = _probe(fake, ("prod", "test"), context=context)
    assert [r.outcome for r in results] == [Outcome.UNREACHABLE, Outcome.UNREACHABLE]
    assert [r.stage for r in results] == ["deadline", "deadline"]
    assert [r.attempted for r in results] == [True, False]
    assert fake.count("whoami") == 0
    assert results[0].duration_ms == 31000


class _CachedTokenProbe(ApplicationSecretProbe):
    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        return {"access_token": "eyJ.cached.token", "token_source": "cache"}


def test_a_cached_token_is_never_success(fake: FakeEntra) -> None:
    """A token that did not come from the identity provider proves nothing: unclassified."""
    identity = secret_identity()
    [result] = _CachedTokenProbe(identity, config_for(identity), context_for(fake)).run(["prod"])
    assert result.outcome is Outcome.UNCLASSIFIED
    assert result.token_source == "cache"
    assert "not verified" in result.message
    assert fake.count("whoami") == 0


class _BrokenProbe(ApplicationSecretProbe):
    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        raise RuntimeError("bug")


def test_run_never_raises(fake: FakeEntra) -> None:
    """An unexpected exception becomes an unclassified result, for every environment."""
    identity = secret_identity(environments=("prod", "test"))
    results = _BrokenProbe(identity, config_for(identity), context_for(fake)).run(["prod", "test"])
    assert [r.outcome for r in results] == [Outcome.UNCLASSIFIED] * 2


def test_a_failing_client_factory_is_a_result(fake: FakeEntra) -> None:
    """Even building the HTTP client may fail (no trust store): still a result, not a raise."""
    identity = secret_identity()

    def factory(tenant: TenantConfig, deadline: float) -> HttpClient:
        raise requests.exceptions.SSLError("certificate verify failed")

    context = ProbeContext(fingerprint_key=FINGERPRINT_KEY, http_clients=factory)
    [result] = ApplicationSecretProbe(identity, config_for(identity), context).run(["prod"])
    assert result.outcome is Outcome.TLS_ERROR


def test_unknown_environment_is_misconfigured(fake: FakeEntra) -> None:
    """An environment name the configuration does not define is reported, not attempted."""
    identity = secret_identity()
    [result] = ApplicationSecretProbe(identity, config_for(identity), context_for(fake)).run(
        ["nowhere"]
    )
    assert result.outcome is Outcome.MISCONFIGURED
    assert not result.attempted
    assert fake.requests == []


def test_msal_default_http_cache_would_mask_a_repeat(fake: FakeEntra) -> None:
    """Control experiment: a shared plain dict as msal's http_cache replays the 400 (no POST)."""
    fake.overrides["token"] = lambda request: entra_error(
        700016, "unauthorized_client", "Application not found."
    )
    shared: dict[str, Any] = {}
    for _ in range(2):
        app = msal.ConfidentialClientApplication(
            "client",
            client_credential="x",
            authority=f"https://login.example.test/{TENANT_ID}",
            token_cache=msal.TokenCache(),
            http_client=fake,
            http_cache=shared,
            instance_discovery=False,
            azure_region=False,
        )
        app.acquire_token_for_client(scopes=["https://contoso.crm.dynamics.com/.default"])
    assert fake.count("token") == 1  # this is what DiscoveryCache prevents
