"""Probe kind ``client_secret``: an application signing in with a client secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msal

from monitor.config.model import EnvironmentConfig, TenantConfig
from monitor.http import HttpClient
from monitor.probes.runner import MsalProbe


class ApplicationSecretProbe(MsalProbe):
    """Client credentials grant with the identity's secret, then WhoAmI."""

    credential_type: ClassVar[str] = "client_secret"

    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        secret = self.identity.secret
        if secret is None:
            raise ValueError("the identity has no client secret")
        app = self.application(
            msal.ConfidentialClientApplication,
            client,
            tenant,
            client_credential=secret.reveal(),
        )
        result: Mapping[str, Any] = app.acquire_token_for_client(
            scopes=[f"{environment.url.rstrip('/')}/.default"]
        )
        return result
