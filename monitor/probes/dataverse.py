"""The Dataverse half of a probe: ``WhoAmI`` with the token Entra just issued.

A token proves only that Entra accepts the credential; ``WhoAmI`` proves the identity maps to an
enabled user in the environment (docs/platform.md, "Dataverse answers").
"""

from __future__ import annotations

from monitor.http import HttpClient, HttpResponse

WHOAMI_PATH = "/api/data/v9.2/WhoAmI"


def whoami_url(environment_url: str) -> str:
    return environment_url.rstrip("/") + WHOAMI_PATH


def call_whoami(client: HttpClient, environment_url: str, access_token: str) -> HttpResponse:
    """Send ``GET {environment}/api/data/v9.2/WhoAmI`` with *access_token* and return the answer.

    Raise whatever the HTTP client raises; classification is the caller's.
    """
    return client.get(
        whoami_url(environment_url),
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        },
    )
