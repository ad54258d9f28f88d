"""Discovery reads: every integration user of an environment, and what Entra ID knows of them.

Dataverse: the ``systemuser`` rows with an ``applicationid`` or in the non-interactive access
mode (one filtered, paged query with their direct roles and teams expanded) and the roles of
every team (one query). Graph: the tenant's app registrations and service principals (listed,
999 a page), the owners of the apps behind application users and the accounts behind
non-interactive users (JSON batches of 20). Every read goes through the directory client, so
paging, throttling and "not observed" work as in the directory pass (docs/discovery.md).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.directory.batch import batch_get
from monitor.directory.client import NotFound, NotObserved, malformed, read_guard
from monitor.directory.dataverse import (
    API_PATH,
    ROLE_SELECT,
    SYSTEMUSER_SELECT,
    DataverseClient,
    _access_mode,
    _flag,
    _grant,
    _guid,
    _need,
)
from monitor.directory.graph import (
    APPLICATION_READ_ALL,
    USER_READ_ALL,
    USER_SELECT,
    ConfiguredCredential,
    GraphClient,
    _bool,
    _credentials,
    parse_user,
)
from monitor.model.observations import (
    ACCESS_MODE_NON_INTERACTIVE,
    RegisteredCredential,
    RoleGrant,
    SubscribedSku,
    UserAccount,
    UserLicences,
)

# Application users, and users in the non-interactive access mode (Dataverse filters on the
# server; systemuser EntityType: https://learn.microsoft.com/power-apps/developer/data-platform/
# reference/entities/systemuser).
INTEGRATION_FILTER = f"applicationid ne null or accessmode eq {ACCESS_MODE_NON_INTERACTIVE}"
ROLES_EXPAND = (
    f"systemuserroles_association($select={ROLE_SELECT}),"
    "teammembership_association($select=teamid,name)"
)
TEAM_ROLES_EXPAND = f"teamroles_association($select={ROLE_SELECT})"
GRAPH_PAGE = "999"
APP_LIST_SELECT = "id,appId,displayName,passwordCredentials,keyCredentials"
SP_LIST_SELECT = "id,appId,displayName,accountEnabled"
OWNER_SELECT = "id,displayName,userPrincipalName"
_NOTHING = ConfiguredCredential("client_secret")  # matches no registered credential


@dataclass(frozen=True)
class IntegrationUser:
    """A ``systemuser`` row discovery lists, with its direct roles and its teams."""

    systemuser_id: str
    full_name: str
    domain_name: str
    application_id: str | None
    object_id: str | None
    access_mode: int
    disabled: bool
    roles: tuple[RoleGrant, ...]
    teams: tuple[tuple[str, str], ...]  # (team id, team name)


@dataclass(frozen=True)
class RegisteredApp:
    """An app registration of the tenant as discovery lists it."""

    client_id: str
    object_id: str
    display_name: str
    credentials: tuple[RegisteredCredential, ...]


class DataverseDiscovery:
    """The discovery reads of one environment."""

    def __init__(self, client: DataverseClient) -> None:
        self.client = client

    @read_guard("the environment's application and non-interactive users")
    def integration_users(self, *, expand: bool = True) -> list[IntegrationUser]:
        """Return every application user and non-interactive user, with their direct roles
        and teams expanded (without *expand*: none; :meth:`roles_of` reads them one by one).
        Raise NotObserved."""
        params = {"$select": SYSTEMUSER_SELECT, "$filter": INTEGRATION_FILTER}
        if expand:
            params["$expand"] = ROLES_EXPAND
        return [
            self._user(row, expanded=expand)
            for row in self.client.iterate(f"{API_PATH}/systemusers", params, key="systemuserid")
        ]

    @read_guard("the user's security roles")
    def roles_of(self, user: IntegrationUser) -> IntegrationUser:
        """Return *user* with its direct roles and teams, read with one request each."""
        base = f"{API_PATH}/systemusers({user.systemuser_id})"
        roles = self.client.get_all(
            f"{base}/systemuserroles_association", {"$select": ROLE_SELECT}, key="roleid"
        )
        teams = self.client.get_all(
            f"{base}/teammembership_association", {"$select": "teamid,name"}, key="teamid"
        )
        return replace(
            user,
            roles=tuple(_grant(self.client, role, None) for role in roles),
            teams=self._teams(teams, f"systemuser {user.systemuser_id}"),
        )

    def _teams(self, teams: Sequence[object], what: str) -> tuple[tuple[str, str], ...]:
        pairs = []
        for team in teams:
            team_id = _guid(team.get("teamid")) if isinstance(team, Mapping) else None
            if team_id is None or not isinstance(team, Mapping):
                raise malformed(self.client.service, f"a team of {what} without its teamid")
            name = team.get("name")
            pairs.append((team_id, name if isinstance(name, str) and name else team_id))
        return tuple(pairs)

    def _user(self, row: Mapping[str, Any], *, expanded: bool) -> IntegrationUser:
        client = self.client
        what = f"systemuser {row['systemuserid']}"
        roles = row.get("systemuserroles_association", [] if not expanded else None)
        teams = row.get("teammembership_association", [] if not expanded else None)
        if not isinstance(roles, list) or not isinstance(teams, list):
            raise malformed(client.service, f"{what} without its expanded roles and teams")
        team_pairs = self._teams(teams, what)
        name = row.get("fullname")
        domain_name = row.get("domainname")
        return IntegrationUser(
            systemuser_id=str(row["systemuserid"]).lower(),
            full_name=name if isinstance(name, str) else "",
            domain_name=domain_name if isinstance(domain_name, str) else "",
            application_id=_guid(_need(client, row, "applicationid", what)),
            object_id=_guid(row.get("azureactivedirectoryobjectid")),
            access_mode=_access_mode(client, row, what),
            disabled=bool(_flag(client, row, "isdisabled", what, nullable=False)),
            roles=tuple(_grant(client, role, None) for role in roles if isinstance(role, Mapping)),
            teams=team_pairs,
        )

    @read_guard("the environment's team roles")
    def team_roles(self) -> dict[str, tuple[RoleGrant, ...]]:
        """Return the roles of every team, by team id (the grants name the team)."""
        found: dict[str, tuple[RoleGrant, ...]] = {}
        for row in self.client.iterate(
            f"{API_PATH}/teams",
            {"$select": "teamid,name", "$expand": TEAM_ROLES_EXPAND},
            key="teamid",
        ):
            team_id = str(row["teamid"]).lower()
            name = row.get("name")
            team_name = name if isinstance(name, str) and name else team_id
            roles = row.get("teamroles_association")
            if not isinstance(roles, list):
                raise malformed(self.client.service, f"team {team_id} without its roles")
            found[team_id] = tuple(
                _grant(self.client, role, team_name) for role in roles if isinstance(role, Mapping)
            )
        return found


class GraphDiscovery:
    """The discovery reads of one tenant's directory."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    @read_guard("the tenant's app registrations")
    def applications(self) -> dict[str, RegisteredApp]:
        """Return every app registration of the tenant by client id. Raise NotObserved."""
        found: dict[str, RegisteredApp] = {}
        for item in self.client.iterate(
            "applications",
            {"$select": APP_LIST_SELECT, "$top": GRAPH_PAGE},
            permission=APPLICATION_READ_ALL,
            key="appId",
        ):
            client_id = str(item["appId"]).lower()
            name = item.get("displayName")
            object_id = item.get("id")
            if not isinstance(object_id, str) or not object_id:
                raise malformed(self.client.service, f"app registration {client_id} without id")
            found[client_id] = RegisteredApp(
                client_id=client_id,
                object_id=object_id,
                display_name=name if isinstance(name, str) else "",
                credentials=tuple(_credentials(item, "application", _NOTHING)),
            )
        return found

    @read_guard("the tenant's service principals")
    def service_principals(self) -> dict[str, bool]:
        """Return whether each service principal (by client id) is enabled."""
        found: dict[str, bool] = {}
        for item in self.client.iterate(
            "servicePrincipals",
            {"$select": SP_LIST_SELECT, "$top": GRAPH_PAGE},
            permission=APPLICATION_READ_ALL,
            key="appId",
        ):
            found[str(item["appId"]).lower()] = _bool(item, "accountEnabled", "a service principal")
        return found

    def owners(self, object_ids: Sequence[str]) -> dict[str, tuple[str, ...] | NotObserved]:
        """Return the owners (UPN, else display name) of each app registration by object id."""
        paths = {
            object_id: f"applications/{object_id}/owners?$select={OWNER_SELECT}"
            for object_id in object_ids
        }
        answers = batch_get(self.client, list(paths.values()), permission=APPLICATION_READ_ALL)
        found: dict[str, tuple[str, ...] | NotObserved] = {}
        for object_id, path in paths.items():
            answer = answers.get(path)
            if isinstance(answer, dict) and isinstance(answer.get("value"), list):
                names = []
                for owner in answer["value"]:
                    if isinstance(owner, Mapping):
                        label = owner.get("userPrincipalName") or owner.get("displayName")
                        if isinstance(label, str) and label:
                            names.append(label)
                found[object_id] = tuple(names)
            elif isinstance(answer, NotObserved):
                found[object_id] = answer
            else:
                found[object_id] = NotObserved("service_error", "Graph answered no owners list")
        return found

    def users(
        self, object_ids: Sequence[str], skus: Sequence[SubscribedSku] | None
    ) -> dict[str, tuple[UserAccount, UserLicences | NotObserved] | NotObserved]:
        """Return each user's account and licences by Entra object id."""
        paths = {
            object_id: f"users/{urllib.parse.quote(object_id)}?$select={USER_SELECT}"
            for object_id in object_ids
        }
        answers = batch_get(self.client, list(paths.values()), permission=USER_READ_ALL)
        found: dict[str, tuple[UserAccount, UserLicences | NotObserved] | NotObserved] = {}
        for object_id, path in paths.items():
            answer = answers.get(path)
            if isinstance(answer, NotObserved):
                found[object_id] = answer
                continue
            try:
                found[object_id] = parse_user(
                    None if isinstance(answer, NotFound) or answer is None else answer,
                    object_id,
                    skus,
                )
            except NotObserved as problem:
                found[object_id] = problem
        return found
