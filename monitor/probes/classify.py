"""Turn what Entra ID, Dataverse and the network answered into an outcome class.

Pure functions: no I/O, no clock, no logging. They never raise on any input and never return
``Outcome.OK`` for anything but a proven success (a WhoAmI answer naming the user). Entra errors
are classified on their AADSTS code before the OAuth ``error`` (:func:`classify_token_error`),
Dataverse answers on their error code before the HTTP status (:func:`classify_dataverse`);
transport failures, throttling, 5xx and unreadable bodies are never a credential class. The
codes, their meanings and their sources are in ``docs/platform.md``.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any, NamedTuple

import requests

from monitor.http import (
    DeadlineExceeded,
    HttpResponse,
    ResponseTooLarge,
    TrustStoreError,
    odata_error,
)
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit
from monitor.secrets import MASK, scrub

MESSAGE_LIMIT = 300

_O = Outcome

# Microsoft Entra authentication and authorization error codes
# (https://learn.microsoft.com/entra/identity-platform/reference-error-codes); the class of each
# code and why: docs/platform.md, "Sign-in answers".
AADSTS_OUTCOMES: Mapping[int, Outcome] = MappingProxyType(
    {
        # the credential itself is wrong, rotated or deleted
        50126: _O.CREDENTIAL_INVALID,  # InvalidUserNameOrPassword
        50064: _O.CREDENTIAL_INVALID,  # CredentialAuthenticationError
        70002: _O.CREDENTIAL_INVALID,  # InvalidClient: the client secret does not match
        7000215: _O.CREDENTIAL_INVALID,  # invalid client secret (wrong value, secret ID, deleted)
        700027: _O.CREDENTIAL_INVALID,  # assertion signature invalid (expired: see below)
        700030: _O.CREDENTIAL_INVALID,  # certificate subject name not authorised
        50012: _O.CREDENTIAL_INVALID,  # AuthenticationFailed (cert not authorised, bad chain)
        50013: _O.CREDENTIAL_INVALID,  # InvalidAssertion
        50027: _O.CREDENTIAL_INVALID,  # InvalidJwtToken (malformed client assertion)
        50048: _O.CREDENTIAL_INVALID,  # SubjectMismatchesIssuer in the client assertion
        700021: _O.CREDENTIAL_INVALID,  # assertion application id does not match client_id
        500133: _O.CREDENTIAL_INVALID,  # user assertion not within valid time range (OBO)
        # expired
        7000222: _O.CREDENTIAL_EXPIRED,  # client secret expired (secrets only)
        50055: _O.PASSWORD_EXPIRED,  # InvalidPasswordExpiredPassword
        50144: _O.PASSWORD_EXPIRED,  # on-premises password expired
        50133: _O.PASSWORD_EXPIRED,  # session invalid: password expired
        50132: _O.PASSWORD_EXPIRED,  # session invalid: password changed
        50135: _O.PASSWORD_EXPIRED,  # password change required (compromised password)
        50137: _O.PASSWORD_EXPIRED,  # password change required by policy
        50142: _O.PASSWORD_EXPIRED,  # password change required by Conditional Access
        50056: _O.PASSWORD_EXPIRED,  # no password in the directory (account made passwordless)
        # account / application state
        50057: _O.ACCOUNT_DISABLED,  # UserDisabled
        7000112: _O.ACCOUNT_DISABLED,  # application (service principal) disabled
        70001: _O.ACCOUNT_DISABLED,  # UnauthorizedClient: application disabled
        50053: _O.ACCOUNT_LOCKED,  # IdsLocked (smart lockout) or malicious source address
        50034: _O.IDENTITY_NOT_FOUND,  # UserAccountNotFound
        51004: _O.IDENTITY_NOT_FOUND,  # UserAccountNotInDirectory
        16000: _O.IDENTITY_NOT_FOUND,  # account from another identity provider not in tenant
        16003: _O.IDENTITY_NOT_FOUND,  # SsoUserAccountNotFoundInResourceTenant
        90072: _O.IDENTITY_NOT_FOUND,  # external account not in tenant / source anchor mismatch
        700016: _O.IDENTITY_NOT_FOUND,  # application (registration) not found in the tenant
        700011: _O.IDENTITY_NOT_FOUND,  # UnauthorizedClientAppNotFoundInOrgIdTenant
        7000229: _O.IDENTITY_NOT_FOUND,  # registration exists, its service principal was deleted
        50014: _O.IDENTITY_NOT_FOUND,  # guest user invitation not redeemed
        50020: _O.IDENTITY_NOT_FOUND,  # user from another identity provider / tenant
        # the resource (Dataverse's own service principal), not the identity
        500014: _O.RESOURCE_DISABLED,  # resource SP disabled or a subscription lapsed
        650052: _O.RESOURCE_DISABLED,  # the organisation has no subscription to the service
        # policy: MFA, Conditional Access, consent, assignment, cross-tenant access
        50125: _O.POLICY_BLOCKED,
        50072: _O.POLICY_BLOCKED,
        50074: _O.POLICY_BLOCKED,
        50076: _O.POLICY_BLOCKED,
        50078: _O.POLICY_BLOCKED,  # presented MFA expired
        50079: _O.POLICY_BLOCKED,
        50097: _O.POLICY_BLOCKED,  # device authentication required
        50158: _O.POLICY_BLOCKED,
        50105: _O.POLICY_BLOCKED,
        50131: _O.POLICY_BLOCKED,
        53000: _O.POLICY_BLOCKED,
        53001: _O.POLICY_BLOCKED,
        53002: _O.POLICY_BLOCKED,
        53003: _O.POLICY_BLOCKED,
        53010: _O.POLICY_BLOCKED,  # MFA registration blocked outside allowed locations
        530032: _O.POLICY_BLOCKED,
        530035: _O.POLICY_BLOCKED,
        53004: _O.POLICY_BLOCKED,
        53011: _O.POLICY_BLOCKED,
        80012: _O.POLICY_BLOCKED,  # outside the logon hours set in on-premises AD
        500212: _O.POLICY_BLOCKED,  # outbound cross-tenant access policy
        500213: _O.POLICY_BLOCKED,  # inbound cross-tenant access policy
        65001: _O.POLICY_BLOCKED,
        90094: _O.POLICY_BLOCKED,
        1000031: _O.POLICY_BLOCKED,
        70043: _O.POLICY_BLOCKED,
        # configuration: tenant, cloud, resource, app registration settings
        650056: _O.MISCONFIGURED,
        650057: _O.MISCONFIGURED,
        650059: _O.MISCONFIGURED,  # single-tenant app used in another tenant
        7000218: _O.MISCONFIGURED,  # public client flows disabled
        700025: _O.MISCONFIGURED,  # public client must not send a secret
        700023: _O.MISCONFIGURED,  # assertion audience is another authority (cloud, tenant)
        500011: _O.MISCONFIGURED,  # resource SP not in tenant (wrong environment URL)
        50001: _O.MISCONFIGURED,
        70011: _O.MISCONFIGURED,
        90002: _O.MISCONFIGURED,  # tenant not found
        90038: _O.MISCONFIGURED,  # tenant lives in another cloud
        5000224: _O.MISCONFIGURED,  # tenant not available (deleted or deprovisioned)
        50059: _O.MISCONFIGURED,
        50128: _O.MISCONFIGURED,
        90019: _O.MISCONFIGURED,
        9001023: _O.MISCONFIGURED,
        # the monitor's side: its clock, a proxy on its network path
        700024: _O.CLOCK_SKEW,  # client assertion not within its valid time range
        500021: _O.TENANT_RESTRICTED,  # tenant restrictions header added by a proxy
        500022: _O.TENANT_RESTRICTED,
        # throttling
        50196: _O.THROTTLED,  # LoopDetected
        90055: _O.THROTTLED,  # TenantThrottlingError
        90024: _O.THROTTLED,  # RequestBudgetExceededError
        # transient service problems
        50033: _O.SERVICE_ERROR,
        50087: _O.SERVICE_ERROR,
        90006: _O.SERVICE_ERROR,
        90033: _O.SERVICE_ERROR,
        90090: _O.SERVICE_ERROR,
        90091: _O.SERVICE_ERROR,
        90012: _O.SERVICE_ERROR,
        50000: _O.SERVICE_ERROR,
        80001: _O.SERVICE_ERROR,  # pass-through authentication agents
        80002: _O.SERVICE_ERROR,
        80005: _O.SERVICE_ERROR,
        80007: _O.SERVICE_ERROR,
        80014: _O.SERVICE_ERROR,
    }
)

# OAuth ``error`` values, used only when the answer carries no AADSTS code.
OAUTH_ERROR_OUTCOMES: Mapping[str, Outcome] = MappingProxyType(
    {
        "invalid_client": _O.CREDENTIAL_INVALID,
        "unauthorized_client": _O.MISCONFIGURED,
        "invalid_scope": _O.MISCONFIGURED,
        "invalid_resource": _O.MISCONFIGURED,
        "invalid_request": _O.MISCONFIGURED,
        "unsupported_grant_type": _O.MISCONFIGURED,
        "interaction_required": _O.POLICY_BLOCKED,
        "consent_required": _O.POLICY_BLOCKED,
    }
)
# OAuth ``error`` values that say "try again later" whatever the AADSTS code.
TRANSIENT_OAUTH_ERRORS: Mapping[str, Outcome] = MappingProxyType(
    {
        "temporarily_unavailable": _O.THROTTLED,
        "slow_down": _O.THROTTLED,
        "server_error": _O.SERVICE_ERROR,
    }
)
# ``suberror`` of an ``invalid_grant`` / ``interaction_required`` answer without a known code.
SUBERROR_OUTCOMES: Mapping[str, Outcome] = MappingProxyType(
    {
        "user_password_expired": _O.PASSWORD_EXPIRED,
        "consent_required": _O.POLICY_BLOCKED,
        "basic_action": _O.POLICY_BLOCKED,
        "additional_action": _O.POLICY_BLOCKED,
        "message_only": _O.POLICY_BLOCKED,
    }
)

# The one description Entra gives a reason in: "[Reason - The key used is expired., ...]".
EXPIRED_KEY_REASON = re.compile(r"\[Reason - The key used is expired\.", re.IGNORECASE)

# Dataverse error codes ("Web service error codes", https://learn.microsoft.com/power-apps/
# developer/data-platform/reference/web-service-error-codes; docs/platform.md).
DATAVERSE_NOT_A_MEMBER = "0x80072560"  # UserNotMemberOfOrg
DATAVERSE_USER_DISABLED = "0x80040225"  # user disabled (or in no business unit)
DATAVERSE_NO_ROLES = "0x80042f09"  # UserNotAssignedRoles
DATAVERSE_MISSING_PRIVILEGE = "0x80040220"  # "Principal user ... is missing prv... privilege"
DATAVERSE_NO_LICENCE = "0x8004d24b"  # UserNotAssignedLicense
DATAVERSE_ADMIN_MODE = "0x8004a113"  # UserDoesNotHaveAdminOnlyModePermissions
DATAVERSE_THROTTLING_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})
DATAVERSE_CODES: Mapping[str, Outcome] = MappingProxyType(
    {
        DATAVERSE_NOT_A_MEMBER: _O.NOT_IN_ENVIRONMENT,
        DATAVERSE_USER_DISABLED: _O.ACCOUNT_DISABLED,
        DATAVERSE_NO_ROLES: _O.NO_ROLE,
        DATAVERSE_MISSING_PRIVILEGE: _O.MISSING_PRIVILEGE,
        DATAVERSE_NO_LICENCE: _O.NO_LICENCE,
        DATAVERSE_ADMIN_MODE: _O.MAINTENANCE,
    }
)
_PRIVILEGE = re.compile(r"\bprv[A-Za-z0-9_]+")


class TokenError(NamedTuple):
    """How an Entra error answer was classified."""

    outcome: Outcome
    aadsts_code: int | None
    oauth_error: str | None
    correlation_id: str | None
    trace_id: str | None
    message: str


class Failure(NamedTuple):
    """How a raised exception (plus the last HTTP answer seen before it) was classified."""

    outcome: Outcome
    message: str
    http_status: int | None = None
    aadsts_code: int | None = None
    oauth_error: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    retry_after_seconds: int | None = None


class DataverseVerdict(NamedTuple):
    """How a WhoAmI answer was classified."""

    outcome: Outcome
    error_code: str | None
    message: str
    rate_limit: RateLimit
    user_id: str | None
    organization_id: str | None


_RESULT_FIELDS = frozenset(field.name for field in fields(ProbeResult)) - {"outcome", "message"}


def result_fields(answer: TokenError | Failure | DataverseVerdict) -> dict[str, Any]:
    """Return what a probe result records of a classified answer besides its outcome and
    message: the fields it names alike (codes, ids, rate limit, user)."""
    return {name: value for name, value in answer._asdict().items() if name in _RESULT_FIELDS}


# --- text hygiene ----------------------------------------------------------------------------

_DIAGNOSTIC_TAIL = re.compile(r"\s*\b(Trace ID|Correlation ID|Timestamp)\s*:.*", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# Bearer tokens and JWTs (an answer that echoes the request must not carry a token into a result).
_TOKEN_LIKE = re.compile(
    r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|(?i:\bbearer\s+)[^\s,;\"']+"
)


def sanitise(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """Return *text* as one line: diagnostics tail removed, secrets masked, at most *limit* chars.

    Entra appends ``Trace ID: ... Correlation ID: ... Timestamp: ...`` to every description;
    those are stored in their own fields. Registered secret values are masked in every encoding
    a server may echo them in (:func:`monitor.secrets.scrub`), first, before whitespace is
    folded or the text cut, which could break an occurrence apart.
    """
    if not isinstance(text, str):
        return ""
    text = scrub(text)
    text = _DIAGNOSTIC_TAIL.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    text = _TOKEN_LIKE.sub(MASK, scrub(text))
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _identifier(value: object) -> str | None:
    """Return *value* if it is a GUID (correlation, trace, user and organization ids), else None."""
    if isinstance(value, str) and _GUID.fullmatch(value):
        return value
    return None


def _first_code(value: object) -> int | None:
    if isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 10**10 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 10:
        code = int(value.strip())
        return code or None
    return None


def _string(value: object, limit: int = 64) -> str | None:
    if isinstance(value, str) and value and len(value) <= limit and value.isprintable():
        return value
    return None


# --- Entra -----------------------------------------------------------------------------------


def classify_token_error(result: object, *, http_status: int | None = None) -> TokenError:
    """Given the JSON answer of a failed token request, return its outcome and diagnostics.

    *result* is whatever the identity provider answered (msal returns the Entra JSON unchanged);
    *http_status* refines it when known (429 is throttling, 5xx a service error, whatever the
    body says). The class comes from ``error_codes[0]`` (:data:`AADSTS_OUTCOMES`), and only then
    from the OAuth ``error`` value. The human ``error_description`` is read in one place only:
    Entra gives the reason of an AADSTS700027 (client assertion rejected) nowhere else, and
    "[Reason - The key used is expired.]" makes it ``credential_expired`` instead of
    ``credential_invalid``. An AADSTS code the table does not know is ``unclassified``, never
    healthy, unless the answer itself says it is transient (HTTP 429/5xx,
    ``temporarily_unavailable``). Never raise; never return ``Outcome.OK``.
    """
    if not isinstance(result, Mapping):
        return TokenError(
            _O.SERVICE_ERROR, None, None, None, None,
            "the identity provider's answer was not a JSON object",
        )  # fmt: skip
    error = _string(result.get("error"))
    code = _first_code(result.get("error_codes"))
    suberror = _string(result.get("suberror"))
    correlation_id = _identifier(result.get("correlation_id"))
    trace_id = _identifier(result.get("trace_id"))
    description = sanitise(result.get("error_description"))
    raw = result.get("error_description")
    raw_description = raw[:2000] if isinstance(raw, str) else ""

    if http_status == 429:
        outcome = _O.THROTTLED
    elif http_status is not None and http_status >= 500:
        outcome = _O.SERVICE_ERROR
    elif code == 700027 and EXPIRED_KEY_REASON.search(raw_description):
        outcome = _O.CREDENTIAL_EXPIRED  # the certificate (key) used has expired
    elif code is not None and code in AADSTS_OUTCOMES:
        outcome = AADSTS_OUTCOMES[code]
    elif error is not None and error in TRANSIENT_OAUTH_ERRORS:
        outcome = TRANSIENT_OAUTH_ERRORS[error]
    elif code is not None:
        outcome = _O.UNCLASSIFIED
    elif error is None:
        outcome = _O.SERVICE_ERROR
    elif suberror is not None and suberror in SUBERROR_OUTCOMES:
        outcome = SUBERROR_OUTCOMES[suberror]
    else:
        outcome = OAUTH_ERROR_OUTCOMES.get(error, _O.UNCLASSIFIED)

    if description:
        message = description
    elif error is None:
        message = "the identity provider answered with neither a token nor an error"
    else:
        message = f"the identity provider answered {error}" + (
            f" (AADSTS{code})" if code is not None else ""
        )
    if http_status is not None and (http_status == 429 or http_status >= 500):
        message = sanitise(f"HTTP {http_status}: {message}")
    return TokenError(outcome, code, error, correlation_id, trace_id, message)


# --- exceptions ------------------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield *exc* and every exception it wraps (cause, context, args, urllib3 ``reason``)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack and len(seen) < 32:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(item for item in linked if isinstance(item, BaseException))


def _tls_failure(exc: BaseException) -> tuple[Outcome, str]:
    """Tell an untrusted or mismatched certificate apart from a dropped TLS connection."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = sanitise(cause.verify_message or "certificate verify failed", 120)
            return _O.TLS_ERROR, f"TLS certificate verification failed: {reason}"
    text = " ".join(str(cause) for cause in _causes(exc))
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return _O.TLS_ERROR, "TLS certificate verification failed"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionResetError):
            return _O.UNREACHABLE, "the connection was closed during the TLS handshake"
    if "EOF occurred" in text or "UNEXPECTED_EOF" in text:
        return _O.UNREACHABLE, "the connection was closed during the TLS handshake"
    return _O.TLS_ERROR, "the TLS handshake failed"


