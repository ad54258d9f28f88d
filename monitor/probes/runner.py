"""The probe flow every kind shares: sign in with msal, call WhoAmI, classify, never raise.

Per environment of the identity: a fresh msal application with a fresh ``TokenCache`` (no token
is ever reused), a tenant-specific authority, no instance discovery and no regional endpoint (no
call outside the configured cloud), our HTTP client (explicit trust, deadline) and the shared
discovery-only ``http_cache``. Success requires a token from the identity provider and a WhoAmI
answer naming the user. One deadline bounds the whole run; past it, the result is
``unreachable`` with stage ``deadline`` (the credential was not judged). A sign-in failure that
holds for every environment is not repeated: the remaining environments repeat the answer with
``attempted=False`` (for a password identity, after any failed sign-in).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import msal

from monitor.config.model import Config, EnvironmentConfig, IdentityConfig, TenantConfig
from monitor.http import DeadlineExceeded, HttpClient, HttpResponse, RecordingClient
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit, Stage
from monitor.probes.classify import (
    Failure,
    classify_dataverse,
    classify_token_error,
    explain_exception,
    parse_retry_after,
    result_fields,
    sanitise,
)
from monitor.probes.context import ProbeContext
from monitor.probes.dataverse import call_whoami
from monitor.probes.results import identity_result
from monitor.secrets import MASK

App = TypeVar("App", bound=msal.ClientApplication)

# msal's ``token_source`` for a token that came from a real round trip (not "cache"/"broker").
TOKEN_FROM_IDENTITY_PROVIDER = "identity_provider"  # noqa: S105 - a label, not a secret

# Answers that hold for every environment of the identity: signing in again for the next
# environment would only repeat them (and, for a password, add a failed sign-in).
SIGN_IN_FAILURES: frozenset[Outcome] = frozenset(
    {
        Outcome.CREDENTIAL_INVALID,
        Outcome.CREDENTIAL_EXPIRED,
        Outcome.PASSWORD_EXPIRED,
        Outcome.ACCOUNT_DISABLED,
        Outcome.ACCOUNT_LOCKED,
        Outcome.IDENTITY_NOT_FOUND,
        Outcome.POLICY_BLOCKED,
        Outcome.RESOURCE_DISABLED,
        Outcome.TENANT_RESTRICTED,
        Outcome.CLOCK_SKEW,
    }
)


class _RecordingClient(RecordingClient):
    """The HTTP client msal gets: checks the probe's deadline before each request."""

    def __init__(self, inner: HttpClient, deadline: float, context: ProbeContext) -> None:
        super().__init__()
        self.inner = inner
        self.deadline = deadline
        self.context = context

    def send(self, method: str, url: str, kwargs: dict[str, Any]) -> HttpResponse:
        if self.context.monotonic() >= self.deadline:
            raise DeadlineExceeded("the probe deadline passed before the request was sent")
        send = self.inner.get if method == "GET" else self.inner.post
        return send(url, **kwargs)


@dataclass(frozen=True)
class Attempt:
    result: ProbeResult
    signed_in: bool  # a token came from the identity provider


