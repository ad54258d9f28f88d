"""The observer's access tokens for one directory pass over one tenant.

Unlike a probe, the observer is not what is being judged, so its token may be reused: one msal
application (with its own token cache) per tenant and pass serves Graph and every Dataverse
environment, and msal answers repeated requests for the same resource from that cache. Nothing
outlives the pass, and nothing outlives a failure: after a failed sign-in or a token a service
refused (401) the application and its cache are dropped, so the next request for a token is a
real round trip (msal's in-memory HTTP cache would otherwise replay a 400 for 60 s). A failed
sign-in is remembered for its resource for the rest of the pass, so a wrong observer secret
costs one failed sign-in per resource and pass, not one per fact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import msal
import requests

from monitor.config.model import ObserverConfig, TenantConfig
from monitor.directory.client import NotObserved
from monitor.http import HttpResponse, MonitorSession, RecordingClient
from monitor.probes.assertion import BoundAssertion, CertificateAssertions, CertificateError
from monitor.probes.classify import classify_token_error, explain_exception, sanitise


class _PerRequestDeadline(RecordingClient):
    """msal's ``http_client``: every request gets its own deadline (the app lives for a pass)."""

    def __init__(
        self, session: MonitorSession, seconds: float, monotonic: Callable[[], float]
    ) -> None:
        super().__init__()
        self.session = session
        self.seconds = seconds
        self.monotonic = monotonic

    def send(self, method: str, url: str, kwargs: dict[str, Any]) -> HttpResponse:
        return self.session.request(method, url, deadline=self.monotonic() + self.seconds, **kwargs)


class ObserverTokens:
    """Access tokens of a tenant's observer, per resource, for one directory pass."""

    def __init__(
        self,
        tenant: TenantConfig,
        observer: ObserverConfig,
        session: MonitorSession,
        *,
        assertions: CertificateAssertions | None = None,
        request_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenant = tenant
        self.observer = observer
        self.client = _PerRequestDeadline(session, request_seconds, monotonic)
        self.assertions = assertions or CertificateAssertions()
        self._app: msal.ConfidentialClientApplication | None = None
        self._assertion: BoundAssertion | None = None
        self._failures: dict[str, NotObserved] = {}

    def for_resource(self, resource: str) -> ResourceTokens:
        """Return the token provider for *resource* (``https://graph...`` or an environment)."""
        return ResourceTokens(self, resource.rstrip("/"))

    def invalidate(self) -> None:
        """Drop the msal application and every token it cached."""
        self._app = None
        self._assertion = None

    def token(self, resource: str) -> str:
        """Return an access token for *resource*. Raise :class:`NotObserved` (``sign_in``)."""
        failed = self._failures.get(resource)
        if failed is not None:
            raise failed
        try:
            app = self._application()
            if self._assertion is not None:
                self._assertion.audience = app.authority.token_endpoint
            result: Mapping[str, Any] = app.acquire_token_for_client(
                scopes=[f"{resource}/.default"]
            )
        except NotObserved as refused:
            self._fail(resource, refused)
            raise
        except (requests.RequestException, OSError, ValueError, msal.exceptions.MsalError) as exc:
            explained = explain_exception(exc, response=self.client.last)
            self._fail(
                resource,
                NotObserved(
                    "unreachable"
                    if explained.outcome.value in ("unreachable", "tls_error")
                    else "sign_in",
                    f"the observer could not sign in: {explained.message}",
                ),
            )
            raise self._failures[resource] from None
        token = result.get("access_token")
        if not isinstance(token, str):
            status = self.client.last.status_code if self.client.last is not None else None
            error = classify_token_error(result, http_status=status)
            code = f" (AADSTS{error.aadsts_code})" if error.aadsts_code else ""
            self._fail(
                resource,
                NotObserved(
                    "throttled" if error.outcome.value == "throttled" else "sign_in",
                    f"the observer could not sign in{code}: {error.message}",
                ),
            )
            raise self._failures[resource]
        return token

    def _fail(self, resource: str, failure: NotObserved) -> None:
        self._failures[resource] = failure
        self.invalidate()  # never reuse anything from an application that failed

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is not None:
            return self._app
        credential: str | dict[str, Any]
        self._assertion = None
        if self.observer.secret is not None:
            credential = self.observer.secret.reveal()
        elif self.observer.certificate is not None:
            try:
                signer = self.assertions.signer(
                    f"observer:{self.tenant.name}",
                    self.observer.client_id,
                    self.observer.certificate,
                )
            except CertificateError as exc:
                raise NotObserved(
                    "sign_in", sanitise(f"the observer's certificate cannot be used: {exc}")
                ) from None
            self._assertion = BoundAssertion(signer)
            credential = {"client_assertion": self._assertion}
        else:
            raise NotObserved("sign_in", "the observer has neither a secret nor a certificate")
        self._app = msal.ConfidentialClientApplication(
            self.observer.client_id,
            client_credential=credential,
            authority=f"{self.tenant.authority_host.rstrip('/')}/{self.tenant.tenant_id}",
            token_cache=msal.TokenCache(),
            http_client=self.client,
            instance_discovery=False,
            azure_region=False,
        )
        return self._app


class ResourceTokens:
    """:class:`~monitor.directory.client.TokenProvider` for one resource."""

    def __init__(self, owner: ObserverTokens, resource: str) -> None:
        self.owner = owner
        self.resource = resource

    def token(self) -> str:
        return self.owner.token(self.resource)

    def invalidate(self) -> None:
        self.owner.invalidate()