def _host(exc: BaseException) -> str | None:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str):
        return urllib.parse.urlsplit(url).hostname
    return None


def _transport_failure(exc: BaseException) -> tuple[Outcome, str] | None:
    """Classify an exception raised by the HTTP layer itself; None for anything else."""
    exceptions = requests.exceptions
    if isinstance(exc, DeadlineExceeded):
        return _O.UNREACHABLE, "no complete answer before the probe deadline"
    if isinstance(exc, TrustStoreError):
        return _O.TLS_ERROR, "no CA bundle to verify servers with; set network.ca_bundle"
    if isinstance(exc, exceptions.SSLError):  # before ConnectionError: SSLError subclasses it
        return _tls_failure(exc)
    if isinstance(exc, exceptions.ProxyError):
        return _O.UNREACHABLE, "the proxy refused or failed the connection"
    if isinstance(exc, exceptions.ConnectTimeout):
        return _O.UNREACHABLE, "timed out connecting"
    if isinstance(exc, exceptions.Timeout):
        return _O.UNREACHABLE, "timed out waiting for an answer"
    if isinstance(exc, exceptions.ConnectionError):
        text = " ".join(str(cause) for cause in _causes(exc))
        if isinstance(exc.__context__, ConnectionRefusedError) or "Connection refused" in text:
            return _O.UNREACHABLE, "connection refused"
        if "Name or service not known" in text or "NameResolutionError" in text:
            return _O.UNREACHABLE, "the host name could not be resolved"
        if "RemoteDisconnected" in text or "aborted" in text or "reset" in text:
            return _O.UNREACHABLE, "the connection was dropped before an answer"
        return _O.UNREACHABLE, "the connection failed"
    if isinstance(exc, ResponseTooLarge):
        return _O.SERVICE_ERROR, "the answer was unreasonably large"
    if isinstance(exc, exceptions.ChunkedEncodingError | exceptions.ContentDecodingError):
        return _O.SERVICE_ERROR, "the answer was cut off or could not be decoded"
    if isinstance(
        exc,
        exceptions.InvalidURL
        | exceptions.MissingSchema
        | exceptions.InvalidSchema
        | exceptions.InvalidHeader
        | exceptions.URLRequired,
    ):
        return _O.MISCONFIGURED, "a configured URL is not usable"
    if isinstance(exc, exceptions.RequestException):
        return _O.UNREACHABLE, "the request failed"
    if isinstance(exc, OSError):
        return _O.UNREACHABLE, "a network error occurred"
    return None


