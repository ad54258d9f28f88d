"""The HTTP session's configuration, and the discovery-only msal cache."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from probe_fakes import TENANT_ID, FakeEntra, entra_error, tenant

from monitor.config.model import NetworkConfig
from monitor.http import (
    DeadlineExceeded,
    MonitorSession,
    TrustStoreError,
    build_session,
    resolve_trust_store,
)
from monitor.probes.context import SessionPool
from monitor.probes.discovery import DiscoveryCache, is_discovery_key


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "corporate-ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return path


def test_session_trusts_only_what_is_configured(ca_file: Path) -> None:
    """trust_env off, the configured bundle, the configured proxy, no retries, no cookies."""
    session = build_session(NetworkConfig(ca_bundle=ca_file, proxy="http://proxy.example:3128"))
    assert session.trust_env is False
    assert session.verify == str(ca_file)
    assert session.proxies == {
        "https": "http://proxy.example:3128",
        "http": "http://proxy.example:3128",
    }
    adapter = session.get_adapter("https://login.microsoftonline.com")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter.max_retries.total == 0
    assert str(session.headers["User-Agent"]).startswith("dataverse-credential-monitor/")
    assert session.cookies.get_policy().set_ok(None, None) is False  # type: ignore[arg-type]


def test_environment_variables_change_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """REQUESTS_CA_BUNDLE, SSL_CERT_FILE and proxy variables do not reach the session."""
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_text("")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(elsewhere))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://evil.example:8080")
    session = build_session(NetworkConfig())
    assert session.verify != str(elsewhere)
    assert session.proxies == {}
    settings = session.merge_environment_settings(
        "https://login.microsoftonline.com/x", {}, None, None, None
    )
    assert settings["verify"] == session.verify
    assert settings["proxies"] == {}


def test_system_trust_store_is_the_operating_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ca_bundle: OpenSSL's compiled-in default file (certifi is never used)."""
    import certifi

    path = resolve_trust_store(NetworkConfig())
    assert path != certifi.where()
    assert Path(path).exists()


def test_missing_system_trust_store_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No bundle anywhere: a TrustStoreError (reported as tls_error), never verify=False."""
    paths = ssl.DefaultVerifyPaths(None, None, "SSL_CERT_FILE", "/nonexistent", "X", "/nonexistent")  # type: ignore[arg-type]
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: paths)
    monkeypatch.setattr("monitor.http._SYSTEM_BUNDLE_CANDIDATES", ())
    with pytest.raises(TrustStoreError):
        resolve_trust_store(NetworkConfig())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://localhost/common/userrealm/svc@contoso.example?api-version=1.0",
            "https://localhost:8443/common/userrealm/svc@contoso.example?api-version=1.0",
        ),
        (  # already has a port
            "https://localhost:9000/common/userrealm/x",
            "https://localhost:9000/common/userrealm/x",
        ),
        (  # other paths are not touched
            "https://localhost/tenant/oauth2/v2.0/token",
            "https://localhost/tenant/oauth2/v2.0/token",
        ),
        (  # other hosts are not touched
            "https://login.microsoftonline.com/common/userrealm/x",
            "https://login.microsoftonline.com/common/userrealm/x",
        ),
    ],
)
def test_userrealm_url_gets_the_authority_port_back(url: str, expected: str) -> None:
    """msal drops the authority's port from the user-realm URL; the session restores it."""
    session = build_session(NetworkConfig(), authority_hosts=["https://localhost:8443"])
    assert session._with_authority_port("GET", url) == expected


@pytest.mark.parametrize(
    ("requested", "remaining", "expected"),
    [
        (None, 30.0, (5.0, 20.0)),
        (None, 3.0, (3.0, 3.0)),
        (2.0, 30.0, (2.0, 2.0)),
        ((1.0, 60.0), 30.0, (1.0, 20.0)),
    ],
)
def test_timeouts_are_always_set_and_capped(
    requested: Any, remaining: float, expected: tuple[float, float]
) -> None:
    """Connect/read timeouts always apply and never exceed the time left to the deadline."""
    session = MonitorSession(NetworkConfig())
    assert session._timeouts(requested, remaining) == expected


