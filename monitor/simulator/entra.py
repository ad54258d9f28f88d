"""The Entra ID (v2 endpoint) part of the simulator: discovery, token endpoint, user realm.

Error answers have the exact shape Entra uses (the ``error_description`` with its Trace ID /
Correlation ID / Timestamp lines, ``error_codes``, ``correlation_id`` echoing the client's
``client-request-id`` ...). The order of the checks on the token endpoint, their AADSTS codes
and smart lockout: docs/simulator.md ("Entra ID").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from monitor.simulator.scenario import Application, Environment, Scenario, Tenant, User
from monitor.simulator.tokens import TokenIssuer, base64url_json, new_refresh_token
from monitor.simulator.transport import Request, Response

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
CLOCK_SKEW_SECONDS = 300
ASSERTION_ALGORITHMS = ["RS256", "PS256"]
DYNAMICS_CRM_APP_ID = "00000007-0000-0000-c000-000000000000"
CERTIFICATE_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
MAX_REFRESH_TOKENS = 10_000
JSON_UTF8 = "application/json; charset=utf-8"
_CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "preferred_username",
    "name",
    "tid",
    "ver",
    "at_hash",
    "c_hash",
    "email",
]
_NO_STORE = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")]
MISSING_SERVICE_PRINCIPAL_HELP = "https://go.microsoft.com/fwlink/?linkid=2225119"

# Further documented answers (OAuth error, description) by AADSTS code, as Microsoft's error
# reference describes them; "{client}", "{tenant}", "{resource}" and "{user}" are filled in.
DOCUMENTED_ERRORS: dict[int, tuple[str, str]] = {
    70002: (
        "invalid_client",
        "Error validating credentials. The specified client_secret does not match the expected "
        "value for this client. Correct the client_secret and try again.",
    ),
    700011: (
        "unauthorized_client",
        "Application with identifier '{client}' was not found in the directory '{tenant}'. A "
        "client application requested a token from your tenant, but the client app doesn't "
        "exist in your tenant, so the call failed.",
    ),
    7000229: (
        "invalid_client",
        "The client application {client} is missing service principal in the tenant {tenant}. "
        f"See instructions here: {MISSING_SERVICE_PRINCIPAL_HELP}",
    ),
    50078: (
        "invalid_grant",
        "Presented multi-factor authentication has expired due to policies configured by your "
        "administrator, you must refresh your multi-factor authentication to access "
        "'{resource}'.",
    ),
    50097: ("invalid_grant", "Device authentication is required."),
    50137: (
        "invalid_grant",
        "The user's password must be changed before the user can sign in (password change "
        "required by policy).",
    ),
    50142: (
        "invalid_grant",
        "Password change is required due to a conditional access policy.",
    ),
    53010: (
        "invalid_grant",
        "Cannot configure multifactor authentication methods because the organization requires "
        "this information to be set from specific locations or devices.",
    ),
    80012: (
        "invalid_grant",
        "The users attempted to log on outside of the allowed hours (this is specified in AD).",
    ),
    500021: ("invalid_request", "Access to '{tenant}' tenant is denied."),
    500022: ("invalid_request", "Access to '{tenant}' tenant is denied."),
    500212: (
        "invalid_grant",
        "The user's administrator has set an outbound access policy that doesn't allow access "
        "to the resource tenant.",
    ),
    500213: (
        "invalid_grant",
        "The resource tenant's cross-tenant access policy doesn't allow this user to access "
        "this tenant.",
    ),
    500014: (
        "invalid_resource",
        "The service principal for resource '{resource}' is disabled. This indicate that a "
        "subscription within the tenant has lapsed, or that the administrator for this tenant "
        "has disabled the application, preventing tokens from being issued for it.",
    ),
    650052: (
        "invalid_resource",
        'The app needs access to a service ("{resource}") that your organization "{tenant}" '
        "has not subscribed to or enabled. Contact your IT Admin to review the configuration "
        "of your service subscriptions.",
    ),
    650059: (
        "unauthorized_client",
        "The application '{client}' is not configured for use in tenant '{tenant}'. The value "
        "AzureADMyOrg set for application property SignInAudience is not allowed for the "
        "requested tenant.",
    ),
    90072: (
        "invalid_grant",
        "User account '{user}' from identity provider 'https://sts.windows.net/{tenant}/' does "
        "not exist in tenant '{tenant}' and cannot access the application '{client}' in that "
        "tenant. The account needs to be added as an external user in the tenant first.",
    ),
    51004: (
        "invalid_grant",
        "The user account {EUII Hidden} does not exist in the {tenant} directory. To sign into "
        "this application, the account must be added to the directory.",
    ),
    16000: (
        "interaction_required",
        "User account '{EUII Hidden}' from identity provider 'live.com' does not exist in "
        "tenant '{tenant}' and cannot access the application '{client}' in that tenant. This "
        "account needs to be added as an external user in the tenant first.",
    ),
    16003: (
        "invalid_grant",
        "User account '{EUII Hidden}' from identity provider 'https://sts.windows.net/{tenant}/' "
        "does not exist in tenant '{tenant}' and cannot access the application '{client}' in "
        "that tenant.",
    ),
    700030: (
        "invalid_client",
        "Invalid certificate - subject name in certificate is not authorized. "
        "SubjectNames/SubjectAlternativeNames (up to 10) in token certificate are: CN=unknown",
    ),
    50013: ("invalid_client", "Assertion failed signature validation."),
    50027: ("invalid_client", "JWT token is invalid or malformed."),
    50048: ("invalid_client", "Subject mismatches Issuer claim in the client assertion."),
    700021: (
        "invalid_client",
        "Client assertion application identifier doesn't match 'client_id' parameter. Review "
        f"the documentation at {CERTIFICATE_DOCS} .",
    ),
    5000224: (
        "invalid_request",
        "We are sorry, this resource is not available. If you are seeing this message by "
        "mistake, please contact Microsoft support.",
    ),
}


def documented_error(
    code: int, *, client: str = "", tenant: str = "", resource: str = "", user: str = ""
) -> EntraError:
    """Return Entra's answer for *code* from :data:`DOCUMENTED_ERRORS` (401 for
    ``invalid_client``, else 400)."""
    error, template = DOCUMENTED_ERRORS.get(
        code, ("invalid_request", "The request could not be completed.")
    )
    text = (
        template.replace("{client}", client)
        .replace("{tenant}", tenant)
        .replace("{resource}", resource)
        .replace("{user}", user)
    )
    return EntraError(error, code, text)


class EntraError(Exception):
    """An OAuth error answer; ``status`` defaults to 401 for invalid_client, else 400."""

    def __init__(
        self,
        error: str,
        code: int,
        text: str,
        *,
        status: int | None = None,
        suberror: str | None = None,
        claims: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.error = error
        self.code = code
        self.text = text
        self.status = status if status is not None else (401 if error == "invalid_client" else 400)
        self.suberror = suberror
        self.claims = claims


def entra_timestamp(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%d %H:%M:%SZ")


def entra_error_body(
    error: str,
    code: int,
    text: str,
    *,
    correlation_id: str,
    suberror: str | None = None,
    claims: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the JSON object Entra answers for an error (field order as Entra sends it)."""
    timestamp = entra_timestamp(now if now is not None else dt.datetime.now(dt.UTC))
    trace_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    if suberror is not None:
        body["suberror"] = suberror
    if claims is not None:
        body["claims"] = claims
    return body