def _is_msal_service_error(exc: BaseException) -> bool:
    return any(
        cls.__name__ == "MsalServiceError" and cls.__module__.startswith("msal")
        for cls in type(exc).__mro__
    )


def classify_exception(exc: BaseException) -> Outcome:
    """Given an exception raised while signing in or calling Dataverse, return its outcome.

    Network failures and timeouts are ``unreachable``; a certificate the trust store does not
    accept is ``tls_error`` (a connection dropped mid-handshake is ``unreachable``); 5xx
    (msal's ``MsalServiceError``) and unreadable bodies (``JSONDecodeError`` / ``ValueError``)
    are ``service_error``; anything else is ``unclassified``. Never a credential class.
    """
    transport = _transport_failure(exc)
    if transport is not None:
        return transport[0]
    if _is_msal_service_error(exc) or isinstance(exc, ValueError):
        return _O.SERVICE_ERROR
    return _O.UNCLASSIFIED


def parse_retry_after(headers: Mapping[str, str] | None) -> int | None:
    """Return ``Retry-After`` in whole seconds when it is a number of seconds, else None."""
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds > 86400 * 7:  # NaN or absurd
        return None
    return int(seconds + 0.999)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    try:
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name and isinstance(value, str):
                return value
    except (AttributeError, TypeError):
        return None
    return None


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None


