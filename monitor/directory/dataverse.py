"""Dataverse metadata reads of one environment, with the observer as an application user.

The identity's ``systemuser`` row, its security roles (directly and through teams) and the
environment's non-interactive users, through the Web API v9.2 (``docs/posture.md``, "Directory
reads"). The observer's own 403 answers, and every answer a read did not expect, make the facts
that needed that read "not observed".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.directory.client import JsonReader, NotObserved, malformed, read_guard
from monitor.model.observations import (
    ACCESS_MODE_NON_INTERACTIVE,
    ACCESS_MODES,
    NonInteractiveUsers,
    RoleGrant,
    SecurityRoles,
    SystemUser,
)

API_PATH = "api/data/v9.2"
NOT_A_MEMBER_CODE = "0x80072560"
USER_DISABLED_CODE = "0x80040225"
NO_ROLES_CODE = "0x80042f09"
ADMIN_MODE_CODE = "0x8004a113"
SYSTEMUSER_SELECT = (
    "systemuserid,fullname,domainname,applicationid,azureactivedirectoryobjectid,accessmode,"
    "isdisabled,islicensed"
)
ROLE_SELECT = "name,roleid,_roletemplateid_value"
DEFAULT_PAGE_SIZE = 500


def dataverse_headers(page_size: int = DEFAULT_PAGE_SIZE) -> dict[str, str]:
    return {
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
        "Prefer": f"odata.maxpagesize={page_size}",
    }


class DataverseClient(JsonReader):
    """A :class:`JsonReader` for ``{environment}/api/data/v9.2`` that explains the observer's
    403 answers."""

    environment: str = ""

    def forbidden_reason(self, code: str | None, message: str, permission: str | None) -> str:
        lowered = message.lower()
        if (
            code or ""
        ).lower() == NOT_A_MEMBER_CODE or "not a member of the organization" in lowered:
            return (
                f"the observer is not a user of environment {self.environment}: add it as an "
                "application user with a read-only security role"
            )
        if (code or "").lower() == USER_DISABLED_CODE or "is disabled" in lowered:
            return f"the observer's application user is disabled in environment {self.environment}"
        if (code or "").lower() == NO_ROLES_CODE:
            return (
                f"the observer holds no security role in environment {self.environment}: give "
                "its application user a read-only role (Read on User, Security Role and Team)"
            )
        if (code or "").lower() == ADMIN_MODE_CODE:
            return (
                f"environment {self.environment} is in administration mode (planned "
                "maintenance): the observer cannot read it until it ends"
            )
        detail = f" ({code})" if code else ""
        return (
            f"the observer lacks a read privilege in environment {self.environment}{detail}: "
            f"{message}"
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _guid(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and len(value) == 36 else None


class DataverseDirectory:
    """The metadata reads of one environment in a directory pass."""

    def __init__(self, client: DataverseClient) -> None:
        self.client = client

    @read_guard("the identity's systemuser")
    def systemuser_for_application(self, client_id: str) -> SystemUser:
        """Return the application user of app *client_id* (``found`` False: none)."""
        return self._systemuser(f"applicationid eq {client_id}")

    @read_guard("the identity's systemuser")
    def systemuser_for_user(self, user_principal_name: str, object_id: str | None) -> SystemUser:
        """Return the user's ``systemuser`` (by Entra object id when known, else by UPN)."""
        if object_id:
            return self._systemuser(f"azureactivedirectoryobjectid eq {object_id}")
        return self._systemuser(f"domainname eq {_literal(user_principal_name)}")

    def _systemuser(self, condition: str) -> SystemUser:
        rows = self.client.get_all(
            f"{API_PATH}/systemusers",
            {"$select": SYSTEMUSER_SELECT, "$filter": condition},
            key="systemuserid",
        )
        if not rows:
            return SystemUser(found=False)
        row = rows[0]
        what = f"systemuser {row['systemuserid']}"
        name = row.get("fullname")
        domain_name = row.get("domainname")
        return SystemUser(
            found=True,
            systemuser_id=_guid(row.get("systemuserid")),
            full_name=name if isinstance(name, str) else "",
            domain_name=domain_name if isinstance(domain_name, str) else "",
            application_id=_guid(_need(self.client, row, "applicationid", what)),
            access_mode=_access_mode(self.client, row, what),
            is_disabled=_flag(self.client, row, "isdisabled", what, nullable=False),
            is_licensed=_flag(self.client, row, "islicensed", what, nullable=True),
        )

    @read_guard("the identity's security roles")
    def roles(self, systemuser_id: str) -> SecurityRoles:
        """Return the user's security roles, direct and through its teams."""
        grants = [
            _grant(self.client, row, None)
            for row in self.client.iterate(
                f"{API_PATH}/systemusers({systemuser_id})/systemuserroles_association",
                {"$select": ROLE_SELECT},
                key="roleid",
            )
        ]
        teams = self.client.get_all(
            f"{API_PATH}/systemusers({systemuser_id})/teammembership_association",
            {"$select": "teamid,name"},
            key="teamid",
        )
        for team in teams:
            team_id = str(team["teamid"]).lower()
            name = team.get("name")
            team_name = name if isinstance(name, str) and name else team_id
            grants += [
                _grant(self.client, row, team_name)
                for row in self.client.iterate(
                    f"{API_PATH}/teams({team_id})/teamroles_association",
                    {"$select": ROLE_SELECT},
                    key="roleid",
                )
            ]
        return SecurityRoles(tuple(grants))

    @read_guard("the environment's non-interactive users")
    def noninteractive_users(self) -> NonInteractiveUsers:
        """Return how many non-interactive users (not application users) the environment has."""
        count = 0
        disabled = 0
        for row in self.client.iterate(
            f"{API_PATH}/systemusers",
            {
                "$select": "systemuserid,applicationid,isdisabled",
                "$filter": f"accessmode eq {ACCESS_MODE_NON_INTERACTIVE}",
            },
            key="systemuserid",
        ):
            what = f"systemuser {row['systemuserid']}"
            if _need(self.client, row, "applicationid", what):
                continue  # application users are non-interactive too, but do not count
            count += 1
            if _flag(self.client, row, "isdisabled", what, nullable=False):
                disabled += 1
        return NonInteractiveUsers(count=count, disabled=disabled)