def entra_error_response(
    failure: EntraError, correlation_id: str, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = entra_error_body(
        failure.error,
        failure.code,
        failure.text,
        correlation_id=correlation_id,
        suberror=failure.suberror,
        claims=failure.claims,
    )
    extra = [*_NO_STORE, ("x-ms-request-id", body["trace_id"]), *(headers or [])]
    return Response(failure.status, json.dumps(body).encode("utf-8"), JSON_UTF8, extra)


def echo_encode(value: str, encoding: str, *, client_id: str = "") -> str:
    """Return *value* re-encoded as a careless server echoes it (``faults.ECHO_ENCODINGS``)."""
    if encoding == "percent_upper":
        return urllib.parse.quote(value, safe="")
    if encoding == "percent_lower":
        return _lower_hex(urllib.parse.quote(value, safe=""))
    if encoding == "form":
        return _lower_hex(urllib.parse.quote_plus(value, safe=""))
    if encoding == "html":
        named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
        return "".join(
            c if c.isalnum() else named.get(c, f"&#{ord(c)};" if ord(c) % 2 else f"&#x{ord(c):x};")
            for c in value
        )
    if encoding == "json_escaped":
        return "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in value)
    if encoding == "base64":
        return base64.b64encode(f"{client_id}:{value}".encode()).decode()
    return value


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match[0].lower(), text)


