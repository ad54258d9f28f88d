"""The Dataverse part of the simulator: ``WhoAmI``, metadata reads, membership, service limits.

Each environment is served under ``{authority_host}/env/{url_name}``. Every call validates the
bearer token, maps the caller to a member of the environment, refuses it with Dataverse's
documented 403 answers where the member may not call, and spends one request of the member's
service-protection budget (429 when it is spent). What is served, the order of the checks and
the limits: docs/simulator.md ("Dataverse").
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

import jwt

from monitor.simulator.odata import first, offset_of, selected, skiptoken
from monitor.simulator.scenario import (
    ACCESS_MODE_NON_INTERACTIVE,
    Environment,
    Member,
    Role,
    Scenario,
    stable_id,
)
from monitor.simulator.tokens import TokenIssuer
from monitor.simulator.transport import Request, Response

EXECUTION_MS_PER_REQUEST = 2
ODATA_JSON = "application/json; odata.metadata=minimal"
JSON_UTF8 = "application/json; charset=utf-8"
NOT_A_MEMBER_CODE = "0x80072560"
DISABLED_USER_CODE = "0x80040225"
REQUEST_LIMIT_CODE = "0x80072322"
EXECUTION_TIME_LIMIT_CODE = "0x80072321"
PRIVILEGE_CODE = "0x80040220"
NO_ROLES_CODE = "0x80042F09"
NO_LICENCE_CODE = "0x8004D24B"
ADMIN_MODE_CODE = "0x8004A113"
ADMIN_MODE_ROLES = frozenset({"system administrator", "system customizer"})
ACCESS_MODES_NEEDING_A_LICENCE = frozenset({0, 2})  # read-write, read
DOES_NOT_EXIST_CODE = "0x80040217"
QUERY_ERROR_CODE = "0x80060888"
_BY_KEY = re.compile(r"^(systemusers|teams)\(([0-9A-Fa-f-]{36})\)$")
_NAVIGATIONS = {
    "systemusers": ("systemuserroles_association", "teammembership_association"),
    "teams": ("teamroles_association",),
}
_CONDITION = re.compile(r"^\s*\(?\s*([A-Za-z_]+)\s+(eq|ne)\s+(.+?)\s*\)?\s*$")
# $expand of a collection read: navigation property -> (entity, rows of a member / team).
_EXPANDABLE = {
    "systemuser": ("systemuserroles_association", "teammembership_association"),
    "team": ("teamroles_association",),
}
_EXPAND_ITEM = re.compile(r"^\s*([A-Za-z_]+)\s*(?:\(\s*\$select=([A-Za-z_,\s]+)\))?\s*$")


class _QueryError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("query error")
        self.response = response


def is_metadata_path(resource: Sequence[str]) -> bool:
    """Return whether ``resource`` (the path after ``api/data/v9.x``) is a metadata read."""
    if list(resource) in (["systemusers"], ["teams"]):
        return True
    if len(resource) != 2:
        return False
    match = _BY_KEY.match(resource[0])
    return match is not None and resource[1] in _NAVIGATIONS[match.group(1)]


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

    def _caller(self, environment: Environment, claims: dict[str, Any]) -> Member | Response:
        """Return the calling member, or the 403 Dataverse answers (the caller holds the lock)."""
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
        roles = self.roles_of(environment, member)
        if environment.administration_mode and not any(
            role.name.lower() in ADMIN_MODE_ROLES for role, _ in roles
        ):
            return dataverse_error(
                403,
                ADMIN_MODE_CODE,
                "User does not have required privileges (or role membership) to access the org "
                "when it is in Admin Only mode.",
            )
        if (
            member.user is not None
            and member.effective_access_mode in ACCESS_MODES_NEEDING_A_LICENCE
            and not self._licensed(member)
        ):
            return dataverse_error(
                403, NO_LICENCE_CODE, "The user has not been assigned any License"
            )
        if not roles:
            return dataverse_error(
                403,
                NO_ROLES_CODE,
                f"The user (Id = {member.user_id}) has not been assigned any roles.",
            )
        if member.missing_privilege:
            return dataverse_error(
                403,
                PRIVILEGE_CODE,
                f"Principal user (Id={member.user_id}, type=8, roleCount={len(roles)}, "
                f"privilegeCount=42, accessMode={member.effective_access_mode}), is missing "
                f"{member.missing_privilege} privilege "
                f"(Id={stable_id('privilege', member.missing_privilege)}) on OTC=8 for entity "
                "'systemuser'.",
            )
        return member

    def _licensed(self, member: Member) -> bool:
        if member.licensed is not None:
            return member.licensed
        user = self._scenario.users.get(member.user or "")
        return user is not None and bool(user.licences)

    def _admit(
        self, request: Request, environment: Environment, claims: dict[str, Any] | None
    ) -> Member | Response:
        """Return the calling member, or the answer that stops the request: no valid token
        (401), no member that may call, or the service-protection budget spent. Call with the
        scenario's lock held."""
        if claims is None:
            return self._unauthorized(request, environment)
        member = self._caller(environment, claims)
        if isinstance(member, Response):
            return member
        limited = self._spend(environment, member)
        return member if limited is None else limited

    def who_am_i(
        self, request: Request, environment: Environment, claims: dict[str, Any] | None
    ) -> Response:
        with self._scenario.lock:
            member = self._admit(request, environment, claims)
            if isinstance(member, Response):
                return member
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

    # -- metadata reads -----------------------------------------------------------------------

    def metadata(
        self,
        request: Request,
        environment: Environment,
        claims: dict[str, Any] | None,
        resource: Sequence[str],
    ) -> Response:
        """Answer a metadata read (see :func:`is_metadata_path`) for a member with a role."""
        with self._scenario.lock:
            member = self._admit(request, environment, claims)
            if isinstance(member, Response):
                return member
            query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
            try:
                rows, entity = self._rows(environment, resource)
                if len(resource) == 1:
                    rows = _filtered(rows, first(query, "$filter"), entity)
                selected = [_selected(row, first(query, "$select"), entity) for row in rows]
                expand = first(query, "$expand")
                if expand and len(resource) == 1:
                    self._expand(environment, selected, expand, entity)
            except _QueryError as error:
                return error.response
            page_size = self._scenario.dataverse_page_size
            preferred = _max_page_size(request.headers.get("Prefer") or "")
            if preferred is not None:
                page_size = min(page_size, preferred)
        url = self.environment_url(environment)
        path = "/".join(resource)
        try:
            offset = _offset(first(query, "$skiptoken"))
        except _QueryError as error:
            return error.response
        body: dict[str, Any] = {
            "@odata.context": f"{url}/api/data/v9.2/$metadata#{entity}s",
            "value": selected[offset : offset + page_size],
        }
        if offset + page_size < len(selected):
            params = {key: values[0] for key, values in query.items() if key != "$skiptoken"}
            params["$skiptoken"] = skiptoken(offset + page_size)
            body["@odata.nextLink"] = (
                f"{url}/api/data/v9.2/{path}?{urllib.parse.urlencode(params, safe='$,()')}"
            )
        headers = [("OData-Version", "4.0"), ("REQ_ID", str(uuid.uuid4()))]
        if preferred is not None:
            headers.append(("Preference-Applied", f"odata.maxpagesize={page_size}"))
        return Response(200, json.dumps(body).encode("utf-8"), ODATA_JSON, headers)

    def _expand(
        self, environment: Environment, rows: list[dict[str, Any]], expand: str, entity: str
    ) -> None:
        """Add the collection-valued navigation properties *expand* names to each row
        (``name($select=a,b)``, comma separated), as Dataverse nests them."""
        members = {member.user_id: member for member in environment.members.values()}
        teams = {team.team_id: team for team in environment.teams.values()}
        for item in _split_expand(expand):
            match = _EXPAND_ITEM.match(item)
            if match is None or match.group(1) not in _EXPANDABLE.get(entity, ()):
                raise _query_error(f"Could not find a property named '{item.strip()}' to expand.")
            navigation, select = match.group(1), match.group(2)
            for row in rows:
                related: list[dict[str, Any]] = []
                if entity == "team":
                    team = teams.get(row["teamid"])
                    names = team.roles if team is not None else []
                    related = [_role_row(environment.role(name)) for name in names]
                    kind = "role"
                else:
                    member = members.get(row["systemuserid"])
                    kind = "role" if navigation == "systemuserroles_association" else "team"
                    if member is not None and kind == "role":
                        related = [_role_row(environment.role(name)) for name in member.roles]
                    elif member is not None:
                        related = [
                            {"@odata.etag": 'W/"1"', "teamid": t.team_id, "name": t.name}
                            for t in (environment.team(name) for name in member.teams)
                        ]
                row[navigation] = [_selected(one, select, kind) for one in related]

    def roles_of(self, environment: Environment, member: Member) -> list[tuple[Role, str | None]]:
        """Return the member's roles with the team each comes through (None: direct)."""
        found: list[tuple[Role, str | None]] = [
            (environment.role(name), None) for name in member.roles
        ]
        for team_name in member.teams:
            team = environment.team(team_name)
            found += [(environment.role(name), team.name) for name in team.roles]
        return found

    def _systemusers(self, environment: Environment) -> list[dict[str, Any]]:
        tenant = self._scenario.tenants.get(environment.tenant)
        domain = tenant.domain if tenant else "invalid"
        rows = []
        for member in environment.members.values():
            application = (
                self._scenario.applications.get(member.app) if member.app is not None else None
            )
            user = self._scenario.users.get(member.user) if member.user is not None else None
            if application is not None:
                full_name = application.display_name
                domain_name = f"app-{application.client_id}@{domain}"
                object_id = application.object_id
                licensed = bool(member.licensed)
            else:
                full_name = user.display_name if user else str(member.user)
                domain_name = str(member.user)
                object_id = user.object_id if user else stable_id("user", str(member.user))
                licensed = self._licensed(member)
            rows.append(
                _systemuser_row(
                    member.user_id,
                    full_name,
                    domain_name,
                    member.app,
                    object_id,
                    member.effective_access_mode,
                    member.disabled,
                    licensed,
                    environment.business_unit_id,
                )
            )
        for index in range(1, environment.other_noninteractive_users + 1):
            key = f"noninteractive-{index}"
            rows.append(
                _systemuser_row(
                    stable_id("systemuser", environment.name, key),
                    f"Non-interactive user {index}",
                    f"svc-{key}@{domain}",
                    None,
                    stable_id("user", environment.name, key),
                    ACCESS_MODE_NON_INTERACTIVE,
                    False,
                    False,
                    environment.business_unit_id,
                )
            )
        for index in range(1, environment.other_interactive_users + 1):
            key = f"interactive-{index}"
            rows.append(
                _systemuser_row(
                    stable_id("systemuser", environment.name, key),
                    f"User {index}",
                    f"user-{index}@{domain}",
                    None,
                    stable_id("user", environment.name, key),
                    0,
                    False,
                    True,
                    environment.business_unit_id,
                )
            )
        return rows

    def _rows(
        self, environment: Environment, resource: Sequence[str]
    ) -> tuple[list[dict[str, Any]], str]:
        if list(resource) == ["teams"]:
            return [
                {"@odata.etag": 'W/"1"', "teamid": team.team_id, "name": team.name}
                for team in environment.teams.values()
            ], "team"
        if len(resource) == 1:
            return self._systemusers(environment), "systemuser"
        match = _BY_KEY.match(resource[0])
        assert match is not None
        entity, key = match.group(1), match.group(2).lower()
        navigation = resource[1]
        if entity == "teams":
            team = next((t for t in environment.teams.values() if t.team_id == key), None)
            if team is None:
                raise _QueryError(_does_not_exist("team", key))
            return [_role_row(environment.role(name)) for name in team.roles], "role"
        member = next((m for m in environment.members.values() if m.user_id == key), None)
        if member is None:
            synthetic = {row["systemuserid"] for row in self._systemusers(environment)}
            if key not in synthetic:
                raise _QueryError(_does_not_exist("systemuser", key))
            return [], "role" if navigation == "systemuserroles_association" else "team"
        if navigation == "systemuserroles_association":
            return [_role_row(environment.role(name)) for name in member.roles], "role"
        teams = [environment.team(name) for name in member.teams]
        return [
            {"@odata.etag": 'W/"1"', "teamid": team.team_id, "name": team.name} for team in teams
        ], "team"

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


