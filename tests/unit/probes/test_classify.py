"""The classifier: AADSTS table, OAuth fallbacks, exceptions, Dataverse answers, fuzzing."""

from __future__ import annotations

import json
import random
import ssl
from typing import Any

import msal
import pytest
import requests
from probe_fakes import CORRELATION_ID, TRACE_ID, FakeResponse, dataverse_error, entra_error

from monitor.http import DeadlineExceeded, ResponseTooLarge, TrustStoreError
from monitor.model.outcomes import Outcome
from monitor.probes.classify import (
    AADSTS_OUTCOMES,
    MESSAGE_LIMIT,
    classify_dataverse,
    classify_exception,
    classify_token_error,
    explain_exception,
    parse_rate_limit,
    sanitise,
)
from monitor.secrets import MASK, Secret

Oc = Outcome


def _body(response: FakeResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.text)
    return body


# Every AADSTS code docs/platform.md lists, with the class it must produce.
DOCUMENTED_TABLE = {
    50126: Oc.CREDENTIAL_INVALID, 50064: Oc.CREDENTIAL_INVALID, 7000215: Oc.CREDENTIAL_INVALID,
    700027: Oc.CREDENTIAL_INVALID, 50012: Oc.CREDENTIAL_INVALID, 500133: Oc.CREDENTIAL_INVALID,
    70002: Oc.CREDENTIAL_INVALID, 700030: Oc.CREDENTIAL_INVALID, 50013: Oc.CREDENTIAL_INVALID,
    50027: Oc.CREDENTIAL_INVALID, 50048: Oc.CREDENTIAL_INVALID, 700021: Oc.CREDENTIAL_INVALID,
    7000222: Oc.CREDENTIAL_EXPIRED,
    50055: Oc.PASSWORD_EXPIRED, 50144: Oc.PASSWORD_EXPIRED, 50133: Oc.PASSWORD_EXPIRED,
    50132: Oc.PASSWORD_EXPIRED, 50135: Oc.PASSWORD_EXPIRED, 50056: Oc.PASSWORD_EXPIRED,
    50137: Oc.PASSWORD_EXPIRED, 50142: Oc.PASSWORD_EXPIRED,
    50057: Oc.ACCOUNT_DISABLED, 7000112: Oc.ACCOUNT_DISABLED, 70001: Oc.ACCOUNT_DISABLED,
    500014: Oc.RESOURCE_DISABLED, 650052: Oc.RESOURCE_DISABLED,
    50053: Oc.ACCOUNT_LOCKED,
    50034: Oc.IDENTITY_NOT_FOUND, 700016: Oc.IDENTITY_NOT_FOUND, 50014: Oc.IDENTITY_NOT_FOUND,
    50020: Oc.IDENTITY_NOT_FOUND, 7000229: Oc.IDENTITY_NOT_FOUND, 700011: Oc.IDENTITY_NOT_FOUND,
    51004: Oc.IDENTITY_NOT_FOUND, 16000: Oc.IDENTITY_NOT_FOUND, 16003: Oc.IDENTITY_NOT_FOUND,
    90072: Oc.IDENTITY_NOT_FOUND,
    50125: Oc.POLICY_BLOCKED, 50072: Oc.POLICY_BLOCKED, 50074: Oc.POLICY_BLOCKED,
    50076: Oc.POLICY_BLOCKED, 50079: Oc.POLICY_BLOCKED, 50158: Oc.POLICY_BLOCKED,
    50105: Oc.POLICY_BLOCKED, 50131: Oc.POLICY_BLOCKED, 53000: Oc.POLICY_BLOCKED,
    53001: Oc.POLICY_BLOCKED, 53002: Oc.POLICY_BLOCKED, 53003: Oc.POLICY_BLOCKED,
    530032: Oc.POLICY_BLOCKED, 530035: Oc.POLICY_BLOCKED, 53004: Oc.POLICY_BLOCKED,
    53011: Oc.POLICY_BLOCKED, 65001: Oc.POLICY_BLOCKED, 90094: Oc.POLICY_BLOCKED,
    1000031: Oc.POLICY_BLOCKED, 70043: Oc.POLICY_BLOCKED, 50078: Oc.POLICY_BLOCKED,
    50097: Oc.POLICY_BLOCKED, 53010: Oc.POLICY_BLOCKED, 80012: Oc.POLICY_BLOCKED,
    500212: Oc.POLICY_BLOCKED, 500213: Oc.POLICY_BLOCKED,
    650056: Oc.MISCONFIGURED, 650057: Oc.MISCONFIGURED, 7000218: Oc.MISCONFIGURED,
    700025: Oc.MISCONFIGURED, 500011: Oc.MISCONFIGURED, 50001: Oc.MISCONFIGURED,
    70011: Oc.MISCONFIGURED, 90002: Oc.MISCONFIGURED, 90038: Oc.MISCONFIGURED,
    50059: Oc.MISCONFIGURED, 50128: Oc.MISCONFIGURED, 90019: Oc.MISCONFIGURED,
    9001023: Oc.MISCONFIGURED, 650059: Oc.MISCONFIGURED, 5000224: Oc.MISCONFIGURED,
    700023: Oc.MISCONFIGURED,
    700024: Oc.CLOCK_SKEW,
    500021: Oc.TENANT_RESTRICTED, 500022: Oc.TENANT_RESTRICTED,
    50196: Oc.THROTTLED, 90055: Oc.THROTTLED, 90024: Oc.THROTTLED,
    50033: Oc.SERVICE_ERROR, 50087: Oc.SERVICE_ERROR, 90006: Oc.SERVICE_ERROR,
    90033: Oc.SERVICE_ERROR, 90090: Oc.SERVICE_ERROR, 90091: Oc.SERVICE_ERROR,
    90012: Oc.SERVICE_ERROR, 50000: Oc.SERVICE_ERROR, 80001: Oc.SERVICE_ERROR,
    80002: Oc.SERVICE_ERROR, 80005: Oc.SERVICE_ERROR, 80007: Oc.SERVICE_ERROR,
    80014: Oc.SERVICE_ERROR,
}  # fmt: skip


