"""Entra ID authority hosts and Microsoft Graph endpoints for each cloud.

Every sign-in and Graph call goes to the endpoints of the tenant's own cloud (national clouds are
separate deployments: a US Government tenant does not exist on ``login.microsoftonline.com``).
``custom`` takes both endpoints from the configuration, which is also how the simulator is
reached. Source: Microsoft's "National clouds" page (domain.md section 1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CloudName = Literal["public", "usgov", "china", "custom"]


@dataclass(frozen=True)
class CloudEndpoints:
    """Where a cloud's identity provider and Graph live (https origins, no trailing slash)."""

    name: CloudName
    authority_host: str
    graph_url: str


CLOUDS: dict[str, CloudEndpoints] = {
    "public": CloudEndpoints(
        "public", "https://login.microsoftonline.com", "https://graph.microsoft.com"
    ),
    "usgov": CloudEndpoints(
        "usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"
    ),
    "china": CloudEndpoints(
        "china",
        "https://login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
}

CLOUD_NAMES: tuple[CloudName, ...] = ("public", "usgov", "china", "custom")


def endpoints(
    cloud: CloudName, *, authority_host: str | None = None, graph_url: str | None = None
) -> CloudEndpoints:
    """Return the endpoints of *cloud*.

    A ``custom`` cloud needs both *authority_host* and *graph_url* (https, as validated by the
    configuration loader); the well-known clouds take neither. Raise ``ValueError`` otherwise.
    """
    if cloud == "custom":
        if not authority_host or not graph_url:
            raise ValueError("a custom cloud needs authority_host and graph_url")
        for url in (authority_host, graph_url):
            if not url.startswith("https://"):
                raise ValueError(f"cloud endpoints must be https URLs, not {url!r}")
        return CloudEndpoints("custom", authority_host.rstrip("/"), graph_url.rstrip("/"))
    if authority_host is not None or graph_url is not None:
        raise ValueError(f'the {cloud} cloud has fixed endpoints; use cloud = "custom"')
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}") from None
