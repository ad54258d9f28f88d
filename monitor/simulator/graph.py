"""The Microsoft Graph part of the simulator: the directory reads of the monitor's observer.

Served under ``{authority_host}/graph/v1.0/`` to app-only tokens the simulator issued for
``{authority_host}/graph/.default`` (their ``roles`` claim: the app's ``graph_permissions``);
the tenant is the token's ``tid``. The paths, the permission each needs, ``$select``, paging and
Graph's error shapes: docs/simulator.md ("Microsoft Graph").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from monitor.simulator.faults import RequestInfo, take_fault
from monitor.simulator.odata import first, offset_of, selected, skiptoken
from monitor.simulator.scenario import (
    DEFAULT_GRAPH_PAGE_SIZE,
    Application,
    Scenario,
    Tenant,
    User,
    stable_id,
)
from monitor.simulator.tokens import TokenIssuer
from monitor.simulator.transport import Request, Response

GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)
DIRECTORY_READ_ALL = "Directory.Read.All"
APPLICATION_PERMISSIONS = ("Application.Read.All", "Application.ReadWrite.All", DIRECTORY_READ_ALL)
USER_PERMISSIONS = ("User.Read.All", "User.ReadWrite.All", DIRECTORY_READ_ALL)
DOMAIN_PERMISSIONS = ("Domain.Read.All", "Domain.ReadWrite.All", DIRECTORY_READ_ALL)
ORGANIZATION_PERMISSIONS = (
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    DIRECTORY_READ_ALL,
)

_BY_APP_ID = re.compile(r"^(applications|servicePrincipals)\(appId='([^']*)'\)$")
MAX_GRAPH_PAGE_SIZE = 999
BATCH_LIMIT = 20  # requests in one JSON batch (Graph answers 400 beyond)


class GraphError(Exception):
    """An error answer in Graph's format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def graph_error_response(
    status: int, code: str, message: str, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Return a Graph error answer (with its ``innerError`` diagnostics)."""
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
    extra = [("request-id", request_id), ("client-request-id", request_id), *(headers or [])]
    return Response(status, json.dumps(body).encode("utf-8"), GRAPH_JSON, extra)


def throttled_response(retry_after: int) -> Response:
    """Return the 429 Graph answers when an app is throttled."""
    return graph_error_response(
        429,
        "TooManyRequests",
        "Too many requests.",
        headers=[("Retry-After", str(retry_after))],
    )


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _never() -> dt.datetime:
    # Graph has no "never": a credential created without an end shows a far date.
    return dt.datetime(2299, 12, 31, tzinfo=dt.UTC)


class GraphService:
    """Answers the Graph paths from a live :class:`Scenario`."""

    def __init__(self, scenario: Scenario, issuer: TokenIssuer, authority_host: str) -> None:
        self._scenario = scenario
        self._issuer = issuer
        self._graph_url = f"{authority_host}/graph"

    @property
    def graph_url(self) -> str:
        return self._graph_url

    def verify_token(self, request: Request) -> dict[str, Any] | None:
        """Return the claims of the request's bearer token if it is a Graph token of ours."""
        authorization = request.headers.get("Authorization") or ""
        if authorization[:7].lower() != "bearer ":
            return None
        try:
            claims = self._issuer.verify(
                authorization[7:].strip(), [self._graph_url, self._graph_url + "/"]
            )
        except jwt.InvalidTokenError:
            return None
        return claims

    def handle(self, request: Request, claims: dict[str, Any] | None) -> Response:
        """Answer one request under ``/graph``."""
        try:
            return self._handle(request, claims)
        except GraphError as failure:
            return graph_error_response(failure.status, failure.code, failure.message)

    # -- dispatch ----------------------------------------------------------------------------

    def _handle(self, request: Request, claims: dict[str, Any] | None) -> Response:
        path = urllib.parse.unquote(request.path)
        parts = path.split("/")  # ["", "graph", "v1.0", ...]
        if len(parts) < 4 or parts[2] != "v1.0":
            raise GraphError(400, "BadRequest", "Invalid version.")
        if claims is None:
            message = (
                "Access token validation failure. Invalid audience."
                if request.headers.get("Authorization")
                else "Access token is empty."
            )
            raise GraphError(401, "InvalidAuthenticationToken", message)
        batch = parts[3:] == ["$batch"]
        if request.method != ("POST" if batch else "GET"):
            raise GraphError(405, "Request_BadRequest", "The simulator serves reads only.")
        with self._scenario.lock:
            tenant = next(
                (t for t in self._scenario.tenants.values() if t.tenant_id == claims.get("tid")),
                None,
            )
            if tenant is None:
                raise GraphError(401, "InvalidAuthenticationToken", "Unknown tenant.")
            roles = claims.get("roles")
            granted = set(roles) if isinstance(roles, list) else set()
            if batch:
                appid = claims.get("appid")
                return self._batch(
                    request, tenant, granted, appid if isinstance(appid, str) else None
                )
            query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
            resource = parts[3:]
            return self._resource(request, tenant, granted, resource, query)

    def _batch(
        self, request: Request, tenant: Tenant, granted: set[str], client_id: str | None
    ) -> Response:
        """Answer a JSON batch: up to 20 GET requests, each answered as if sent alone (an
        error in one is that one's answer). A ``graph`` fault whose ``path`` matches a request
        of the batch (and not the batch itself) applies to that request: ``throttle_429`` and
        ``http_5xx`` answer it, the way Graph throttles the requests of a batch one by one."""
        try:
            body = json.loads(request.body)
            items = body["requests"]
            if not isinstance(items, list):
                raise TypeError("requests")
        except (ValueError, TypeError, KeyError):
            raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
        if not items or len(items) > BATCH_LIMIT:
            raise GraphError(400, "BadRequest", f"The batch must hold 1 to {BATCH_LIMIT} requests.")
        answers = []
        seen: set[str] = set()
        for item in items:
            ident = item.get("id") if isinstance(item, dict) else None
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not isinstance(url, str) or ident in seen:
                raise GraphError(400, "BadRequest", "Each batch request needs a unique id and url.")
            seen.add(ident)
            if str(item.get("method", "")).upper() != "GET":
                answer = graph_error_response(
                    405, "Request_BadRequest", "The simulator serves reads only."
                )
            else:
                path, _, query_text = url.lstrip("/").partition("?")
                fault = take_fault(
                    self._scenario.faults,
                    RequestInfo("graph", client_id=client_id),
                    f"{path}?{query_text}" if query_text else path,
                )
                resource = urllib.parse.unquote(path).split("/")
                query = urllib.parse.parse_qs(query_text, keep_blank_values=True)
                if fault is not None and fault.mode == "throttle_429":
                    answer = throttled_response(fault.retry_after)
                elif fault is not None and fault.mode in ("http_500", "http_502", "http_503"):
                    status = int(fault.mode.removeprefix("http_"))
                    answer = graph_error_response(status, "ServiceUnavailable", "Try again.")
                else:
                    try:
                        answer = self._resource(request, tenant, granted, resource, query)
                    except GraphError as failure:
                        answer = graph_error_response(failure.status, failure.code, failure.message)
            answers.append(
                {
                    "id": ident,
                    "status": answer.status,
                    "headers": {"Content-Type": answer.content_type or GRAPH_JSON}
                    | dict(answer.headers),
                    "body": json.loads(answer.body) if answer.body else None,
                }
            )
        return Response(200, json.dumps({"responses": answers}).encode("utf-8"), GRAPH_JSON)

    def _resource(
        self,
        request: Request,
        tenant: Tenant,
        granted: set[str],
        resource: list[str],
        query: Mapping[str, list[str]],
    ) -> Response:
        head = resource[0]
        match = _BY_APP_ID.match(head)
        if head in ("applications", "servicePrincipals") and len(resource) == 1:
            _require(granted, APPLICATION_PERMISSIONS)
            if head == "applications":
                found = [
                    self._application(a, tenant)
                    for a in self._scenario.applications.values()
                    if a.tenant == tenant.name
                ]
            else:
                found = [
                    self._service_principal(a)
                    for a in self._scenario.applications.values()
                    if a.has_service_principal_in(tenant.name)
                ]
            return self._list(query, found, head)
        if len(resource) == 3 and resource[0] == "applications" and resource[2] == "owners":
            _require(granted, APPLICATION_PERMISSIONS)
            application = self._application_by_object_id(tenant, resource[1])
            owners = [self._owner(tenant, upn) for upn in application.owners]
            return self._list(query, owners, f"applications/{resource[1]}/owners")
        if match and len(resource) == 1:
            _require(granted, APPLICATION_PERMISSIONS)
            kind, app_id = match.groups()
            if kind == "applications":
                application = self._application_in(tenant, app_id, home_only=True)
                return self._one(query, self._application(application, tenant), "applications")
            application = self._application_in(tenant, app_id, home_only=False)
            return self._one(query, self._service_principal(application), "servicePrincipals")
        if head == "users" and len(resource) == 2:
            _require(granted, USER_PERMISSIONS)
            user = self._user_in(tenant, resource[1])
            return self._one(query, self._user(user, tenant), "users")
        if head == "domains" and len(resource) == 1:
            _require(granted, DOMAIN_PERMISSIONS)
            return self._list(query, [self._domain(tenant, d) for d in tenant.domains], "domains")
        if head == "domains" and len(resource) == 2:
            _require(granted, DOMAIN_PERMISSIONS)
            name = resource[1].lower()
            if name not in tenant.domains:
                raise _not_found(name)
            return self._one(query, self._domain(tenant, name), "domains")
        if head == "subscribedSkus" and len(resource) == 1:
            _require(granted, ORGANIZATION_PERMISSIONS)
            skus = [self._sku(tenant, sku) for sku in tenant.skus.values()]
            return self._list(query, skus, "subscribedSkus")
        if head == "organization" and len(resource) == 1:
            _require(granted, (*ORGANIZATION_PERMISSIONS, "User.Read.All"))
            return self._list(query, [self._organization(tenant)], "organization")
        raise GraphError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{head}'.",
        )

    # -- lookups -----------------------------------------------------------------------------

    def _application_in(self, tenant: Tenant, app_id: str, *, home_only: bool) -> Application:
        application = self._scenario.applications.get(app_id.lower())
        if application is None:
            raise _not_found(app_id)
        present = (
            application.tenant == tenant.name
            if home_only
            else application.has_service_principal_in(tenant.name)
        )
        if not present:
            raise _not_found(app_id)
        return application

    def _application_by_object_id(self, tenant: Tenant, object_id: str) -> Application:
        wanted = object_id.lower()
        for application in self._scenario.applications.values():
            if application.tenant == tenant.name and application.application_object_id == wanted:
                return application
        raise _not_found(object_id)

    def _owner(self, tenant: Tenant, upn: str) -> dict[str, Any]:
        user = self._scenario.users.get(upn)
        return {
            "@odata.type": "#microsoft.graph.user",
            "id": user.object_id if user is not None else stable_id("user", upn),
            "displayName": user.display_name if user is not None else upn,
            "userPrincipalName": upn,
        }

    def _user_in(self, tenant: Tenant, reference: str) -> User:
        wanted = reference.lower()
        for user in self._scenario.users.values():
            if user.tenant == tenant.name and wanted in (user.upn, user.object_id):
                return user
        raise _not_found(reference)

    # -- representations ---------------------------------------------------------------------

    def _application(self, application: Application, tenant: Tenant) -> dict[str, Any]:
        passwords = [
            {
                "customKeyIdentifier": None,
                "displayName": secret.display_name or None,
                "endDateTime": _iso(secret.end or _never()),
                "hint": secret.hint,
                "keyId": secret.key_id,
                "secretText": None,
                "startDateTime": _iso(secret.effective_start),
            }
            for secret in application.secrets
        ]
        keys = [
            {
                "customKeyIdentifier": certificate.thumbprint,
                "displayName": certificate.display_name,
                "endDateTime": _iso(certificate.effective_end),
                "key": None,
                "keyId": certificate.key_id,
                "startDateTime": _iso(certificate.start),
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
            }
            for certificate in application.certificates
        ]
        return {
            "id": application.application_object_id,
            "appId": application.client_id,
            "displayName": application.display_name,
            "publisherDomain": tenant.domain,
            "signInAudience": "AzureADMyOrg",
            "isFallbackPublicClient": application.allow_public_client,
            "passwordCredentials": passwords,
            "keyCredentials": keys,
        }

    def _service_principal(self, application: Application) -> dict[str, Any]:
        home = self._scenario.tenants.get(application.tenant)
        return {
            "id": application.object_id,
            "appId": application.client_id,
            "displayName": application.display_name,
            "accountEnabled": application.enabled,
            "servicePrincipalType": "Application",
            "appOwnerOrganizationId": home.tenant_id if home else None,
            "passwordCredentials": [],
            "keyCredentials": [],
        }

    def _user(self, user: User, tenant: Tenant) -> dict[str, Any]:
        changed = dt.datetime.fromtimestamp(user.password_changed_at, dt.UTC)
        licences = [
            {"disabledPlans": [], "skuId": tenant.skus[name].sku_id}
            for name in user.licences
            if name in tenant.skus
        ]
        return {
            "id": user.object_id,
            "userPrincipalName": user.upn,
            "displayName": user.display_name,
            "accountEnabled": user.enabled,
            "userType": "Member",
            "lastPasswordChangeDateTime": _iso(changed),
            "passwordPolicies": user.password_policies,
            "onPremisesSyncEnabled": True if user.synced_from_on_premises else None,
            "assignedLicenses": licences,
            "mail": user.upn,
        }

    def _organization(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "id": tenant.tenant_id,
            "displayName": tenant.display_name,
            "createdDateTime": _iso(tenant.created),
            "countryLetterCode": "US",
            "tenantType": "AAD",
            "onPremisesSyncEnabled": None,
            "verifiedDomains": [
                {
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": domain == tenant.domain,
                    "isInitial": domain.endswith(".onmicrosoft.com"),
                    "name": domain,
                    "type": "Federated" if domain in tenant.federated_domains else "Managed",
                }
                for domain in tenant.domains
            ],
        }

    def _domain(self, tenant: Tenant, name: str) -> dict[str, Any]:
        return {
            "id": name,
            "authenticationType": "Federated" if name in tenant.federated_domains else "Managed",
            "isAdminManaged": True,
            "isDefault": name == tenant.domain,
            "isInitial": name.endswith(".onmicrosoft.com"),
            "isRoot": True,
            "isVerified": True,
            "passwordNotificationWindowInDays": tenant.password_notification_days,
            "passwordValidityPeriodInDays": tenant.password_validity_days,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"],
        }

    def _sku(self, tenant: Tenant, sku: Any) -> dict[str, Any]:
        consumed = sku.consumed
        if consumed is None:
            consumed = sum(
                1
                for user in self._scenario.users.values()
                if user.tenant == tenant.name and sku.part_number in user.licences
            )
        return {
            "accountId": tenant.tenant_id,
            "accountName": tenant.display_name,
            "appliesTo": sku.applies_to,
            "capabilityStatus": sku.status,
            "consumedUnits": consumed,
            "id": f"{tenant.tenant_id}_{sku.sku_id}",
            "skuId": sku.sku_id,
            "skuPartNumber": sku.part_number,
            "subscriptionIds": [f"{sku.sku_id[:8]}-0000-4000-8000-000000000000"],
            "prepaidUnits": {
                "enabled": sku.enabled,
                "lockedOut": 0,
                "suspended": sku.suspended,
                "warning": sku.warning,
            },
            "servicePlans": [
                {
                    "appliesTo": sku.applies_to,
                    "provisioningStatus": "Success",
                    "servicePlanId": stable_id("service-plan", name),
                    "servicePlanName": name,
                }
                for name in sku.service_plans or ()
            ],
        }

    # -- envelopes ---------------------------------------------------------------------------

    def _context(self, collection: str) -> str:
        return f"{self._graph_url}/v1.0/$metadata#{collection}"

    def _one(
        self, query: Mapping[str, list[str]], item: dict[str, Any], collection: str
    ) -> Response:
        body = {"@odata.context": self._context(collection) + "/$entity"}
        body.update(_select(item, query))
        return Response(200, json.dumps(body).encode("utf-8"), GRAPH_JSON)

    def _list(
        self, query: Mapping[str, list[str]], items: Sequence[dict[str, Any]], collection: str
    ) -> Response:
        page_size = self._scenario.graph_page_size
        top = first(query, "$top")
        if top is not None:
            if not top.isdigit() or int(top) < 1:
                raise GraphError(400, "BadRequest", f"Invalid page size specified: '{top}'.")
            # $top asks for up to 999 items a page (Graph's documented maximum for directory
            # objects); graph_page_size below the default keeps pages small for paging tests.
            limit = page_size if page_size < DEFAULT_GRAPH_PAGE_SIZE else MAX_GRAPH_PAGE_SIZE
            page_size = min(limit, int(top))
        offset = _offset(first(query, "$skiptoken"))
        page = [_select(item, query) for item in items[offset : offset + page_size]]
        body: dict[str, Any] = {"@odata.context": self._context(collection), "value": page}
        if offset + page_size < len(items):
            params = {key: values[0] for key, values in query.items() if key != "$skiptoken"}
            params["$skiptoken"] = skiptoken(offset + page_size)
            body["@odata.nextLink"] = (
                f"{self._graph_url}/v1.0/{collection}?{urllib.parse.urlencode(params, safe='$,')}"
            )
        return Response(200, json.dumps(body).encode("utf-8"), GRAPH_JSON)


def _require(granted: set[str], accepted: Sequence[str]) -> None:
    if not granted.intersection(accepted):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def _not_found(reference: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{reference}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def _select(item: dict[str, Any], query: Mapping[str, list[str]]) -> dict[str, Any]:
    names, missing = selected(item, first(query, "$select"))
    if missing is not None:
        raise GraphError(400, "BadRequest", f"Could not find a property named '{missing}' on type.")
    return dict(item) if names is None else {name: item[name] for name in names}


def _offset(token: str | None) -> int:
    offset = offset_of(token)
    if offset is None:
        raise GraphError(400, "BadRequest", "Invalid $skiptoken.")
    return offset
