"""The Dataverse part of the simulator: ``WhoAmI`` with membership and service protection limits.

Each environment is served under ``{authority_host}/env/{url_name}``. WhoAmI validates the bearer
token (signature, expiry, audience == the environment URL, tenant == the environment's tenant),
maps the caller to a member of the environment (application user by ``appid``, user by
``upn``) and spends one request of that member's service-protection budget:

* ``burst_remaining`` requests per ``window_seconds`` window (default 6000 per 300 s), reported
  in ``x-ms-ratelimit-burst-remaining-xrm-requests``; at zero the answer is 429 with
  ``Retry-After`` (seconds to the end of the window) and error 0x80072322;
* a combined execution time (default 1,200,000 ms per window, each request costs
  :data:`EXECUTION_MS_PER_REQUEST`), reported like Dataverse does in
  ``x-ms-ratelimit-time-remaining-xrm-requests`` as seconds with a thousands separator and two
  decimals (``1,199.99``); at zero the answer is 429 with error 0x80072321.

When a window has passed, both counters start again from the environment's limits (a member's
configured start values apply to the first window only).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

import jwt

from monitor.simulator.scenario import Environment, Member, Scenario
from monitor.simulator.tokens import TokenIssuer
from monitor.simulator.transport import Request, Response

EXECUTION_MS_PER_REQUEST = 2
ODATA_JSON = "application/json; odata.metadata=minimal"
JSON_UTF8 = "application/json; charset=utf-8"
NOT_A_MEMBER_CODE = "0x80072560"
DISABLED_USER_CODE = "0x80040225"
REQUEST_LIMIT_CODE = "0x80072322"
EXECUTION_TIME_LIMIT_CODE = "0x80072321"


def dataverse_error(
    status: int, code: str, message: str, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
    extra = [("OData-Version", "4.0"), ("REQ_ID", str(uuid.uuid4())), *(headers or [])]
    return Response(status, body, JSON_UTF8, extra)


def request_limit_response(environment: Environment | None, retry_after: int) -> Response:
    """Return the 429 Dataverse answers when the request-count limit is exceeded."""
    limit = environment.request_limit if environment else 6000
    window = environment.window_seconds if environment else 300
    return dataverse_error(
        429,
        REQUEST_LIMIT_CODE,
        f"Number of requests exceeded the limit of {limit} over time window of {window:g} seconds.",
        headers=[("Retry-After", str(retry_after))],
    )


class DataverseService:
    """Answers the Dataverse Web API paths from a live :class:`Scenario`."""

    def __init__(self, scenario: Scenario, issuer: TokenIssuer, authority_host: str) -> None:
        self._scenario = scenario
        self._issuer = issuer
        self._authority_host = authority_host

    def environment_url(self, environment: Environment) -> str:
        return f"{self._authority_host}/env/{environment.url_name}"

    def verify_token(self, request: Request, environment: Environment) -> dict[str, Any] | None:
        """Return the claims of the request's bearer token if it is valid for ``environment``."""
        authorization = request.headers.get("Authorization") or ""
        if authorization[:7].lower() != "bearer ":
            return None
        url = self.environment_url(environment)
        try:
            claims = self._issuer.verify(authorization[7:].strip(), [url, url + "/"])
        except jwt.InvalidTokenError:
            return None
        with self._scenario.lock:
            tenant = self._scenario.tenants.get(environment.tenant)
        if tenant is None or claims.get("tid") != tenant.tenant_id:
            return None
        return claims

    def not_found(self, segment: str) -> Response:
        return dataverse_error(
            404, "0x8006088a", f"Resource not found for the segment '{segment}'."
        )

    def who_am_i(
        self, request: Request, environment: Environment, claims: dict[str, Any] | None
    ) -> Response:
        if claims is None:
            return self._unauthorized(request, environment)
        with self._scenario.lock:
            member = self._member(environment, claims)
            if member is None:
                return dataverse_error(
                    403, NOT_A_MEMBER_CODE, "The user is not a member of the organization."
                )
            if member.disabled:
                return dataverse_error(
                    403,
                    DISABLED_USER_CODE,
                    f"The user with SystemUserId={member.user_id} in OrganizationContext="
                    f"{environment.organization_id} is disabled. Disabled users cannot access "
                    "the system. Consider enabling this user. Also, users are disabled if they "
                    "don't have a license assigned to them.",
                )
            limited = self._spend(environment, member)
            if limited is not None:
                return limited
            remaining, remaining_ms = member.remaining, member.remaining_ms
            user_id = member.user_id
        url = self.environment_url(environment)
        body = {
            "@odata.context": f"{url}/api/data/v9.2/$metadata#"
            "Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": environment.business_unit_id,
            "UserId": user_id,
            "OrganizationId": environment.organization_id,
        }
        headers = [
            ("OData-Version", "4.0"),
            ("REQ_ID", str(uuid.uuid4())),
            ("x-ms-dop-hint", "4"),
            ("x-ms-ratelimit-burst-remaining-xrm-requests", str(remaining)),
            ("x-ms-ratelimit-time-remaining-xrm-requests", f"{remaining_ms / 1000:,.2f}"),
            ("Cache-Control", "no-cache"),
        ]
        return Response(200, json.dumps(body).encode("utf-8"), ODATA_JSON, headers)

    def _unauthorized(self, request: Request, environment: Environment) -> Response:
        with self._scenario.lock:
            tenant = self._scenario.tenants.get(environment.tenant)
        tenant_id = tenant.tenant_id if tenant else "common"
        parts = []
        if request.headers.get("Authorization"):
            parts.append('error="invalid_token"')
            parts.append(
                'error_description="Error identified in Payload provided by the user. '
                f'correlationId={uuid.uuid4()}"'
            )
        parts.append(f'authorization_uri="{self._authority_host}/{tenant_id}/oauth2/authorize"')
        parts.append(f'resource_id="{self.environment_url(environment)}/"')
        return Response(401, b"", None, [("WWW-Authenticate", "Bearer " + ", ".join(parts))])

    @staticmethod
    def _member(environment: Environment, claims: dict[str, Any]) -> Member | None:
        if claims.get("idtyp") == "app":
            client_id = claims.get("appid")
            return environment.member_for_app(client_id) if isinstance(client_id, str) else None
        upn = claims.get("upn")
        return environment.member_for_user(upn) if isinstance(upn, str) else None

    @staticmethod
    def _spend(environment: Environment, member: Member) -> Response | None:
        """Spend one request of ``member``'s budget; return the 429 if it is exhausted."""
        now = time.monotonic()
        if member.window_started is None:
            member.window_started = now
            member.remaining = (
                member.burst_remaining
                if member.burst_remaining is not None
                else environment.request_limit
            )
            member.remaining_ms = (
                member.time_remaining_ms
                if member.time_remaining_ms is not None
                else environment.execution_time_limit_ms
            )
        elif now - member.window_started >= environment.window_seconds:
            member.window_started = now
            member.remaining = environment.request_limit
            member.remaining_ms = environment.execution_time_limit_ms
        retry_after = max(1, math.ceil(member.window_started + environment.window_seconds - now))
        if member.remaining <= 0:
            return request_limit_response(environment, retry_after)
        if member.remaining_ms <= 0:
            return dataverse_error(
                429,
                EXECUTION_TIME_LIMIT_CODE,
                "Combined execution time of incoming requests exceeded limit of "
                f"{environment.execution_time_limit_ms:,} milliseconds over time window of "
                f"{environment.window_seconds:g} seconds. Decrease number of concurrent "
                "requests or reduce the duration of requests and try again later.",
                headers=[("Retry-After", str(retry_after))],
            )
        member.remaining -= 1
        member.remaining_ms = max(0, member.remaining_ms - EXECUTION_MS_PER_REQUEST)
        return None