def test_aadsts_table_matches_the_documented_table() -> None:
    """The classifier's table holds exactly the documented codes with their classes."""
    assert dict(AADSTS_OUTCOMES) == DOCUMENTED_TABLE


@pytest.mark.parametrize(("code", "expected"), sorted(DOCUMENTED_TABLE.items()))
def test_each_code_classifies_from_an_entra_body(code: int, expected: Outcome) -> None:
    """An Entra error body with the code as ``error_codes[0]`` gets the code's class."""
    body = _body(entra_error(code, "invalid_grant", "Some description."))
    assert classify_token_error(body, http_status=400).outcome is expected


REAL_BODIES = [
    (
        entra_error(
            7000215,
            "invalid_client",
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID, for a secret added to app "
            "'5c1e8b3a-0000-4000-8000-00000000a001'.",
            status=401,
        ),
        Oc.CREDENTIAL_INVALID,
    ),
    (
        entra_error(
            7000222,
            "invalid_client",
            "The provided client secret keys for app '5c1e8b3a' are expired. Visit the Azure "
            "portal to create new keys for your app.",
            status=401,
        ),
        Oc.CREDENTIAL_EXPIRED,
    ),
    (
        entra_error(
            50126,
            "invalid_grant",
            "Error validating credentials due to invalid username or password.",
        ),
        Oc.CREDENTIAL_INVALID,
    ),
    (
        entra_error(
            50055, "invalid_grant", "The password is expired.", suberror="user_password_expired"
        ),
        Oc.PASSWORD_EXPIRED,
    ),
    (entra_error(50057, "invalid_grant", "The user account is disabled."), Oc.ACCOUNT_DISABLED),
    (
        entra_error(
            50053,
            "invalid_grant",
            "Your account is locked because you've tried to sign in too many times with an "
            "incorrect user ID or password.",
        ),
        Oc.ACCOUNT_LOCKED,
    ),
    (
        entra_error(
            50034,
            "invalid_grant",
            "The user account svc@contoso.example does not exist in the contoso directory.",
        ),
        Oc.IDENTITY_NOT_FOUND,
    ),
    (
        entra_error(
            50076,
            "invalid_grant",
            "Due to a configuration change made by your administrator, or because you moved to a "
            "new location, you must use multi-factor authentication to access '0000000'.",
            suberror="basic_action",
        ),
        Oc.POLICY_BLOCKED,
    ),
    (
        entra_error(
            500011,
            "invalid_resource",
            "The resource principal named https://wrong.crm.dynamics.com was not found in the "
            "tenant named contoso.",
        ),
        Oc.MISCONFIGURED,
    ),
    (
        entra_error(
            700024,
            "invalid_client",
            "Client assertion is not within its valid time range.",
            status=401,
        ),
        Oc.CLOCK_SKEW,
    ),
    (
        entra_error(
            50196,
            "invalid_grant",
            "The server terminated an operation because it encountered a client request loop.",
        ),
        Oc.THROTTLED,
    ),
    (entra_error(9999999, "invalid_grant", "Something new."), Oc.UNCLASSIFIED),
]


