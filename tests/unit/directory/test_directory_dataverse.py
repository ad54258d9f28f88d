"""Dataverse metadata reads: systemuser rows, roles through teams, non-interactive users, 403s."""

from __future__ import annotations

import pytest
from directory_fakes import DATAVERSE, FakeSession, reader, response
from directory_payloads import (
    APP_ID,
    SYSTEM_ADMINISTRATOR_TEMPLATE,
    SYSTEMUSER_ID,
    TEAM_ID,
    USER_ID,
    collection,
    role_row,
    systemuser_row,
)

from monitor.directory.client import NotObserved
from monitor.directory.dataverse import (
    API_PATH,
    ROLE_SELECT,
    SYSTEMUSER_SELECT,
    DataverseClient,
    DataverseDirectory,
)
from monitor.model.observations import RoleGrant, SystemUser

ROLE_A = "e1000000-0000-4000-8000-00000000000a"
ROLE_B = "e2000000-0000-4000-8000-00000000000b"


def directory(session: FakeSession) -> tuple[DataverseDirectory, DataverseClient]:
    client = reader(DataverseClient, session, DATAVERSE, service="Dataverse environment prod")
    assert isinstance(client, DataverseClient)
    client.environment = "prod"
    return DataverseDirectory(client), client


def systemusers_url(client: DataverseClient, condition: str) -> str:
    return client.url(
        f"{API_PATH}/systemusers", {"$select": SYSTEMUSER_SELECT, "$filter": condition}
    )


def dataverse_error(status: int, code: str, message: str) -> object:
    return response(status, {"error": {"code": code, "message": message}})


def test_application_user_row() -> None:
    """An application user is found by applicationid; its row becomes a SystemUser fact."""
    session = FakeSession()
    dataverse, client = directory(session)
    row = systemuser_row(application_id=APP_ID.upper(), access_mode=4, licensed=False)
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"), response(200, collection([row]))
    )

    user = dataverse.systemuser_for_application(APP_ID)

    assert (
        SystemUser(
            found=True,
            systemuser_id=SYSTEMUSER_ID,
            full_name="Sync service",
            domain_name="svc-sync@contoso.com",
            application_id=APP_ID,
            access_mode=4,
            is_disabled=False,
            is_licensed=False,
        )
        == user
    )
    assert user.is_application_user
    assert not user.is_non_interactive


def test_user_row_by_object_id_else_by_upn() -> None:
    """Users are looked up by Entra object id when Graph gave one, else by UPN (quoted)."""
    session = FakeSession()
    dataverse, client = directory(session)
    session.add(
        systemusers_url(client, f"azureactivedirectoryobjectid eq {USER_ID}"),
        response(200, collection([systemuser_row(access_mode=4)])),
    )
    session.add(
        systemusers_url(client, "domainname eq 'o''brien@contoso.com'"),
        response(200, collection([systemuser_row(disabled=True)])),
    )

    by_id = dataverse.systemuser_for_user("svc-sync@contoso.com", USER_ID)
    by_upn = dataverse.systemuser_for_user("o'brien@contoso.com", None)

    assert by_id.is_non_interactive
    assert by_upn.is_disabled


def test_no_row_means_not_a_user_of_the_environment() -> None:
    """An empty answer is the fact "not a user of this environment" (found False)."""
    session = FakeSession()
    dataverse, client = directory(session)
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"), response(200, collection([]))
    )

    assert SystemUser(found=False) == dataverse.systemuser_for_application(APP_ID)


def test_row_with_null_columns() -> None:
    """Columns Dataverse answers as null are None, never defaults that look healthy."""
    session = FakeSession()
    dataverse, client = directory(session)
    row = {**systemuser_row(), "fullname": None, "islicensed": None}
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"), response(200, collection([row]))
    )

    user = dataverse.systemuser_for_application(APP_ID)

    assert (True, None, "") == (user.found, user.is_licensed, user.full_name)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"isdisabled": None}, "isdisabled"),
        ({"accessmode": 99}, "accessmode"),
        ({"accessmode": "unknownFutureValue"}, "accessmode"),
        ({"systemuserid": None}, "systemuserid"),
    ],
    ids=["null-isdisabled", "unknown-accessmode", "text-accessmode", "no-id"],
)
def test_row_a_rule_cannot_read_is_not_observed(change: dict[str, object], named: str) -> None:
    """A row without its key, a null isdisabled or an access mode outside the documented 0-5
    makes the systemuser not observed, naming the column."""
    session = FakeSession()
    dataverse, client = directory(session)
    row = {**systemuser_row(), **change}
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"), response(200, collection([row]))
    )

    with pytest.raises(NotObserved) as caught:
        dataverse.systemuser_for_application(APP_ID)

    assert "service_error" == caught.value.cause
    assert named in caught.value.reason


def test_a_selected_column_missing_is_not_observed() -> None:
    """A selected column missing from the row (Dataverse answers null, never nothing)."""
    session = FakeSession()
    dataverse, client = directory(session)
    row = systemuser_row()
    del row["accessmode"]
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"), response(200, collection([row]))
    )

    with pytest.raises(NotObserved, match="without 'accessmode'"):
        dataverse.systemuser_for_application(APP_ID)