def explain_exception(exc: BaseException, *, response: HttpResponse | None = None) -> Failure:
    """Classify *exc*, refined by *response*: the last HTTP answer msal was reading when it raised.

    *response* is ignored for transport failures (they happened after it). For msal's own
    errors it tells a throttled or failing service (429, 5xx) apart from an unreadable body, and
    an unknown tenant (a 4xx discovery answer with an AADSTS code) from both.
    """
    transport = _transport_failure(exc)
    if transport is not None:
        outcome, what = transport
        host = _host(exc)
        message = what + (f" ({host})" if host and outcome is not _O.MISCONFIGURED else "")
        return Failure(outcome, sanitise(message))
    if response is None:
        if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
            # msal validates the authority and scopes before sending anything.
            return Failure(
                _O.MISCONFIGURED, "msal rejected the configured authority or scope before sending"
            )
        outcome = classify_exception(exc)
        return Failure(outcome, sanitise(f"{type(exc).__name__}"))
    try:
        status = int(response.status_code)
        headers = response.headers
        text = response.text if isinstance(response.text, str) else ""
    except Exception:  # a broken fake or response object: still never raise
        return Failure(classify_exception(exc), sanitise(f"{type(exc).__name__}"))
    retry_after = parse_retry_after(headers)
    if status == 429:
        message = "throttled by the identity provider (HTTP 429" + (
            f", retry after {retry_after} s)" if retry_after is not None else ")"
        )
        return Failure(_O.THROTTLED, message, status, retry_after_seconds=retry_after)
    if status >= 500:
        return Failure(
            _O.SERVICE_ERROR,
            f"the identity provider answered HTTP {status}",
            status,
            retry_after_seconds=retry_after,
        )
    body = _json(text)
    if 400 <= status < 500:
        if isinstance(body, Mapping) and ("error" in body or "error_codes" in body):
            error = classify_token_error(body, http_status=status)
            return Failure(
                error.outcome,
                error.message,
                status,
                error.aadsts_code,
                error.oauth_error,
                error.correlation_id,
                error.trace_id,
            )
        if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
            return Failure(
                _O.MISCONFIGURED,
                f"the identity provider's discovery answered HTTP {status}: check the authority "
                "host, cloud and tenant ID",
                status,
            )
        return Failure(
            _O.SERVICE_ERROR,
            f"unreadable answer from the identity provider (HTTP {status})",
            status,
        )
    if isinstance(
        exc, ValueError | KeyError | TypeError | AttributeError
    ) or _is_msal_service_error(exc):
        kind = _header(headers, "content-type") or "no content type"
        return Failure(
            _O.SERVICE_ERROR,
            sanitise(f"unreadable answer from the identity provider (HTTP {status}, {kind})"),
            status,
        )
    return Failure(_O.UNCLASSIFIED, sanitise(f"{type(exc).__name__}"), status)