@pytest.mark.parametrize(("response", "expected"), REAL_BODIES)
def test_real_bodies_classify_and_keep_diagnostics(
    response: FakeResponse, expected: Outcome
) -> None:
    """Real Entra bodies: class, code, error, ids, and a one-line message without the tail."""
    body = _body(response)
    error = classify_token_error(body, http_status=response.status_code)
    assert error.outcome is expected
    assert error.aadsts_code == body["error_codes"][0]
    assert error.oauth_error == body["error"]
    assert error.correlation_id == CORRELATION_ID
    assert error.trace_id == TRACE_ID
    assert error.message.startswith(f"AADSTS{body['error_codes'][0]}:")
    assert "Trace ID" not in error.message
    assert "Timestamp" not in error.message
    assert "\n" not in error.message
    assert "\r" not in error.message


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"error": "temporarily_unavailable"}, 429, Oc.THROTTLED),
        ({"error": "temporarily_unavailable", "error_codes": [1234567]}, 400, Oc.THROTTLED),
        ({"error": "invalid_client", "error_codes": [7000215]}, 429, Oc.THROTTLED),
        ({"error": "invalid_client", "error_codes": [7000215]}, 503, Oc.SERVICE_ERROR),
        ({"error": "server_error"}, 400, Oc.SERVICE_ERROR),
        ({"error": "invalid_client"}, 401, Oc.CREDENTIAL_INVALID),
        ({"error": "invalid_scope"}, 400, Oc.MISCONFIGURED),
        ({"error": "unauthorized_client"}, 400, Oc.MISCONFIGURED),
        ({"error": "interaction_required"}, 400, Oc.POLICY_BLOCKED),
        ({"error": "invalid_grant"}, 400, Oc.UNCLASSIFIED),
        ({"error": "invalid_grant", "suberror": "user_password_expired"}, 400, Oc.PASSWORD_EXPIRED),
        ({"error": "invalid_grant", "suberror": "consent_required"}, 400, Oc.POLICY_BLOCKED),
        ({"error": "brand_new_error"}, 400, Oc.UNCLASSIFIED),
        ({"error": "invalid_client", "error_codes": [123]}, 401, Oc.UNCLASSIFIED),
        ({"error_codes": ["7000215"]}, 401, Oc.CREDENTIAL_INVALID),
        ({}, 400, Oc.SERVICE_ERROR),
        ({"token_type": "Bearer"}, 200, Oc.SERVICE_ERROR),
    ],
)
def test_fallbacks_and_http_status(body: dict[str, Any], status: int, expected: Outcome) -> None:
    """Without a known code the OAuth error decides; 429/5xx always win; unknown is unclassified."""
    assert classify_token_error(body, http_status=status).outcome is expected