def _systemuser_row(
    systemuser_id: str,
    full_name: str,
    domain_name: str,
    application_id: str | None,
    object_id: str,
    access_mode: int,
    disabled: bool,
    licensed: bool,
    business_unit_id: str,
) -> dict[str, Any]:
    return {
        "@odata.etag": 'W/"1"',
        "systemuserid": systemuser_id,
        "fullname": full_name,
        "domainname": domain_name,
        "applicationid": application_id,
        "azureactivedirectoryobjectid": object_id,
        "accessmode": access_mode,
        "isdisabled": disabled,
        "islicensed": licensed,
        "caltype": 0,
        "isintegrationuser": False,
        "_businessunitid_value": business_unit_id,
    }


def _role_row(role: Role) -> dict[str, Any]:
    return {
        "@odata.etag": 'W/"1"',
        "name": role.name,
        "roleid": role.role_id,
        "_roletemplateid_value": role.template_id,
    }


def _does_not_exist(entity: str, key: str) -> Response:
    return dataverse_error(404, DOES_NOT_EXIST_CODE, f"{entity} With Id = {key} Does Not Exist")


def _query_error(message: str) -> _QueryError:
    return _QueryError(dataverse_error(400, QUERY_ERROR_CODE, message))


_PRIMARY_KEYS = {"systemuser": "systemuserid", "role": "roleid", "team": "teamid"}


