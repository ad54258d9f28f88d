"""Probe kind ``client_secret``: an application signing in with a client secret."""

from __future__ import annotations

from typing import ClassVar

from monitor.probes.runner import ClientCredentialsProbe


class ApplicationSecretProbe(ClientCredentialsProbe):
    """Client credentials grant with the identity's secret, then WhoAmI."""

    credential_type: ClassVar[str] = "client_secret"

    def client_credential(self) -> str:
        secret = self.identity.secret
        if secret is None:
            raise ValueError("the identity has no client secret")
        return secret.reveal()