class _RecordingAdapter(requests.adapters.BaseAdapter):
    """A transport that records what would have been sent, and sends nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(str(request.url))
        raise requests.exceptions.ConnectionError("not sent: recorded by the test")

    def close(self) -> None:
        pass


def test_a_passed_deadline_sends_nothing() -> None:
    """A request whose deadline already passed raises DeadlineExceeded (a Timeout) at once,
    without reaching the transport."""
    session = MonitorSession(NetworkConfig())
    transport = _RecordingAdapter()
    session.mount("https://", transport)
    with pytest.raises(DeadlineExceeded) as caught:
        session.bounded(time.monotonic() - 1).get("https://203.0.113.1/")
    assert isinstance(caught.value, requests.exceptions.Timeout)
    assert [] == transport.sent


def test_session_pool_shares_one_session_per_tenant() -> None:
    """Probes of one tenant reuse its session (and its connections)."""
    pool = SessionPool(NetworkConfig())
    assert pool.session(tenant()) is pool.session(tenant())
    assert pool.session(tenant()) is not pool.session(tenant("https://login.other.test"))
    pool.close()


# --- the discovery-only msal cache -----------------------------------------------------------

DISCOVERY_KEY = (
    f"GET https://login.example.test/{TENANT_ID}/v2.0/.well-known/openid-configuration hash=abc 2xx"
)


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        (DISCOVERY_KEY, True),
        ("POST https://login.example.test/t/oauth2/v2.0/token hash=abc 400", False),
        (
            "POST https://login.example.test/t/oauth2/v2.0/token client_id=c scope=s hash=h "
            "429/5xx/Retry-After",
            False,
        ),
        ("GET https://login.example.test/common/userrealm/u?api-version=1.0 hash=x 2xx", False),
        ("_index_", False),
        (42, False),
    ],
)
def test_discovery_keys(key: object, kept: bool) -> None:
    """Only successful OIDC discovery GETs are kept."""
    assert is_discovery_key(key) is kept


def test_discovery_cache_with_msal_keeps_discovery_and_drops_errors() -> None:
    """Through msal's own cache layer: one discovery GET for many apps, every POST sent."""
    fake = FakeEntra()
    fake.overrides["token"] = lambda request: entra_error(
        700016, "unauthorized_client", "Application not found."
    )
    cache = DiscoveryCache()
    for _ in range(3):
        app = msal.ConfidentialClientApplication(
            "client",
            client_credential="x",
            authority=f"https://login.example.test/{TENANT_ID}",
            token_cache=msal.TokenCache(),
            http_client=fake,
            http_cache=cache,
            instance_discovery=False,
            azure_region=False,
        )
        app.acquire_token_for_client(scopes=["https://contoso.crm.dynamics.com/.default"])
    assert fake.count("discovery") == 1
    assert fake.count("token") == 3
    assert all(is_discovery_key(key) for key in cache)
    sequence, timestamps = cache["_index_"]
    assert all(is_discovery_key(key) for key in timestamps)
    assert all(is_discovery_key(entry[2]) for entry in sequence)


def test_discovery_cache_hands_out_index_copies() -> None:
    """The index is copied out and filtered in, so concurrent msal apps cannot corrupt it."""
    cache = DiscoveryCache()
    cache["_index_"] = (
        [[10, 1, DISCOVERY_KEY], [5, 1, "POST x hash=y 400"]],
        {DISCOVERY_KEY: [10, 1], "POST x hash=y 400": [5, 1]},
    )
    sequence, timestamps = cache["_index_"]
    sequence.clear()
    timestamps.clear()
    again_sequence, again_timestamps = cache["_index_"]
    assert again_sequence == [[10, 1, DISCOVERY_KEY]]
    assert again_timestamps == {DISCOVERY_KEY: [10, 1]}
    assert len(cache) == 0
    cache["POST x hash=y 400"] = "dropped"
    assert "POST x hash=y 400" not in cache