def echo_response(encoding: str, form: Mapping[str, str], correlation_id: str) -> Response:
    """The token endpoint's answer that echoes the credential it received back (the ``echo``
    fault): a wrong-password or wrong-secret error quoting the value, or for ``html`` an HTML
    error page."""
    password = form.get("password")
    value = password if password is not None else form.get("client_secret", "")
    echoed = echo_encode(value, encoding, client_id=form.get("client_id", ""))
    if encoding == "html":
        page = (
            "<html><head><title>400 Bad Request</title></head><body><h1>Bad Request</h1>"
            f"<p>Rejected credential: {echoed}</p></body></html>\n"
        )
        return Response(400, page.encode("utf-8"), "text/html; charset=utf-8")
    if password is not None:
        failure = EntraError(
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password. Received "
            f"password '{echoed}'.",
        )
    else:
        failure = EntraError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID. Received '{echoed}'.",
        )
    return entra_error_response(failure, correlation_id)


def correlation_id_of(request: Request) -> str:
    supplied = request.headers.get("client-request-id")
    if supplied:
        try:
            return str(uuid.UUID(supplied))
        except ValueError:
            pass
    return str(uuid.uuid4())


def parse_token_form(request: Request) -> dict[str, str]:
    """Return the form fields of a token request (first value of each), with HTTP Basic client
    credentials folded in as ``client_id`` / ``client_secret``."""
    text = request.body.decode("utf-8", "replace")
    form = {key: values[0] for key, values in urllib.parse.parse_qs(text).items()}
    authorization = request.headers.get("Authorization") or ""
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, separator, secret = decoded.partition(":")
        if separator:
            form.setdefault("client_id", urllib.parse.unquote_plus(client_id))
            form.setdefault("client_secret", urllib.parse.unquote_plus(secret))
    return form


def resources_of_scope(scope: str) -> list[tuple[str, str]]:
    """Split a scope parameter into (resource, permission) pairs, skipping OIDC scopes.

    A scope without a ``/`` yields ("", scope).
    """
    pairs = []
    for item in scope.split():
        if item in OIDC_SCOPES:
            continue
        resource, separator, permission = item.rpartition("/")
        pairs.append((resource.rstrip("/"), permission) if separator else ("", item))
    return pairs


@dataclass(frozen=True, slots=True)
class _RefreshGrant:
    tenant: str
    client_id: str
    upn: str
    issued_at: float  # time.time()


