"""Endpoints per cloud and the tenant-specific authority the probes sign in at."""

from __future__ import annotations

import pytest
from config_testkit import MINIMAL, MINIMAL_ENVIRON, TENANT_ID, WriteConfig, load

from monitor.cloud import CLOUDS, CloudEndpoints, endpoints
from monitor.probes.runner import MsalProbe


@pytest.mark.parametrize(
    ("cloud", "authority_host", "graph_url"),
    [
        ("public", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        (
            "china",
            "https://login.partner.microsoftonline.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
    ],
)
def test_well_known_clouds(cloud: str, authority_host: str, graph_url: str) -> None:
    """Each national cloud has its own authority host and Graph endpoint."""
    assert endpoints(cloud) == CloudEndpoints(cloud, authority_host, graph_url)  # type: ignore[arg-type]
    assert CLOUDS[cloud].authority_host == authority_host


def test_custom_cloud() -> None:
    """A custom cloud uses the endpoints given, without a trailing slash."""
    assert endpoints(
        "custom", authority_host="https://127.0.0.1:8443/", graph_url="https://127.0.0.1:8444"
    ) == CloudEndpoints("custom", "https://127.0.0.1:8443", "https://127.0.0.1:8444")


@pytest.mark.parametrize(
    ("authority_host", "graph_url"),
    [
        (None, "https://graph.example.net"),
        ("https://login.example.net", None),
        ("http://login.example.net", "https://graph.example.net"),
        ("https://login.example.net", "http://graph.example.net"),
    ],
)
def test_custom_cloud_needs_both_https_endpoints(
    authority_host: str | None, graph_url: str | None
) -> None:
    """A custom cloud without both endpoints, or with plain http, is refused."""
    with pytest.raises(ValueError, match=r"custom cloud|https"):
        endpoints("custom", authority_host=authority_host, graph_url=graph_url)


def test_well_known_cloud_refuses_endpoints() -> None:
    """Endpoints may only be given for a custom cloud."""
    with pytest.raises(ValueError, match="fixed endpoints"):
        endpoints("public", authority_host="https://login.example.net")


def test_unknown_cloud() -> None:
    """An unknown cloud name is refused."""
    with pytest.raises(ValueError, match="unknown cloud"):
        endpoints("mars")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cloud", "endpoint_lines", "host", "authority"),
    [
        ("public", "", "crm.dynamics.com", f"https://login.microsoftonline.com/{TENANT_ID}"),
        ("usgov", "", "crm.microsoftdynamics.us", f"https://login.microsoftonline.us/{TENANT_ID}"),
        (
            "usgov-dod",
            "",
            "crm.appsplatform.us",
            f"https://login.microsoftonline.us/{TENANT_ID}",
        ),
        (
            "china",
            "",
            "crm.dynamics.cn",
            f"https://login.partner.microsoftonline.cn/{TENANT_ID}",
        ),
        (
            "custom",
            'authority_host = "https://127.0.0.1:8443/"\ngraph_url = "https://127.0.0.1:8444"\n',
            "crm.dynamics.com",
            f"https://127.0.0.1:8443/{TENANT_ID}",
        ),
    ],
    ids=["public", "usgov", "usgov-dod", "china", "custom"],
)
def test_probes_sign_in_at_the_tenants_own_authority(
    write_config: WriteConfig, cloud: str, endpoint_lines: str, host: str, authority: str
) -> None:
    """The authority the probes hand to msal (``MsalProbe.authority``) is the configured cloud's
    host followed by the tenant ID: never /common or /organizations, never a doubled slash."""
    tenant_line = f'tenant_id = "{TENANT_ID}"'
    text = MINIMAL.replace(tenant_line, f'{tenant_line}\ncloud = "{cloud}"\n{endpoint_lines}')
    text = text.replace("contoso.crm.dynamics.com", f"contoso.{host}")
    tenant = load(write_config(text), MINIMAL_ENVIRON).tenants["contoso"]

    assert authority == MsalProbe.authority(tenant)