# --- Dataverse -------------------------------------------------------------------------------


def parse_rate_limit(headers: Mapping[str, str] | None) -> RateLimit:
    """Read Dataverse's service-protection headroom headers; absent or odd values are None.

    ``time_remaining`` is converted to milliseconds.
    """

    def number(name: str, scale: float = 1.0) -> int | None:
        value = _header(headers, name)
        if value is None:
            return None
        try:
            parsed = float(value.replace(",", "").strip()) * scale
        except ValueError:
            return None
        if parsed != parsed or abs(parsed) > 10**12:
            return None
        return round(parsed)

    return RateLimit(
        burst_remaining=number("x-ms-ratelimit-burst-remaining-xrm-requests"),
        # Dataverse reports seconds with two decimals and a thousands separator ("1,199.99").
        time_remaining=number("x-ms-ratelimit-time-remaining-xrm-requests", 1000.0),
        retry_after_seconds=parse_retry_after(headers),
    )


def _dataverse_error(body: object) -> tuple[str | None, str]:
    error = odata_error(body)
    if error is None:
        return None, ""
    code = error.get("code")
    code_text = code.strip().lower() if isinstance(code, str) and len(code) <= 32 else None
    if code_text is not None and re.fullmatch(r"-?\d{1,11}", code_text):
        code = int(code_text)  # the decimal form (-2147209463) of a hex code (0x80042f09)
    if isinstance(code, int) and not isinstance(code, bool):
        code_text = f"0x{code & 0xFFFFFFFF:08x}"
    return code_text, sanitise(error.get("message"))


