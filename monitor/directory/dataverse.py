"""Dataverse metadata reads of one environment, with the observer as an application user.

The observer needs to be an application user of each environment with a read-only security role
(Read on User, Security Role and Team, organization level). Reads (Web API v9.2):

* the identity's ``systemuser`` row: application users by ``applicationid``, users by
  ``azureactivedirectoryobjectid`` (from Graph) or else ``domainname`` (the UPN). No row means
  the identity is **not a user of the environment** (an outage, like WhoAmI's 403 0x80072560);
* its security roles: ``systemuserroles_association`` plus, through
  ``teammembership_association``, every team's ``teamroles_association``;
* the environment's non-interactive users: ``accessmode eq 4`` without an ``applicationid``.

The observer's own 403 answers are "not observed": 0x80072560 (the observer is not a user of
the environment) or a missing privilege.
"""

from __future__ import annotations

from monitor.directory.client import JsonReader, NotFound, NotObserved
from monitor.model.observations import (
    ACCESS_MODE_NON_INTERACTIVE,
    NonInteractiveUsers,
    RoleGrant,
    SecurityRoles,
    SystemUser,
)

API_PATH = "api/data/v9.2"
NOT_A_MEMBER_CODE = "0x80072560"
USER_DISABLED_CODE = "0x80040225"
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

    def systemuser_for_application(self, client_id: str) -> SystemUser:
        """Return the application user of app *client_id* (``found`` False: none)."""
        return self._systemuser(f"applicationid eq {client_id}")

    def systemuser_for_user(self, user_principal_name: str, object_id: str | None) -> SystemUser:
        """Return the user's ``systemuser`` (by Entra object id when known, else by UPN)."""
        if object_id:
            return self._systemuser(f"azureactivedirectoryobjectid eq {object_id}")
        return self._systemuser(f"domainname eq {_literal(user_principal_name)}")

    def _systemuser(self, condition: str) -> SystemUser:
        rows = self.client.get_all(
            f"{API_PATH}/systemusers", {"$select": SYSTEMUSER_SELECT, "$filter": condition}
        )
        if not rows:
            return SystemUser(found=False)
        row = rows[0]
        access_mode = row.get("accessmode")
        disabled = row.get("isdisabled")
        licensed = row.get("islicensed")
        name = row.get("fullname")
        domain_name = row.get("domainname")
        return SystemUser(
            found=True,
            systemuser_id=_guid(row.get("systemuserid")),
            full_name=name if isinstance(name, str) else "",
            domain_name=domain_name if isinstance(domain_name, str) else "",
            application_id=_guid(row.get("applicationid")),
            access_mode=access_mode
            if isinstance(access_mode, int) and not isinstance(access_mode, bool)
            else None,
            is_disabled=disabled if isinstance(disabled, bool) else None,
            is_licensed=licensed if isinstance(licensed, bool) else None,
        )

    def roles(self, systemuser_id: str) -> SecurityRoles:
        """Return the user's security roles, direct and through its teams."""
        grants = [
            grant
            for row in self.client.get_all(
                f"{API_PATH}/systemusers({systemuser_id})/systemuserroles_association",
                {"$select": ROLE_SELECT},
            )
            if (grant := _grant(row, None)) is not None
        ]
        teams = self.client.get_all(
            f"{API_PATH}/systemusers({systemuser_id})/teammembership_association",
            {"$select": "teamid,name"},
        )
        for team in teams:
            team_id = _guid(team.get("teamid"))
            if team_id is None:
                continue
            name = team.get("name")
            team_name = name if isinstance(name, str) else team_id
            try:
                rows = self.client.get_all(
                    f"{API_PATH}/teams({team_id})/teamroles_association", {"$select": ROLE_SELECT}
                )
            except NotFound:
                continue  # the team was deleted between the two reads
            grants += [g for row in rows if (g := _grant(row, team_name)) is not None]
        return SecurityRoles(tuple(grants))

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
        ):
            if row.get("applicationid"):
                continue  # application users are non-interactive too, but do not count
            count += 1
            if row.get("isdisabled") is True:
                disabled += 1
        return NonInteractiveUsers(count=count, disabled=disabled)


def _grant(row: dict[str, object], team: str | None) -> RoleGrant | None:
    role_id = _guid(row.get("roleid"))
    name = row.get("name")
    if role_id is None or not isinstance(name, str):
        return None
    return RoleGrant(
        name=name, role_id=role_id, template_id=_guid(row.get("_roletemplateid_value")), team=team
    )


__all__ = [
    "DataverseClient",
    "DataverseDirectory",
    "NotObserved",
    "dataverse_headers",
]