@pytest.mark.parametrize("answer", [None, [], "Too Many Requests", 42, 3.5, True])
def test_non_object_answers_are_service_errors(answer: object) -> None:
    """An answer that is not a JSON object is the service's fault, never the credential's."""
    assert classify_token_error(answer).outcome is Oc.SERVICE_ERROR


def test_message_is_capped_and_secrets_are_masked() -> None:
    """Messages are one line, capped, and never carry a registered secret value."""
    secret = Secret("leaky-Secret-Value-123", "inline")
    text = "AADSTS1: " + "x" * 1000 + f" {secret.reveal()}"
    assert len(sanitise(text)) <= MESSAGE_LIMIT
    assert sanitise(f"value {secret.reveal()}\r\nTrace ID: 1") == f"value {MASK}"
    assert sanitise(None) == ""


def test_inline_diagnostics_tail_is_removed() -> None:
    """A description whose tail is not on its own lines loses it too."""
    text = "AADSTS50126: Error validating credentials. Trace ID: abc Correlation ID: def"
    assert sanitise(text) == "AADSTS50126: Error validating credentials."


# --- exceptions ------------------------------------------------------------------------------


def _verify_failure() -> requests.exceptions.SSLError:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "unable to get local issuer certificate"
    error = requests.exceptions.SSLError(cause)
    error.__cause__ = cause
    return error


def _eof_in_handshake() -> requests.exceptions.SSLError:
    cause = ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:1006)")
    return requests.exceptions.SSLError(cause)


EXCEPTIONS = [
    (requests.exceptions.ConnectionError("Connection refused"), Oc.UNREACHABLE),
    (requests.exceptions.ConnectTimeout("timed out"), Oc.UNREACHABLE),
    (requests.exceptions.ReadTimeout("read timed out"), Oc.UNREACHABLE),
    (requests.exceptions.ProxyError("proxy said no"), Oc.UNREACHABLE),
    (DeadlineExceeded("late"), Oc.UNREACHABLE),
    (_verify_failure(), Oc.TLS_ERROR),
    (requests.exceptions.SSLError("sslv3 alert handshake failure"), Oc.TLS_ERROR),
    (_eof_in_handshake(), Oc.UNREACHABLE),
    (TrustStoreError("none"), Oc.TLS_ERROR),
    (requests.exceptions.ChunkedEncodingError("cut"), Oc.SERVICE_ERROR),
    (ResponseTooLarge("big"), Oc.SERVICE_ERROR),
    (requests.exceptions.InvalidURL("bad"), Oc.MISCONFIGURED),
    (msal.exceptions.MsalServiceError("HTTP Error: 503", error=None, error_description=None),
     Oc.SERVICE_ERROR),
    (json.JSONDecodeError("Expecting value", "<html>", 0), Oc.SERVICE_ERROR),
    (ValueError("bad body"), Oc.SERVICE_ERROR),
    (ConnectionResetError(104, "reset"), Oc.UNREACHABLE),
    (RuntimeError("surprise"), Oc.UNCLASSIFIED),
    (KeyError("token_endpoint"), Oc.UNCLASSIFIED),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "expected"), EXCEPTIONS)
def test_classify_exception(exc: BaseException, expected: Outcome) -> None:
    """Transport, TLS, 5xx and parse failures get their classes; none is a credential class."""
    assert classify_exception(exc) is expected


def test_ssl_error_is_matched_before_connection_error() -> None:
    """``SSLError`` subclasses ``ConnectionError``; a verification failure is still tls_error."""
    assert issubclass(requests.exceptions.SSLError, requests.exceptions.ConnectionError)
    failure = explain_exception(_verify_failure())
    assert failure.outcome is Oc.TLS_ERROR
    assert "unable to get local issuer certificate" in failure.message