def classify_dataverse(
    status: int, body: str, headers: Mapping[str, str] | None
) -> DataverseVerdict:
    """Given the answer to ``GET {environment}/api/data/v9.2/WhoAmI``, return its outcome.

    200 with a ``UserId`` is ``ok``. A documented error code decides before the HTTP status
    (:data:`DATAVERSE_CODES`): 0x80072560 ``not_in_environment``, 0x80040225
    ``account_disabled``, 0x80042f09 ``no_role``, 0x80040220 ``missing_privilege`` (the
    message names the ``prv...``), 0x8004d24b ``no_licence``, 0x8004a113 ``maintenance``
    (administration mode); any other code of a 4xx answer is ``unclassified``. A 401 without
    a code means Dataverse rejected a token Entra had just issued: the environment URL belongs
    to another tenant or resource (``misconfigured``). 429 and the service-protection codes are
    ``throttled``; 5xx, redirects and unreadable bodies ``service_error``. Never raise.
    """
    rate_limit = parse_rate_limit(headers)
    text = body if isinstance(body, str) else ""
    parsed = _json(text)
    code, detail = _dataverse_error(parsed)

    def verdict(outcome: Outcome, message: str) -> DataverseVerdict:
        return DataverseVerdict(outcome, code, sanitise(message), rate_limit, None, None)

    suffix = f": {detail}" if detail else ""
    coded = f" ({code})" if code else ""
    if not isinstance(status, int) or isinstance(status, bool):
        return verdict(_O.SERVICE_ERROR, "Dataverse answered without a status")
    if status == 200:
        if isinstance(parsed, Mapping):
            user_id = _identifier(parsed.get("UserId"))
            if user_id is not None:
                organization_id = _identifier(parsed.get("OrganizationId"))
                return DataverseVerdict(
                    _O.OK,
                    None,
                    f"WhoAmI answered as user {user_id}",
                    rate_limit,
                    user_id,
                    organization_id,
                )
        return verdict(_O.SERVICE_ERROR, "WhoAmI answered HTTP 200 without a UserId")
    if status == 429 or code in DATAVERSE_THROTTLING_CODES:
        wait = (
            f", retry after {rate_limit.retry_after_seconds} s"
            if rate_limit.retry_after_seconds is not None
            else ""
        )
        return verdict(
            _O.THROTTLED, f"Dataverse service protection limit (HTTP {status}{wait}){suffix}"
        )
    if code is not None and code in DATAVERSE_CODES:
        outcome = DATAVERSE_CODES[code]  # the code decides, whatever the HTTP status
        if outcome is _O.MISSING_PRIVILEGE:
            privilege = _PRIVILEGE.search(detail)
            named = f" (missing {privilege.group(0)})" if privilege else ""
            return verdict(outcome, f"Dataverse HTTP {status}{coded}{named}{suffix}")
        return verdict(outcome, f"Dataverse HTTP {status}{coded}{suffix}")
    lowered = detail.lower()
    if code is None and "not a member of the organization" in lowered:
        return verdict(_O.NOT_IN_ENVIRONMENT, f"Dataverse HTTP {status}{suffix}")
    if code is None and status == 403 and "is disabled" in lowered:
        return verdict(_O.ACCOUNT_DISABLED, f"Dataverse HTTP {status}{suffix}")
    if code is not None and 400 <= status < 500 and status != 404:
        return verdict(
            _O.UNCLASSIFIED, f"Dataverse answered HTTP {status} with an unknown code{coded}{suffix}"
        )
    if status == 401:
        return verdict(
            _O.MISCONFIGURED,
            f"Dataverse rejected the token Entra issued (HTTP 401{coded}): the environment URL "
            f"may belong to another tenant{suffix}",
        )
    if status == 404:
        return verdict(_O.MISCONFIGURED, f"no Dataverse Web API at this URL (HTTP 404){suffix}")
    if status >= 500:
        return verdict(_O.SERVICE_ERROR, f"Dataverse answered HTTP {status}{coded}{suffix}")
    if 300 <= status < 400:
        return verdict(
            _O.SERVICE_ERROR, f"Dataverse answered with a redirect (HTTP {status}): a proxy?"
        )
    if status == 403:
        return verdict(
            _O.SERVICE_ERROR, "HTTP 403 without a Dataverse error body (a proxy or firewall?)"
        )
    if 400 <= status < 500:
        return verdict(_O.UNCLASSIFIED, f"Dataverse answered HTTP {status}{coded}{suffix}")
    return verdict(_O.SERVICE_ERROR, f"Dataverse answered HTTP {status}")
