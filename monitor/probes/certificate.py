"""Probe kind ``certificate``: an application signing in with a certificate (client assertion).

The assertion is signed by msal's own ``JwtAssertionCreator`` built once per certificate (see
:mod:`monitor.probes.assertion`), so a certificate probe costs about what a secret probe costs;
each probe still sends the assertion to the token endpoint and reads Entra's answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msal

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.assertion import AssertionSigner, BoundAssertion, CertificateError
from monitor.probes.classify import Failure, sanitise
from monitor.probes.runner import ClientCredentialsProbe

# Entra's answer to a client assertion it cannot accept (signature, unknown or expired key).
ASSERTION_REJECTED = 700027


class ApplicationCertificateProbe(ClientCredentialsProbe):
    """Client credentials grant with a PS256 client assertion, then WhoAmI."""

    credential_type: ClassVar[str] = "certificate"

    _signer: AssertionSigner | None = None
    _assertion: BoundAssertion | None = None  # of the sign-in under way

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

    def client_credential(self) -> dict[str, Any]:
        if self._signer is None:
            raise RuntimeError("prepare() did not load the certificate")
        self._assertion = BoundAssertion(self._signer)
        return {"client_assertion": self._assertion}

    def discovered(self, app: msal.ConfidentialClientApplication) -> None:
        # The audience is the token endpoint msal just discovered (or found in the cache).
        if self._assertion is not None:
            self._assertion.audience = app.authority.token_endpoint