@pytest.mark.parametrize(
    ("exc", "response", "expected", "status"),
    [
        (
            json.JSONDecodeError("Expecting value", "Too Many Requests", 0),
            FakeResponse(429, "Too Many Requests", {"Retry-After": "60"}),
            Oc.THROTTLED,
            429,
        ),
        (
            msal.exceptions.MsalServiceError("HTTP Error: 500", error=None, error_description=None),
            FakeResponse(500, "oops"),
            Oc.SERVICE_ERROR,
            500,
        ),
        (
            json.JSONDecodeError("Expecting value", "<html>", 0),
            FakeResponse(200, "<html>portal</html>", {"Content-Type": "text/html"}),
            Oc.SERVICE_ERROR,
            200,
        ),
        (
            ValueError("Unable to get authority configuration"),
            entra_error(90002, "invalid_tenant", "Tenant 'x' not found."),
            Oc.MISCONFIGURED,
            400,
        ),
        (
            ValueError("Unable to get authority configuration"),
            FakeResponse(404, "Not Found", {"Content-Type": "text/plain"}),
            Oc.MISCONFIGURED,
            404,
        ),
        (
            json.JSONDecodeError("Expecting value", "<html>", 0),
            FakeResponse(401, "<html>proxy login</html>"),
            Oc.SERVICE_ERROR,
            401,
        ),
    ],
)
def test_explain_exception_uses_the_last_answer(
    exc: BaseException, response: FakeResponse, expected: Outcome, status: int
) -> None:
    """msal's errors are refined by the answer it could not read: 429, 5xx, HTML, bad tenant."""
    failure = explain_exception(exc, response=response)
    assert failure.outcome is expected
    assert failure.http_status == status


def test_plain_text_429_keeps_retry_after() -> None:
    """A plain-text 429 is throttling with its Retry-After, not an unreadable answer."""
    failure = explain_exception(
        json.JSONDecodeError("Expecting value", "Too Many Requests", 0),
        response=FakeResponse(429, "Too Many Requests", {"retry-after": "30"}),
    )
    assert failure.retry_after_seconds == 30
    assert "retry after 30 s" in failure.message


def test_transport_failures_ignore_the_previous_answer() -> None:
    """A timeout after a 400 answer is still unreachable: the answer belongs to another request."""
    failure = explain_exception(
        requests.exceptions.ReadTimeout("late"),
        response=entra_error(7000215, "invalid_client", "x", status=401),
    )
    assert failure.outcome is Oc.UNREACHABLE


# --- Dataverse -------------------------------------------------------------------------------

WHOAMI_OK = json.dumps({"UserId": "22cc22cc-0000-4000-8000-000000000001", "OrganizationId": "o1"})


