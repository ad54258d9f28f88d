"""Entra ID authority hosts, Microsoft Graph endpoints, Dataverse hosts and admin centers for
each cloud.

Every sign-in and Graph call goes to the endpoints of the tenant's own cloud (national clouds are
separate deployments: a US Government tenant does not exist on ``login.microsoftonline.com``).
``custom`` takes both endpoints from the configuration, which is also how the simulator is
reached. The clouds and their sources: ``docs/platform.md``, "Clouds".
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Literal

CloudName = Literal["public", "usgov", "usgov-dod", "china", "custom"]


@dataclass(frozen=True)
class CloudEndpoints:
    """Where a cloud's identity provider and Graph live (https origins, no trailing slash)."""

    name: CloudName
    authority_host: str
    graph_url: str


# ``public`` is the worldwide cloud and also GCC (Moderate), which signs in and reads Graph on the
# worldwide endpoints; ``usgov`` is GCC High and ``usgov-dod`` DoD (both sign in at
# login.microsoftonline.us; the tenant's OpenID configuration names its Graph host,
# ``msgraph_host``); ``china`` is operated by 21Vianet.
CLOUDS: dict[str, CloudEndpoints] = {
    "public": CloudEndpoints(
        "public", "https://login.microsoftonline.com", "https://graph.microsoft.com"
    ),
    "usgov": CloudEndpoints(
        "usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"
    ),
    "usgov-dod": CloudEndpoints(
        "usgov-dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"
    ),
    "china": CloudEndpoints(
        "china",
        "https://login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
}

CLOUD_NAMES: tuple[CloudName, ...] = ("public", "usgov", "usgov-dod", "china", "custom")

# The host suffix of every Dataverse environment URL of a cloud.
DATAVERSE_HOSTS: dict[str, str] = {
    "public": ".dynamics.com",  # crm.dynamics.com, crm2 ... crm21 (crm9: GCC)
    "usgov": ".crm.microsoftdynamics.us",  # GCC High
    "usgov-dod": ".crm.appsplatform.us",  # DoD
    "china": ".crm.dynamics.cn",
}
GCC_HOST = ".crm9.dynamics.com"


@dataclass(frozen=True)
class AdminCenters:
    """The admin centers of a cloud (https origins; None: not one the monitor can name)."""

    power_platform: str | None
    entra: str
    microsoft_365: str | None


ADMIN_CENTERS: dict[str, AdminCenters] = {
    "public": AdminCenters(
        "https://admin.powerplatform.microsoft.com",
        "https://entra.microsoft.com",
        "https://admin.microsoft.com",
    ),
    "gcc": AdminCenters(
        "https://gcc.admin.powerplatform.microsoft.us",
        "https://entra.microsoft.com",
        "https://admin.microsoft.com",
    ),
    "usgov": AdminCenters(
        "https://high.admin.powerplatform.microsoft.us",
        "https://entra.microsoft.us",
        "https://portal.office365.us",
    ),
    "usgov-dod": AdminCenters(
        "https://admin.appsplatform.us",
        "https://entra.microsoft.us",
        "https://portal.apps.mil",
    ),
    "china": AdminCenters(None, "https://entra.microsoftonline.cn", None),
}


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def cloud_of_environment(url: str) -> str | None:
    """Return the cloud whose Dataverse hosts *url* belongs to (GCC is "public"), or None."""
    host = _host(url)
    for cloud, suffix in DATAVERSE_HOSTS.items():
        if host.endswith(suffix):
            return cloud
    return None


def environment_problem(cloud: str, url: str) -> str | None:
    """Return why *url* is not a Dataverse environment of *cloud* (None: it is, or the cloud is
    ``custom``, whose environments may be anywhere)."""
    suffix = DATAVERSE_HOSTS.get(cloud)
    if suffix is None or _host(url).endswith(suffix):
        return None
    other = cloud_of_environment(url)
    return f"an environment of the {other} cloud" if other else "not a Dataverse host"


def admin_centers(cloud: str, environment_url: str | None = None) -> AdminCenters:
    """Return the admin centers of *cloud*; a ``public`` environment on ``*.crm9.dynamics.com``
    is GCC, whose Power Platform admin center has its own host. ``custom`` gets the public
    ones."""
    if cloud == "public" and environment_url and _host(environment_url).endswith(GCC_HOST):
        return ADMIN_CENTERS["gcc"]
    return ADMIN_CENTERS.get(cloud, ADMIN_CENTERS["public"])


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