class EntraService:
    """Answers the Entra endpoints from a live :class:`Scenario`."""

    def __init__(
        self,
        scenario: Scenario,
        issuer: TokenIssuer,
        authority_host: str,
        *,
        on_wrong_password: Callable[[str], None] = lambda upn: None,
    ) -> None:
        self._scenario = scenario
        self._issuer = issuer
        self._authority_host = authority_host
        self._environment_prefix = f"{authority_host}/env/".lower()
        self._graph_url = f"{authority_host}/graph".lower()
        self._on_wrong_password = on_wrong_password
        self._refresh_tokens: OrderedDict[str, _RefreshGrant] = OrderedDict()
        self._refresh_lock = threading.Lock()

    # -- discovery and user realm ------------------------------------------------------------

    def discovery(self, request: Request, tenant_reference: str) -> Response:
        with self._scenario.lock:
            tenant = self._scenario.find_tenant(tenant_reference)
        if tenant is None:
            failure = EntraError("invalid_tenant", 90002, _tenant_not_found(tenant_reference))
            return entra_error_response(failure, correlation_id_of(request))
        return Response(200, self._metadata(tenant), JSON_UTF8, [*_NO_STORE])

    def _metadata(self, tenant: Tenant) -> bytes:
        base = f"{self._authority_host}/{tenant.tenant_id}"
        metadata = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self._authority_host}/graph/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": _CLAIMS_SUPPORTED,
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": self._authority_host.removeprefix("https://") + "/graph",
            "rbac_url": "https://pas.windows.net",
        }
        return json.dumps(metadata).encode("utf-8")

    def user_realm(self, request: Request, username: str) -> Response:
        domain = username.rpartition("@")[2].lower()
        with self._scenario.lock:
            tenant = self._scenario.tenant_for_upn(username)
        realm: dict[str, Any]
        if tenant is None:
            realm = {
                "ver": "1.0",
                "account_type": "Unknown",
                "cloud_instance_name": "microsoftonline.com",
            }
        else:
            realm = {
                "ver": "1.0",
                "account_type": "Managed",
                "domain_name": domain,
                "cloud_instance_name": "microsoftonline.com",
                "cloud_audience_urn": "urn:federation:MicrosoftOnline",
            }
        return Response(200, json.dumps(realm).encode("utf-8"), JSON_UTF8, [*_NO_STORE])

    # -- token endpoint ----------------------------------------------------------------------

    def environment_for_resource(self, resource: str) -> Environment | None:
        """Return the environment whose URL is ``resource`` (the caller holds the lock)."""
        normalized = resource.rstrip("/").lower()
        if not normalized.startswith(self._environment_prefix):
            return None
        return self._scenario.environment_by_url_name(normalized[len(self._environment_prefix) :])

    def token(self, request: Request, tenant_reference: str, form: Mapping[str, str]) -> Response:
        correlation_id = correlation_id_of(request)
        try:
            if request.method != "POST":
                raise EntraError(
                    "invalid_request",
                    900561,
                    f"The endpoint only accepts POST, OPTIONS requests. Received a "
                    f"{request.method} request.",
                )
            body = self._token(
                tenant_reference, form, request.headers.get("Restrict-Access-To-Tenants")
            )
        except EntraError as failure:
            return entra_error_response(failure, correlation_id)
        return Response(200, json.dumps(body).encode("utf-8"), JSON_UTF8, [*_NO_STORE])

    def _token(
        self, tenant_reference: str, form: Mapping[str, str], restricted_to: str | None = None
    ) -> dict[str, Any]:
        scenario = self._scenario
        now = time.time()
        with scenario.lock:
            tenant = scenario.find_tenant(tenant_reference)
            if tenant is None:
                raise EntraError("invalid_request", 90002, _tenant_not_found(tenant_reference))
            if restricted_to is not None and not _allowed(tenant, restricted_to):
                # Tenant restrictions: a proxy added the header and this tenant is not listed.
                raise documented_error(500021, tenant=tenant.domain)
            grant_type = _required(form, "grant_type")
            client_id = _required(form, "client_id").lower()
            if grant_type not in ("client_credentials", "password", "refresh_token"):
                raise EntraError(
                    "unsupported_grant_type",
                    70003,
                    f"The app requested an unsupported grant type '{grant_type}'.",
                )
            application = scenario.applications.get(client_id)
            if (
                application is not None
                and application.tenant == tenant.name
                and not application.service_principal
            ):
                raise documented_error(7000229, client=client_id, tenant=tenant.tenant_id)
            if application is None or not application.has_service_principal_in(tenant.name):
                raise EntraError(
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory "
                    f"'{tenant.display_name}'. This can happen if the application has not been "
                    "installed by the administrator of the tenant or consented to by any user "
                    "in the tenant. You may have sent your authentication request to the wrong "
                    "tenant.",
                )
            if not application.enabled:
                raise EntraError(
                    "unauthorized_client",
                    7000112,
                    f"Application '{client_id}'({application.display_name}) is disabled.",
                )
            method = self._authenticate_client(application, tenant, form, grant_type, now)
            if grant_type == "client_credentials":
                if self._is_graph_scope(form):
                    if application.blocked_by_conditional_access:
                        raise _blocked_by_conditional_access()
                    return self._application_token(
                        application,
                        tenant,
                        self._graph_url_cased,
                        method,
                        now,
                        roles=application.graph_permissions,
                    )
                resource, _ = self._resource(tenant, form, confidential=True)
                self._check_resource(tenant, resource)
                if application.blocked_by_conditional_access:
                    raise _blocked_by_conditional_access()
                return self._application_token(
                    application, tenant, self._environment_url(resource), method, now
                )
            if grant_type == "password":
                resource, scopes = self._resource(tenant, form, confidential=False)
                self._check_resource(tenant, resource)
                user = self._authenticate_user(tenant, form, now)
                return self._user_tokens(application, tenant, user, resource, scopes, method, now)
            return self._refresh(application, tenant, form, method, now)

    def _authenticate_client(
        self,
        application: Application,
        tenant: Tenant,
        form: Mapping[str, str],
        grant_type: str,
        now: float,
    ) -> str:
        """Return how the client authenticated: ``certificate``, ``secret`` or ``public``."""
        if "client_assertion" in form or "client_assertion_type" in form:
            self._verify_assertion(application, tenant, form, now)
            return "certificate"
        secret = form.get("client_secret")
        if secret:
            self._verify_secret(application, secret, now)
            return "secret"
        if grant_type != "client_credentials" and application.allow_public_client:
            return "public"
        raise EntraError(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )

    def _verify_secret(self, application: Application, presented: str, now: float) -> None:
        when = dt.datetime.fromtimestamp(now, dt.UTC)
        wanted = presented.encode("utf-8")
        for secret in application.secrets:
            if hmac.compare_digest(secret.value.encode("utf-8"), wanted):
                if secret.is_expired(when):
                    raise EntraError(
                        "invalid_client",
                        7000222,
                        f"The provided client secret keys for app '{application.client_id}' are "
                        "expired. Visit the Azure portal to create new keys for your app: "
                        "https://aka.ms/NewClientSecret, or consider using certificate "
                        "credentials for added security: https://aka.ms/certCreds.",
                    )
                return
        raise EntraError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID, for a secret added to app "
            f"'{application.client_id}'.",
        )

    def _verify_assertion(
        self, application: Application, tenant: Tenant, form: Mapping[str, str], now: float
    ) -> None:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise EntraError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_assertion_type'.",
            )
        assertion = form.get("client_assertion") or ""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as error:
            raise EntraError(
                "invalid_client", 50027, "JWT token is invalid or malformed."
            ) from error
        provided = _thumbprint(header)
        registered = None
        for certificate in application.certificates:
            if provided in (certificate.sha256_thumbprint, certificate.sha1_thumbprint):
                registered = certificate
                break
        shown = provided.hex().upper()
        if registered is None:
            raise _signature_failure(
                f"The key was not found., Thumbprint of key used by client: '{shown}', Please "
                "visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
                f"configured keys for app Id '{application.client_id}'. Review the "
                "documentation at https://docs.microsoft.com/en-us/graph/deployments to "
                "determine the corresponding service endpoint and "
                "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0"
                "&tabs=http to build a query request URL, such as "
                f"'https://graph.microsoft.com/beta/applications/{application.client_id}'"
            )
        found_key = (
            f"Found key 'Start={registered.start:%m/%d/%Y %H:%M:%S}, "
            f"End={registered.effective_end:%m/%d/%Y %H:%M:%S}'"
        )
        if registered.is_expired(dt.datetime.fromtimestamp(now, dt.UTC)):
            raise _signature_failure(
                f"The key used is expired., Thumbprint of key used by client: '{shown}', "
                f"{found_key}"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                registered.certificate.public_key(),  # type: ignore[arg-type]
                algorithms=ASSERTION_ALGORITHMS,
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as error:
            raise _signature_failure(
                "The provided signature value did not match the expected signature value., "
                f"Thumbprint of key used by client: '{shown}', {found_key}"
            ) from error
        except jwt.PyJWTError as error:
            raise EntraError(
                "invalid_client", 50027, "JWT token is invalid or malformed."
            ) from error
        if claims.get("iss") != application.client_id or claims.get("sub") != application.client_id:
            raise EntraError(
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. "
                f"Review the documentation at {CERTIFICATE_DOCS} .",
            )
        if claims.get("aud") not in self._token_endpoints(tenant):
            raise EntraError(
                "invalid_client",
                700023,
                "Client assertion audience claim does not match Realm issuer. Review the "
                f"documentation at {CERTIFICATE_DOCS} .",
            )
        expires = _number(claims.get("exp"))
        not_before = _number(claims.get("nbf"))
        issued = _number(claims.get("iat"))
        too_early = any(
            value is not None and value > now + CLOCK_SKEW_SECONDS for value in (not_before, issued)
        )
        if expires is None or expires <= now or too_early:
            valid_from = not_before if not_before is not None else (issued or 0.0)
            raise EntraError(
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{_iso7(now)}, assertion valid from {_iso7(valid_from)}, expiry time of "
                f"assertion {_iso7(expires or 0.0)}. Review the documentation at "
                f"{CERTIFICATE_DOCS} .",
            )

    def _token_endpoints(self, tenant: Tenant) -> set[str]:
        endpoints = set()
        for reference in (tenant.tenant_id, *tenant.domains):
            endpoints.add(f"{self._authority_host}/{reference}/oauth2/v2.0/token")
            endpoints.add(f"{self._authority_host}/{reference}/oauth2/token")
        return endpoints

    def _resource(
        self, tenant: Tenant, form: Mapping[str, str], *, confidential: bool
    ) -> tuple[Environment, list[str]]:
        scope = _required(form, "scope")
        pairs = resources_of_scope(scope)
        if not pairs:
            raise _invalid_scope(scope)
        resources = {resource.lower() for resource, _ in pairs}
        if len(resources) > 1:
            raise EntraError(
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains "
                f"more than one resource. Scope {scope} is not valid.",
            )
        resource = pairs[0][0]
        for _, permission in pairs:
            if not resource:
                raise _invalid_scope(scope)
            if confidential and permission != ".default":
                raise EntraError(
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )
            if permission not in (".default", "user_impersonation"):
                raise _invalid_scope(scope)
        environment = self.environment_for_resource(resource)
        if environment is None:
            raise EntraError(
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{tenant.display_name}. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You might have sent your authentication request to the wrong "
                "tenant.",
            )
        return environment, [f"{resource}/{permission}" for _, permission in pairs]

    def _check_resource(self, tenant: Tenant, environment: Environment) -> None:
        """Refuse tokens for Dataverse when Dynamics CRM's service principal is disabled."""
        if tenant.dataverse_disabled:
            raise documented_error(500014, resource=self._environment_url(environment))

    def _authenticate_user(self, tenant: Tenant, form: Mapping[str, str], now: float) -> User:
        scenario = self._scenario
        username = _required(form, "username").lower()
        password = _required(form, "password")
        user = scenario.users.get(username)
        if user is None or user.tenant != tenant.name:
            raise EntraError(
                "invalid_grant",
                50034,
                f"The user account {{EUII Hidden}} does not exist in the {tenant.tenant_id} "
                "directory. To sign into this application, the account must be added to the "
                "directory.",
            )
        correct = hmac.compare_digest(user.password.encode("utf-8"), password.encode("utf-8"))
        monotonic = time.monotonic()
        if user.locked_until is not None and monotonic >= user.locked_until:
            user.locked_until = None
        if user.locked or user.locked_until is not None:
            if not correct:
                self._on_wrong_password(user.upn)
            raise EntraError(
                "invalid_grant",
                50053,
                "You've tried to sign in too many times with an incorrect user ID or password.",
            )
        if not correct:
            self._on_wrong_password(user.upn)
            user.failed_attempts += 1
            if user.failed_attempts >= scenario.lockout_threshold:
                user.failed_attempts = 0
                user.locked_until = monotonic + scenario.lockout_seconds
            raise EntraError(
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        user.failed_attempts = 0
        self._check_user_state(user)
        return user

    def _check_user_state(self, user: User) -> None:
        if not user.enabled:
            raise EntraError("invalid_grant", 50057, "The user account is disabled.")
        if user.password_expired:
            raise EntraError(
                "invalid_grant",
                50055,
                "The password is expired.",
                suberror="user_password_expired",
            )
        if user.blocked_by_conditional_access:
            raise _blocked_by_conditional_access()
        if user.mfa_required:
            raise EntraError(
                "invalid_grant",
                50076,
                "Due to a configuration change made by your administrator, or because you moved "
                "to a new location, you must use multi-factor authentication to access "
                f"'{DYNAMICS_CRM_APP_ID}'.",
                suberror="basic_action",
                claims='{"access_token":{"capolids":{"essential":true,"values":["'
                + str(uuid.uuid4())
                + '"]}}}',
            )

    def _refresh(
        self,
        application: Application,
        tenant: Tenant,
        form: Mapping[str, str],
        method: str,
        now: float,
    ) -> dict[str, Any]:
        token = _required(form, "refresh_token")
        with self._refresh_lock:
            grant = self._refresh_tokens.get(token)
        if grant is None or grant.tenant != tenant.name:
            raise EntraError(
                "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if grant.client_id != application.client_id:
            raise EntraError(
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed. The refresh token was issued to a "
                "different client.",
            )
        user = self._scenario.users.get(grant.upn)
        if user is None:
            raise EntraError("invalid_grant", 50173, _revoked_grant(grant.issued_at, now))
        if user.password_changed_at > grant.issued_at:
            raise EntraError(
                "invalid_grant", 50173, _revoked_grant(grant.issued_at, user.password_changed_at)
            )
        self._check_user_state(user)
        resource, scopes = self._resource(tenant, form, confidential=False)
        return self._user_tokens(application, tenant, user, resource, scopes, method, now)

    # -- issuing -----------------------------------------------------------------------------

    def _common_claims(
        self, application: Application, tenant: Tenant, audience: str, method: str, now: float
    ) -> dict[str, Any]:
        issued = int(now)
        return {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
            "iat": issued,
            "nbf": issued,
            "exp": issued + self._scenario.access_token_lifetime_seconds,
            "app_displayname": application.display_name,
            "appid": application.client_id,
            "azp": application.client_id,
            "appidacr": {"certificate": "2", "secret": "1"}.get(method, "0"),
            "tid": tenant.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }

    def _application_token(
        self,
        application: Application,
        tenant: Tenant,
        audience: str,
        method: str,
        now: float,
        roles: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Return an app-only token for *audience* carrying *roles* (a Graph token: the app's
        Graph permissions)."""
        claims = self._common_claims(application, tenant, audience, method, now)
        claims.update({"idtyp": "app", "oid": application.object_id, "sub": application.object_id})
        if roles:
            claims["roles"] = list(roles)
        lifetime = self._scenario.access_token_lifetime_seconds
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._issuer.sign(claims),
        }

    def _is_graph_scope(self, form: Mapping[str, str]) -> bool:
        """Return whether the request asks for an app-only Microsoft Graph token."""
        pairs = resources_of_scope(form.get("scope", ""))
        return bool(pairs) and all(
            resource.rstrip("/").lower() == self._graph_url and permission == ".default"
            for resource, permission in pairs
        )

    @property
    def _graph_url_cased(self) -> str:
        return f"{self._authority_host}/graph"

    def _user_tokens(
        self,
        application: Application,
        tenant: Tenant,
        user: User,
        environment: Environment,
        scopes: list[str],
        method: str,
        now: float,
    ) -> dict[str, Any]:
        audience = self._environment_url(environment)
        subject = _pairwise_subject(user.object_id, application.client_id)
        claims = self._common_claims(application, tenant, audience, method, now)
        claims.update(
            {
                "idtyp": "user",
                "amr": ["pwd"],
                "name": user.display_name,
                "oid": user.object_id,
                "scp": "user_impersonation",
                "sub": subject,
                "unique_name": user.upn,
                "upn": user.upn,
            }
        )
        issued = int(now)
        lifetime = self._scenario.access_token_lifetime_seconds
        id_token = self._issuer.sign(
            {
                "aud": application.client_id,
                "iss": f"{self._authority_host}/{tenant.tenant_id}/v2.0",
                "iat": issued,
                "nbf": issued,
                "exp": issued + lifetime,
                "name": user.display_name,
                "oid": user.object_id,
                "preferred_username": user.upn,
                "sub": subject,
                "tid": tenant.tenant_id,
                "uti": secrets.token_urlsafe(16),
                "ver": "2.0",
            }
        )
        refresh_token = new_refresh_token()
        with self._refresh_lock:
            self._refresh_tokens[refresh_token] = _RefreshGrant(
                tenant.name, application.client_id, user.upn, now
            )
            while len(self._refresh_tokens) > MAX_REFRESH_TOKENS:
                self._refresh_tokens.popitem(last=False)
        return {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._issuer.sign(claims),
            "refresh_token": refresh_token,
            "id_token": id_token,
            "client_info": base64url_json({"uid": user.object_id, "utid": tenant.tenant_id}),
        }

    def _environment_url(self, environment: Environment) -> str:
        return f"{self._authority_host}/env/{environment.url_name}"


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise EntraError(
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )
    return value


def _tenant_not_found(reference: str) -> str:
    return (
        f"Tenant '{reference}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant."
    )


def _invalid_scope(scope: str) -> EntraError:
    return EntraError(
        "invalid_scope",
        70011,
        "The provided request must include a 'scope' input parameter. The provided value for "
        f"the input parameter 'scope' is not valid. The scope {scope} is not valid.",
    )


def _allowed(tenant: Tenant, header: str) -> bool:
    """Return whether a ``Restrict-Access-To-Tenants`` header (comma-separated domains or ids)
    lists *tenant*."""
    listed = {item.strip().lower() for item in header.split(",") if item.strip()}
    return bool(listed & {tenant.tenant_id, *tenant.domains})


def _blocked_by_conditional_access() -> EntraError:
    return EntraError(
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
        suberror="message_only",
    )


def _signature_failure(reason: str) -> EntraError:
    return EntraError(
        "invalid_client",
        700027,
        f"Client assertion contains an invalid signature. [Reason - {reason}]",
    )


def _revoked_grant(issued_at: float, valid_from: float) -> str:
    issued = dt.datetime.fromtimestamp(issued_at, dt.UTC)
    valid = dt.datetime.fromtimestamp(valid_from, dt.UTC)
    return (
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
        "The user might have changed or reset their password. The grant was issued on "
        f"'{issued:%Y-%m-%dT%H:%M:%S.%f}0Z' and the TokensValidFrom date (before which tokens "
        f"are not valid) for this user is '{valid:%Y-%m-%dT%H:%M:%S.%f}0Z'."
    )


def _thumbprint(header: Mapping[str, Any]) -> bytes:
    value = header.get("x5t#S256") or header.get("x5t") or ""
    if not isinstance(value, str):
        return b""
    stripped = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        return b""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _iso7(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def _pairwise_subject(object_id: str, client_id: str) -> str:
    digest = hashlib.sha256(f"{object_id}/{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:43]