@pytest.mark.parametrize(
    ("response", "expected", "code"),
    [
        (FakeResponse(200, WHOAMI_OK), Oc.OK, None),
        (
            dataverse_error(403, "0x80072560", "The user is not a member of the organization."),
            Oc.NOT_IN_ENVIRONMENT,
            "0x80072560",
        ),
        (
            dataverse_error(401, "0x80072560", "The user is not a member of the organization."),
            Oc.NOT_IN_ENVIRONMENT,
            "0x80072560",
        ),
        (
            dataverse_error(
                403,
                "0x80040225",
                "The user with SystemUserId=22cc in OrganizationContext=00aa is disabled. "
                "Disabled users cannot access the system. Consider enabling this user.",
            ),
            Oc.ACCOUNT_DISABLED,
            "0x80040225",
        ),
        (
            dataverse_error(401, "0x80040225", "The user with SystemUserId=22cc is disabled."),
            Oc.ACCOUNT_DISABLED,
            "0x80040225",
        ),
        (
            dataverse_error(
                403, "0x80042F09", "The user (Id = 22cc) has not been assigned any roles."
            ),
            Oc.NO_ROLE,
            "0x80042f09",
        ),
        (
            dataverse_error(403, "-2147209463", "The user (Id = 22cc) has no roles."),
            Oc.NO_ROLE,
            "0x80042f09",
        ),
        (
            dataverse_error(
                403,
                "0x80040220",
                "Principal user (Id=22cc, type=8, roleCount=1, privilegeCount=12, accessMode=0), "
                "is missing prvReadAccount privilege (Id=886b280c) on OTC=1 for entity 'account'.",
            ),
            Oc.MISSING_PRIVILEGE,
            "0x80040220",
        ),
        (
            dataverse_error(403, "0x8004D24B", "The user has not been assigned any License"),
            Oc.NO_LICENCE,
            "0x8004d24b",
        ),
        (
            dataverse_error(
                403,
                "0x8004A113",
                "User does not have required privileges (or role membership) to access the org "
                "when it is in Admin Only mode.",
            ),
            Oc.MAINTENANCE,
            "0x8004a113",
        ),
        (dataverse_error(403, "0x80048405", "Access is denied."), Oc.UNCLASSIFIED, "0x80048405"),
        (FakeResponse(401, "", {"WWW-Authenticate": 'Bearer error="invalid_token"'}),
         Oc.MISCONFIGURED, None),
        (FakeResponse(404, "Not Found"), Oc.MISCONFIGURED, None),
        (
            dataverse_error(
                429,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                **{"Retry-After": "12"},
            ),
            Oc.THROTTLED,
            "0x80072322",
        ),
        (FakeResponse(503, "Service Unavailable"), Oc.SERVICE_ERROR, None),
        (FakeResponse(200, "<html>sign in</html>", {"Content-Type": "text/html"}),
         Oc.SERVICE_ERROR, None),
        (FakeResponse(200, json.dumps({"UserId": None})), Oc.SERVICE_ERROR, None),
        (FakeResponse(302, "", {"Location": "https://portal.example"}), Oc.SERVICE_ERROR, None),
        (FakeResponse(403, "<html>blocked by proxy</html>"), Oc.SERVICE_ERROR, None),
        (dataverse_error(400, "0x80040203", "Invalid argument."), Oc.UNCLASSIFIED, "0x80040203"),
    ],
)  # fmt: skip
def test_classify_dataverse(response: FakeResponse, expected: Outcome, code: str | None) -> None:
    """WhoAmI answers: membership, disabled user, wrong tenant, throttling, service trouble."""
    verdict = classify_dataverse(response.status_code, response.text, response.headers)
    assert verdict.outcome is expected
    assert verdict.error_code == code


def test_missing_privilege_names_the_privilege() -> None:
    """0x80040220 names the privilege the role lacks in the result's message."""
    answer = dataverse_error(
        403,
        "0x80040220",
        "Principal user (Id=22cc, type=8, roleCount=1, privilegeCount=12, accessMode=0), is "
        "missing prvReadAccount privilege (Id=886b280c) on OTC=1 for entity 'account'.",
    )
    verdict = classify_dataverse(answer.status_code, answer.text, answer.headers)
    assert verdict.message.startswith("Dataverse HTTP 403 (0x80040220) (missing prvReadAccount)")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            "The key used is expired., Thumbprint of key used by client: 'AB12', Found key "
            "'Start=01/01/2025 00:00:00, End=02/01/2025 00:00:00'",
            Oc.CREDENTIAL_EXPIRED,
        ),
        ("The key was not found., Thumbprint of key used by client: 'AB12'", Oc.CREDENTIAL_INVALID),
        (
            "The provided signature value did not match the expected signature value.",
            Oc.CREDENTIAL_INVALID,
        ),
    ],
    ids=["expired", "unknown-key", "bad-signature"],
)
def test_assertion_rejected_for_an_expired_key_is_credential_expired(
    reason: str, expected: Outcome
) -> None:
    """AADSTS700027 is credential_expired when Entra's reason is "The key used is expired."."""
    body = _body(
        entra_error(
            700027,
            "invalid_client",
            f"Client assertion contains an invalid signature. [Reason - {reason}]",
            status=401,
        )
    )
    assert classify_token_error(body, http_status=401).outcome is expected


