"""Endpoints per cloud and the tenant-specific authority."""

from __future__ import annotations

import pytest

from monitor.cloud import CLOUDS, CloudEndpoints, authority_url, endpoints
from monitor.config.model import TenantConfig


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


def test_authority_url_is_tenant_specific() -> None:
    """The authority is the cloud's host followed by the tenant ID, never /common."""
    tenant = TenantConfig(
        name="contoso",
        tenant_id="3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70",
        cloud="usgov",
        authority_host="https://login.microsoftonline.us",
        graph_url="https://graph.microsoft.us",
    )

    assert authority_url(tenant) == (
        "https://login.microsoftonline.us/3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
    )