class MsalProbe(abc.ABC):
    """A probe kind: how to obtain a token with msal. Everything else is shared here."""

    credential_type: ClassVar[str]

    def __init__(self, identity: IdentityConfig, config: Config, context: ProbeContext) -> None:
        self.identity = identity
        self.config = config
        self.context = context

    # --- what a kind provides ----------------------------------------------------------------

    @abc.abstractmethod
    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        """Sign in with msal through *client* for *environment*; return msal's result dict.

        Raise whatever msal raises.
        """

    def prepare(self) -> Failure | None:
        """Do the run's local set-up (parse a certificate); return a failure that stops it."""
        return None

    def refine(self, result: ProbeResult) -> ProbeResult:
        """Return *result* with what only this kind knows about it (default: unchanged)."""
        return result

    def halts_remaining(self, attempt: Attempt) -> bool:
        """Return True when no other environment may be signed in to after *attempt*."""
        result = attempt.result
        return result.stage == "token" and result.outcome in SIGN_IN_FAILURES

    @staticmethod
    def authority(tenant: TenantConfig) -> str:
        return f"{tenant.authority_host.rstrip('/')}/{tenant.tenant_id}"

    def application(
        self, kind: type[App], client: HttpClient, tenant: TenantConfig, **credential: Any
    ) -> App:
        """Return a fresh msal application of *kind* for this identity (see the module
        docstring); *credential*: ``client_credential`` of a confidential client."""
        app: App = kind(
            self.identity.client_id,
            authority=self.authority(tenant),
            token_cache=msal.TokenCache(),  # fresh: a cached token would hide a revoked credential
            http_client=client,
            http_cache=self.context.discovery_cache,
            instance_discovery=False,
            azure_region=False,
            **credential,
        )
        return app

    # --- the shared flow ---------------------------------------------------------------------

    def run(self, environments: Sequence[str]) -> list[ProbeResult]:
        """Probe the identity in each of *environments*; return one result each. Never raise."""
        results: list[ProbeResult] = []
        try:
            deadline = self.context.monotonic() + self.context.deadline_seconds
            fingerprint = self._fingerprint()
            setup_failure = self._prepare_safely()
            halt: ProbeResult | None = None
            for name in environments:
                if halt is not None:
                    results.append(self._repeat(halt, name))
                    continue
                if setup_failure is not None:
                    results.append(self._setup_failed(setup_failure, name, fingerprint))
                    continue
                attempt = self._attempt_safely(name, deadline, fingerprint)
                results.append(attempt.result)
                if attempt.result.attempted and self.halts_remaining(attempt):
                    halt = attempt.result
        except Exception as exc:  # the last line of defence: a probe never raises
            done = {result.environment for result in results}
            fingerprint = self._fingerprint()
            results.extend(
                self._internal_error(name, exc, fingerprint)
                for name in environments
                if name not in done
            )
        return results

    def _fingerprint(self) -> str | None:
        try:
            return self.identity.credential().fingerprint(self.context.fingerprint_key)
        except Exception:
            return None

    def _prepare_safely(self) -> Failure | None:
        try:
            return self.prepare()
        except Exception as exc:
            return Failure(Outcome.UNCLASSIFIED, sanitise(f"set-up failed: {type(exc).__name__}"))

    def _attempt_safely(self, name: str, deadline: float, fingerprint: str | None) -> Attempt:
        started_at = self.context.clock()
        start = self.context.monotonic()
        try:
            attempt = self._attempt(name, deadline, fingerprint, started_at, start)
            return Attempt(self.refine(attempt.result), attempt.signed_in)
        except Exception as exc:
            return Attempt(
                self._result(
                    name,
                    started_at,
                    start,
                    fingerprint,
                    Outcome.UNCLASSIFIED,
                    "token",
                    sanitise(f"internal error in the probe: {type(exc).__name__}"),
                ),
                signed_in=False,
            )

    def _attempt(
        self,
        name: str,
        deadline: float,
        fingerprint: str | None,
        started_at: datetime,
        start: float,
    ) -> Attempt:
        def result(outcome: Outcome, stage: Stage, message: str, **fields: Any) -> ProbeResult:
            return self._result(
                name, started_at, start, fingerprint, outcome, stage, message, **fields
            )

        environment = self.config.environments.get(name)
        tenant = self.config.tenants.get(self.identity.tenant)
        if environment is None or tenant is None:
            missing = f"environment {name!r}" if environment is None else "the identity's tenant"
            return Attempt(
                result(
                    Outcome.MISCONFIGURED,
                    "token",
                    f"{missing} is not configured",
                    attempted=False,
                ),
                signed_in=False,
            )
        if start >= deadline:
            return Attempt(
                result(
                    Outcome.UNREACHABLE,
                    "deadline",
                    f"the probe deadline ({self.context.deadline_seconds:g} s) passed before "
                    "this environment was tried; the credential was not judged",
                    attempted=False,
                ),
                signed_in=False,
            )

        # 1. the token
        client: _RecordingClient | None = None
        try:
            client = _RecordingClient(
                self.context.http_clients(tenant, deadline), deadline, self.context
            )
            answer = self.acquire_token(client, tenant, environment)
        except Exception as exc:
            last = client.last if client is not None else None
            return Attempt(self._failed(result, exc, last, deadline, "signing in"), signed_in=False)
        if not isinstance(answer, Mapping) or "access_token" not in answer:
            last = client.last
            status = _status(last)
            error = classify_token_error(answer, http_status=status)
            return Attempt(
                result(
                    error.outcome,
                    "token",
                    error.message,
                    http_status=status,
                    rate_limit=RateLimit(
                        retry_after_seconds=parse_retry_after(last.headers)
                        if last is not None
                        else None
                    ),
                    **result_fields(error),
                ),
                signed_in=False,
            )
        token_source = answer.get("token_source")
        access_token = answer.get("access_token")
        if token_source != TOKEN_FROM_IDENTITY_PROVIDER or not isinstance(access_token, str):
            return Attempt(
                result(
                    Outcome.UNCLASSIFIED,
                    "token",
                    f"the token did not come from the identity provider (token_source="
                    f"{sanitise(str(token_source), 40)}); the credential was not verified",
                    token_source=_short(token_source),
                ),
                signed_in=False,
            )

        # 2. WhoAmI with that token
        try:
            response = call_whoami(client, environment.url, access_token)
            status = int(response.status_code)
            # An answer echoing the request must not carry the token into the message.
            body = response.text.replace(access_token, MASK) if access_token else response.text
            verdict = classify_dataverse(status, body, response.headers)
        except Exception as exc:
            return Attempt(
                self._failed(
                    result, exc, None, deadline, "calling Dataverse", token_source=token_source
                ),
                signed_in=True,
            )
        return Attempt(
            result(
                verdict.outcome,
                "dataverse",
                verdict.message,
                http_status=status,
                dataverse_error_code=verdict.error_code,
                token_source=token_source,
                **result_fields(verdict),
            ),
            signed_in=True,
        )

    def _failed(
        self,
        result: Callable[..., ProbeResult],
        exc: BaseException,
        last: HttpResponse | None,
        deadline: float,
        doing: str,
        **fields: Any,
    ) -> ProbeResult:
        failure = explain_exception(exc, response=last)
        stage: Stage = "token" if doing == "signing in" else "dataverse"
        past_deadline = self.context.monotonic() >= deadline
        if isinstance(exc, DeadlineExceeded) or (
            failure.outcome is Outcome.UNREACHABLE and past_deadline
        ):
            return result(
                Outcome.UNREACHABLE,
                "deadline",
                f"no complete answer within the probe deadline "
                f"({self.context.deadline_seconds:g} s) while {doing}; the credential was not "
                "judged",
                **fields,
            )
        return result(
            failure.outcome,
            stage,
            sanitise(f"{failure.message} while {doing}"),
            rate_limit=RateLimit(retry_after_seconds=failure.retry_after_seconds),
            **result_fields(failure),
            **fields,
        )

    def _result(
        self,
        environment: str,
        started_at: datetime,
        start: float,
        fingerprint: str | None,
        outcome: Outcome,
        stage: Stage,
        message: str,
        **fields: Any,
    ) -> ProbeResult:
        return identity_result(
            self.identity,
            environment,
            started_at,
            outcome,
            stage,
            duration_ms=max(0, int((self.context.monotonic() - start) * 1000)),
            message=sanitise(message),
            credential_fingerprint=fingerprint,
            **fields,
        )

    def _repeat(self, halt: ProbeResult, environment: str) -> ProbeResult:
        why = (
            "a password identity makes at most one failed sign-in per run"
            if self.identity.credential_type == "password"
            else "the answer holds for every environment of this identity"
        )
        return halt.evolve(
            environment=environment,
            started_at=self.context.clock(),
            duration_ms=0,
            attempted=False,
            message=sanitise(
                f"not signed in again after {halt.outcome} in {halt.environment} ({why}): "
                f"{halt.message}"
            ),
        )

    def _setup_failed(
        self, failure: Failure, environment: str, fingerprint: str | None
    ) -> ProbeResult:
        return self._not_attempted(environment, self.context.clock(), failure, fingerprint)

    def _internal_error(
        self, environment: str, exc: BaseException, fingerprint: str | None
    ) -> ProbeResult:
        try:
            started_at = self.context.clock()
        except Exception:
            started_at = utc_epoch()
        failure = Failure(
            Outcome.UNCLASSIFIED, f"internal error in the probe: {type(exc).__name__}"
        )
        return self._not_attempted(environment, started_at, failure, fingerprint)

    def _not_attempted(
        self, environment: str, started_at: datetime, failure: Failure, fingerprint: str | None
    ) -> ProbeResult:
        """Return the result of an environment no sign-in was tried in, because of *failure*."""
        return identity_result(
            self.identity,
            environment,
            started_at,
            failure.outcome,
            "token",
            attempted=False,
            message=sanitise(failure.message),
            credential_fingerprint=fingerprint,
        )


class ClientCredentialsProbe(MsalProbe):
    """An application signing in with the client credentials grant: a kind provides only its
    ``client_credential`` (a secret, or a client assertion)."""

    @abc.abstractmethod
    def client_credential(self) -> str | dict[str, Any]:
        """Return msal's ``client_credential`` for one sign-in. Raise if there is none."""

    def discovered(self, app: msal.ConfidentialClientApplication) -> None:
        """Called once msal has discovered the tenant's endpoints, before the token request."""

    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        app = self.application(
            msal.ConfidentialClientApplication,
            client,
            tenant,
            client_credential=self.client_credential(),
        )
        self.discovered(app)
        result: Mapping[str, Any] = app.acquire_token_for_client(
            scopes=[f"{environment.url.rstrip('/')}/.default"]
        )
        return result


def utc_epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


def _status(response: HttpResponse | None) -> int | None:
    if response is None:
        return None
    try:
        return int(response.status_code)
    except (TypeError, ValueError):
        return None


def _short(value: object) -> str | None:
    return sanitise(value, 40) if isinstance(value, str) else None
