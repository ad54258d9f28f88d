"""Probe kind ``certificate``: an application signing in with a certificate (client assertion).

The assertion is signed by msal's own ``JwtAssertionCreator`` built once per certificate (see
:mod:`monitor.probes.assertion`), so a certificate probe costs about what a secret probe costs;
each probe still sends the assertion to the token endpoint and reads Entra's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msal

from monitor.config.model import EnvironmentConfig, TenantConfig
from monitor.http import HttpClient
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.assertion import AssertionSigner, BoundAssertion, CertificateError
from monitor.probes.classify import Failure, sanitise
from monitor.probes.runner import MsalProbe

# Entra's answer to a client assertion it cannot accept (signature, unknown or expired key).
ASSERTION_REJECTED = 700027


class ApplicationCertificateProbe(MsalProbe):
    """Client credentials grant with a PS256 client assertion, then WhoAmI."""

    credential_type: ClassVar[str] = "certificate"

    _signer: AssertionSigner | None = None

    def prepare(self) -> Failure | None:
        certificate = self.identity.certificate
        if certificate is None:
            return Failure(Outcome.MISCONFIGURED, "the identity has no certificate")
        try:
            self._signer = self.context.assertions.signer(
                self.identity.name, self.identity.client_id, certificate
            )
        except CertificateError as exc:
            return Failure(Outcome.MISCONFIGURED, f"the certificate cannot be used: {exc}")
        return None

    def refine(self, result: ProbeResult) -> ProbeResult:
        """An AADSTS700027 while the configured certificate's ``notAfter`` has passed is an
        expired certificate (``credential_expired``), whatever reason Entra's text gives."""
        certificate = self.identity.certificate
        not_after = certificate.not_after if certificate is not None else None
        if (
            result.outcome is Outcome.CREDENTIAL_INVALID
            and result.aadsts_code == ASSERTION_REJECTED
            and not_after is not None
            and not_after <= result.started_at
        ):
            return result.evolve(
                outcome=Outcome.CREDENTIAL_EXPIRED,
                message=sanitise(
                    f"the configured certificate expired on {not_after:%Y-%m-%d %H:%M} UTC: "
                    f"{result.message}"
                ),
            )
        return result

    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        if self._signer is None:
            raise RuntimeError("prepare() did not load the certificate")
        assertion = BoundAssertion(self._signer)
        app = self.application(
            msal.ConfidentialClientApplication,
            client,
            tenant,
            client_credential={"client_assertion": assertion},
        )
        # The audience is the token endpoint msal just discovered (or found in the cache).
        assertion.audience = app.authority.token_endpoint
        result: Mapping[str, Any] = app.acquire_token_for_client(
            scopes=[f"{environment.url.rstrip('/')}/.default"]
        )
        return result