def test_navigation_property_404_is_not_observed() -> None:
    """A 404 on teammembership_association (the user was deleted between two reads) makes the
    roles not observed; it raises nothing else."""
    session = FakeSession()
    dataverse, client = directory(session)
    base = f"{API_PATH}/systemusers({SYSTEMUSER_ID})"
    session.add(
        client.url(f"{base}/systemuserroles_association", {"$select": ROLE_SELECT}),
        response(200, collection([role_row("Sales integration", ROLE_A, None)])),
    )
    session.add(
        client.url(f"{base}/teammembership_association", {"$select": "teamid,name"}),
        dataverse_error(404, "0x80040217", f"systemuser With Id = {SYSTEMUSER_ID} Does Not Exist"),  # type: ignore[arg-type]
    )

    with pytest.raises(NotObserved) as caught:
        dataverse.roles(SYSTEMUSER_ID)

    assert "service_error" == caught.value.cause
    assert "HTTP 404 0x80040217" in caught.value.reason
    assert "teammembership_association" in caught.value.reason


def test_roles_direct_and_through_teams() -> None:
    """Roles come from the user and from each of its teams, the team named on the grant."""
    session = FakeSession()
    dataverse, client = directory(session)
    base = f"{API_PATH}/systemusers({SYSTEMUSER_ID})"
    session.add(
        client.url(f"{base}/systemuserroles_association", {"$select": ROLE_SELECT}),
        response(200, collection([role_row("Sales integration", ROLE_A, None)])),
    )
    session.add(
        client.url(f"{base}/teammembership_association", {"$select": "teamid,name"}),
        response(200, collection([{"teamid": TEAM_ID, "name": "Integrators"}])),
    )
    session.add(
        client.url(f"{API_PATH}/teams({TEAM_ID})/teamroles_association", {"$select": ROLE_SELECT}),
        response(
            200,
            collection([role_row("System Administrator", ROLE_B, SYSTEM_ADMINISTRATOR_TEMPLATE)]),
        ),
    )

    roles = dataverse.roles(SYSTEMUSER_ID)

    assert (
        RoleGrant("Sales integration", ROLE_A, None, None),
        RoleGrant(
            "System Administrator", ROLE_B, SYSTEM_ADMINISTRATOR_TEMPLATE.lower(), "Integrators"
        ),
    ) == roles.roles
    assert [False, True] == [grant.is_system_administrator for grant in roles.roles]


def test_renamed_system_administrator_is_found_by_template() -> None:
    """A role renamed in one business unit is still System Administrator by its template."""
    grant = RoleGrant("Administrateur système", ROLE_A, SYSTEM_ADMINISTRATOR_TEMPLATE.lower())
    custom = RoleGrant("System Administrator (copy)", ROLE_B, None)

    assert grant.is_system_administrator
    assert not custom.is_system_administrator


def test_non_interactive_users_are_counted_across_pages_without_application_users() -> None:
    """accessmode 4 rows are counted over every page; application users (also mode 4) are not;
    disabled ones are counted and reported."""
    session = FakeSession()
    dataverse, client = directory(session)
    first = client.url(
        f"{API_PATH}/systemusers",
        {"$select": "systemuserid,applicationid,isdisabled", "$filter": "accessmode eq 4"},
    )
    second = f"{DATAVERSE}/{API_PATH}/systemusers?$skiptoken=2"
    rows = [
        {
            "systemuserid": f"{n:08d}-0000-4000-8000-000000000000",
            "applicationid": None,
            "isdisabled": False,
        }
        for n in range(5)
    ]
    app_user = {"systemuserid": "x", "applicationid": APP_ID, "isdisabled": False}
    disabled = {"systemuserid": "y", "applicationid": None, "isdisabled": True}
    session.add(first, response(200, collection([*rows[:3], app_user], second)))
    session.add(second, response(200, collection([*rows[3:], disabled])))

    counted = dataverse.noninteractive_users()

    assert (6, 1) == (counted.count, counted.disabled)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "0x80072560",
            "The user is not a member of the organization.",
            "the observer is not a user of environment prod: add it as an application user with "
            "a read-only security role",
        ),
        (
            "0x80040220",
            "Principal user (Id=...), is missing prvReadUser privilege",
            "the observer lacks a read privilege in environment prod (0x80040220): Principal "
            "user (Id=...), is missing prvReadUser privilege",
        ),
        (
            "0x80040225",
            "The user with SystemUserId=x is disabled.",
            "the observer's application user is disabled in environment prod",
        ),
        (
            "0x80042F09",
            "The user (Id = x) has not been assigned any roles.",
            "the observer holds no security role in environment prod: give its application user "
            "a read-only role (Read on User, Security Role and Team)",
        ),
        (
            "0x8004A113",
            "User does not have required privileges (or role membership) to access the org when "
            "it is in Admin Only mode.",
            "environment prod is in administration mode (planned maintenance): the observer "
            "cannot read it until it ends",
        ),
    ],
    ids=["not-a-member", "privilege", "disabled", "no-role", "administration-mode"],
)
def test_observer_403_explains_itself(code: str, message: str, expected: str) -> None:
    """The observer's own 403 answers are "not observed" with what to do about them."""
    session = FakeSession()
    dataverse, client = directory(session)
    session.add(
        systemusers_url(client, f"applicationid eq {APP_ID}"),
        dataverse_error(403, code, message),  # type: ignore[arg-type]
    )

    with pytest.raises(NotObserved) as caught:
        dataverse.systemuser_for_application(APP_ID)

    assert ("permission", expected) == (caught.value.cause, caught.value.reason)