def _selected(row: dict[str, Any], select: str | None, entity: str) -> dict[str, Any]:
    names, missing = selected(row, select)
    if missing is not None:
        raise _query_error(
            f"Could not find a property named '{missing}' on type "
            f"'Microsoft.Dynamics.CRM.{entity}'."
        )
    if names is None:
        return dict(row)
    keep = {"@odata.etag", _PRIMARY_KEYS[entity], *names}
    return {key: value for key, value in row.items() if key in keep}


def _literal(text: str) -> object:
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'").lower()
    lowered = text.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise _query_error(f"Syntax error at position 0 in '{text}'.") from None


def _filtered(
    rows: list[dict[str, Any]], expression: str | None, entity: str
) -> list[dict[str, Any]]:
    if not expression:
        return rows
    alternatives = []  # any of these, each all of its conditions
    for alternative in re.split(r"\s+or\s+", expression.strip(), flags=re.IGNORECASE):
        conditions = []
        for part in re.split(r"\s+and\s+", alternative, flags=re.IGNORECASE):
            match = _CONDITION.match(part)
            if match is None:
                raise _query_error(
                    f"The simulator supports only 'field eq|ne value' filters: {part!r}"
                )
            name, negated, value = match.group(1), match.group(2) == "ne", _literal(match.group(3))
            if rows and name not in rows[0]:
                raise _query_error(
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.Dynamics.CRM.{entity}'."
                )
            conditions.append((name, negated, value))
        alternatives.append(conditions)

    def holds(found: object, value: object) -> bool:
        if isinstance(found, str):
            found = found.lower()
        if isinstance(found, bool) or isinstance(value, bool):
            return found is value
        return found == value

    def matches(row: dict[str, Any]) -> bool:
        return any(
            all(holds(row.get(name), value) != negated for name, negated, value in conditions)
            for conditions in alternatives
        )

    return [row for row in rows if matches(row)]


def _split_expand(expand: str) -> list[str]:
    """Split ``$expand`` at the commas outside parentheses."""
    items, depth, current = [], 0, ""
    for char in expand:
        if char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [*items, current] if current.strip() else items


def _max_page_size(prefer: str) -> int | None:
    for item in prefer.split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, int(value.strip()))
    return None


def _offset(token: str | None) -> int:
    offset = offset_of(token)
    if offset is None:
        raise _query_error("Invalid $skiptoken.")
    return offset