def test_dataverse_throttling_reads_retry_after_and_headroom() -> None:
    """429 carries Retry-After; the x-ms-ratelimit headers are parsed on every answer."""
    verdict = classify_dataverse(
        429,
        "{}",
        {
            "Retry-After": "12",
            "x-ms-ratelimit-burst-remaining-xrm-requests": "0",
            "x-ms-ratelimit-time-remaining-xrm-requests": "1,199.87",
        },
    )
    assert verdict.outcome is Oc.THROTTLED
    assert verdict.rate_limit.retry_after_seconds == 12
    assert verdict.rate_limit.burst_remaining == 0
    assert verdict.rate_limit.time_remaining == 1199870


@pytest.mark.parametrize(
    "headers",
    [None, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"Retry-After": "-1"},
     {"x-ms-ratelimit-burst-remaining-xrm-requests": "many"}, {"Retry-After": "nan"}],
)  # fmt: skip
def test_odd_rate_limit_headers_are_none(headers: dict[str, str] | None) -> None:
    """Unparseable headroom headers are recorded as unknown, never as zero."""
    rate_limit = parse_rate_limit(headers)
    assert rate_limit.retry_after_seconds is None
    assert rate_limit.burst_remaining is None


# --- fuzzing ---------------------------------------------------------------------------------

_SCALARS: list[object] = [
    None, True, False, 0, -1, 7000215, 50126, 10**30, 1.5, float("inf"), "", "x", "7000215",
    "invalid_client", "temporarily_unavailable", "\x00\r\n", "AADSTS50126: nope", "0x80072560",
    "ok", "access_token",
]  # fmt: skip
_KEYS = [
    "error", "error_codes", "error_description", "suberror", "correlation_id", "trace_id",
    "timestamp", "access_token", "token_source", "UserId", "OrganizationId", "code", "message",
]  # fmt: skip


def _random_json(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice(_SCALARS)
    if roll < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(_KEYS): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_fuzz_token_classifier_never_raises_and_never_says_ok() -> None:
    """Random JSON shapes: the token classifier answers every time and never with ``ok``."""
    rng = random.Random(20261126)
    for _ in range(3000):
        answer = _random_json(rng)
        status = rng.choice([None, 200, 400, 401, 403, 429, 500, 503, -5])
        error = classify_token_error(answer, http_status=status)
        assert error.outcome is not Oc.OK
        assert isinstance(error.message, str)
        assert len(error.message) <= MESSAGE_LIMIT
        assert "\n" not in error.message


def test_fuzz_dataverse_classifier_says_ok_only_for_a_user() -> None:
    """Random WhoAmI answers: never raises; ``ok`` only for HTTP 200 naming a UserId."""
    rng = random.Random(4242)
    for _ in range(3000):
        body = _random_json(rng)
        text = json.dumps(body) if rng.random() < 0.8 else str(body)
        status = rng.choice([200, 200, 201, 302, 400, 401, 403, 404, 429, 500, 503])
        headers = {rng.choice(["Retry-After", "x-ms-ratelimit-burst-remaining-xrm-requests"]):
                   str(rng.choice(_SCALARS))}  # fmt: skip
        verdict = classify_dataverse(status, text, headers)
        if verdict.outcome is Oc.OK:
            assert status == 200
            assert verdict.user_id
        assert len(verdict.message) <= MESSAGE_LIMIT


def test_fuzz_exception_explanations_never_raise() -> None:
    """Any exception with any last answer is explained without raising, never as ok."""
    rng = random.Random(7)
    exceptions: list[BaseException] = [exc for exc, _ in EXCEPTIONS]
    for _ in range(1000):
        response = FakeResponse(
            rng.choice([200, 400, 401, 404, 429, 500]),
            json.dumps(_random_json(rng)),
            {"Retry-After": str(rng.choice(_SCALARS))},
        )
        failure = explain_exception(rng.choice(exceptions), response=response)
        assert failure.outcome is not Oc.OK