def _need(client: JsonReader, row: Mapping[str, Any], name: str, what: str) -> Any:
    """Return a selected column; Dataverse answers null for an empty one, never nothing."""
    if name not in row:
        raise malformed(client.service, f"{what} without '{name}'")
    return row[name]


def _flag(
    client: JsonReader, row: Mapping[str, Any], name: str, what: str, *, nullable: bool
) -> bool | None:
    value = _need(client, row, name, what)
    if isinstance(value, bool) or (value is None and nullable):
        return value
    raise malformed(client.service, f"{what} with '{name}' = {str(value)[:40]!r}")


def _access_mode(client: JsonReader, row: Mapping[str, Any], what: str) -> int:
    value = _need(client, row, "accessmode", what)
    if isinstance(value, int) and not isinstance(value, bool) and value in ACCESS_MODES:
        return value
    raise malformed(client.service, f"{what} with an unknown accessmode {str(value)[:40]!r}")


def _grant(client: JsonReader, row: Mapping[str, Any], team: str | None) -> RoleGrant:
    role_id = _guid(row.get("roleid"))
    name = _need(client, row, "name", f"role {row.get('roleid')}")
    if role_id is None or not isinstance(name, str):
        raise malformed(client.service, f"role {str(row.get('roleid'))[:40]!r} without its name")
    return RoleGrant(
        name=name, role_id=role_id, template_id=_guid(row.get("_roletemplateid_value")), team=team
    )


__all__ = [
    "DataverseClient",
    "DataverseDirectory",
    "NotObserved",
    "dataverse_headers",
]
