"""The simulator's Dataverse metadata reads: systemusers ($filter, $select, paging), roles
directly and through teams, and the caller's membership and privilege checks."""

from __future__ import annotations

import requests

from monitor.simulator import Simulator
from monitor.simulator.scenario import SYSTEM_ADMINISTRATOR_TEMPLATE

from .helpers import (
    CERTIFICATE_APP,
    GOOD_SECRET,
    OUTSIDER_APP,
    PROD,
    SECRET_APP,
    USER,
    confidential_app,
    default_scope,
)

API = "/api/data/v9.2"


def token(sim: Simulator, session: requests.Session, client_id: str = SECRET_APP) -> str:
    result = confidential_app(sim, session, client_id, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim, PROD)]
    )
    value: str = result["access_token"]
    return value


def get(
    sim: Simulator,
    session: requests.Session,
    path: str,
    bearer: str,
    *,
    page_size: int | None = None,
    **params: str,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    if page_size is not None:
        headers["Prefer"] = f"odata.maxpagesize={page_size}"
    return session.get(
        sim.environment_url(PROD) + API + "/" + path, params=params, headers=headers, timeout=5
    )


def reader(sim: Simulator, session: requests.Session) -> str:
    """A token of SECRET_APP, given a read role in PROD."""
    sim.set_member(PROD, client_id=SECRET_APP, roles=["Monitor reader"])
    return token(sim, session)


def test_systemuser_by_application_id(sim: Simulator, session: requests.Session) -> None:
    """An application user's row has its applicationid, access mode 4 and isdisabled."""
    bearer = reader(sim, session)
    member = sim.scenario.environment(PROD).member_for_app(CERTIFICATE_APP)
    assert member is not None

    rows = get(
        sim,
        session,
        "systemusers",
        bearer,
        **{
            "$filter": f"applicationid eq {CERTIFICATE_APP}",
            "$select": "systemuserid,accessmode,isdisabled,applicationid",
        },
    ).json()["value"]

    assert [
        {
            "@odata.etag": 'W/"1"',
            "systemuserid": member.user_id,
            "accessmode": 4,
            "isdisabled": False,
            "applicationid": CERTIFICATE_APP,
        }
    ] == rows


def test_systemuser_by_domain_name_and_licence(sim: Simulator, session: requests.Session) -> None:
    """A user is found by domainname (case-insensitive); islicensed follows its licences."""
    sim.set_sku("contoso", "DYN365_ENTERPRISE_SALES", enabled=1)
    sim.set_user(USER, licences=["DYN365_ENTERPRISE_SALES"])
    bearer = reader(sim, session)

    (row,) = get(
        sim, session, "systemusers", bearer, **{"$filter": f"domainname eq '{USER.upper()}'"}
    ).json()["value"]
    sim.set_user(USER, licences=[])
    (after,) = get(
        sim, session, "systemusers", bearer, **{"$filter": f"domainname eq '{USER}'"}
    ).json()["value"]

    assert (0, True, None) == (row["accessmode"], row["islicensed"], row["applicationid"])
    assert after["islicensed"] is False


def test_non_interactive_users_page(sim: Simulator, session: requests.Session) -> None:
    """accessmode eq 4 lists application users and the extra non-interactive users, paged by
    Prefer: odata.maxpagesize with an absolute nextLink."""
    sim.set_environment(PROD, other_noninteractive_users=3)
    bearer = reader(sim, session)
    params = {"$filter": "accessmode eq 4", "$select": "systemuserid,applicationid"}

    first = get(sim, session, "systemusers", bearer, page_size=2, **params)
    rows = first.json()["value"]
    link = first.json()["@odata.nextLink"]
    while link:
        page = session.get(
            link,
            headers={"Authorization": f"Bearer {bearer}", "Prefer": "odata.maxpagesize=2"},
            timeout=5,
        ).json()
        rows += page["value"]
        link = page.get("@odata.nextLink")

    humans = [row for row in rows if row["applicationid"] is None]
    assert "odata.maxpagesize=2" == first.headers["Preference-Applied"]
    assert 3 == len(humans)
    assert len(rows) > 3


def test_roles_directly_and_through_a_team(sim: Simulator, session: requests.Session) -> None:
    """systemuserroles_association lists direct roles; teammembership_association the teams,
    whose teamroles_association lists theirs (built-in roles carry their template id)."""
    sim.set_team(PROD, "Integrators", roles=["System Administrator"])
    sim.set_member(
        PROD, client_id=CERTIFICATE_APP, roles=["ERP integration"], teams=["Integrators"]
    )
    bearer = reader(sim, session)
    member = sim.scenario.environment(PROD).member_for_app(CERTIFICATE_APP)
    assert member is not None
    base = f"systemusers({member.user_id})"

    direct = get(
        sim,
        session,
        f"{base}/systemuserroles_association",
        bearer,
        **{"$select": "name,roleid,_roletemplateid_value"},
    ).json()["value"]
    teams = get(sim, session, f"{base}/teammembership_association", bearer).json()["value"]
    team_roles = get(
        sim, session, f"teams({teams[0]['teamid']})/teamroles_association", bearer
    ).json()["value"]

    assert [("ERP integration", None)] == [(r["name"], r["_roletemplateid_value"]) for r in direct]
    assert ["Integrators"] == [t["name"] for t in teams]
    assert [("System Administrator", SYSTEM_ADMINISTRATOR_TEMPLATE)] == [
        (r["name"], r["_roletemplateid_value"]) for r in team_roles
    ]


def test_caller_without_a_role_is_refused(sim: Simulator, session: requests.Session) -> None:
    """A member with no security role, directly or through a team, gets Dataverse's 403
    0x80042F09 UserNotAssignedRoles naming its systemuserid."""
    sim.set_member(PROD, client_id=SECRET_APP, roles=[], teams=[])
    member = sim.scenario.environment(PROD).member_for_app(SECRET_APP)
    assert member is not None

    answer = get(sim, session, "systemusers", token(sim, session))

    assert (403, "0x80042F09") == (answer.status_code, answer.json()["error"]["code"])
    assert (
        f"The user (Id = {member.user_id}) has not been assigned any roles."
        == answer.json()["error"]["message"]
    )


def test_caller_whose_role_lacks_a_privilege_is_refused(
    sim: Simulator, session: requests.Session
) -> None:
    """A member whose roles lack a privilege gets 403 0x80040220 naming the prv... privilege."""
    sim.set_member(PROD, client_id=SECRET_APP, missing_privilege="prvReadUser")

    answer = get(sim, session, "systemusers", token(sim, session))

    assert (403, "0x80040220") == (answer.status_code, answer.json()["error"]["code"])
    assert "is missing prvReadUser privilege" in answer.json()["error"]["message"]


def test_caller_not_in_the_environment(sim: Simulator, session: requests.Session) -> None:
    """An app that is not a member gets 403 0x80072560, like WhoAmI."""
    answer = get(sim, session, "systemusers", token(sim, session, OUTSIDER_APP))

    assert (403, "0x80072560") == (answer.status_code, answer.json()["error"]["code"])


def test_unknown_ids_and_bad_queries(sim: Simulator, session: requests.Session) -> None:
    """An unknown systemuser is 404 0x80040217; an unknown $select property is 400."""
    bearer = reader(sim, session)

    unknown = get(
        sim,
        session,
        "systemusers(00000000-0000-4000-8000-000000000000)/systemuserroles_association",
        bearer,
    )
    bad = get(sim, session, "systemusers", bearer, **{"$select": "nope"})

    assert (404, "0x80040217") == (unknown.status_code, unknown.json()["error"]["code"])
    assert (400, "0x80060888") == (bad.status_code, bad.json()["error"]["code"])


def test_metadata_reads_count_and_fault_as_dataverse(
    sim: Simulator, session: requests.Session
) -> None:
    """Metadata reads are the dataverse family: counted per client and subject to its faults."""
    bearer = reader(sim, session)
    sim.set_fault("dataverse", "throttle_429", retry_after=3, count=1)

    throttled = get(sim, session, "systemusers", bearer)
    answered = get(sim, session, "systemusers", bearer)

    assert (429, "3", 200) == (
        throttled.status_code,
        throttled.headers["Retry-After"],
        answered.status_code,
    )
    assert 2 == sim.request_count("dataverse", client_id=SECRET_APP, environment=PROD)


def test_a_fault_can_target_one_path(sim: Simulator, session: requests.Session) -> None:
    """A fault with a path answers only the matching read: the navigation 404 the documented
    Dataverse way (0x80040217 naming the systemuser), the collection read untouched."""
    bearer = reader(sim, session)
    user_id = sim.scenario.environment(PROD).member_for_app(SECRET_APP).user_id  # type: ignore[union-attr]
    sim.set_fault("dataverse", "http_404", path="/teammembership_association")

    teams = get(sim, session, f"systemusers({user_id})/teammembership_association", bearer)
    users = get(sim, session, "systemusers", bearer)

    assert (404, "0x80040217") == (teams.status_code, teams.json()["error"]["code"])
    assert f"systemuser With Id = {user_id} Does Not Exist" == teams.json()["error"]["message"]
    assert 200 == users.status_code


def test_rewriting_faults_change_the_real_answer(sim: Simulator, session: requests.Session) -> None:
    """missing_field drops a column from every row, unknown_enum replaces one, truncated cuts
    the body, foreign_next_link adds a nextLink to another host; the rest is the real answer."""
    bearer = reader(sim, session)
    select = {"$select": "systemuserid,accessmode,isdisabled"}

    sim.set_fault("dataverse", "missing_field", field="isdisabled", count=1)
    missing = get(sim, session, "systemusers", bearer, **select).json()["value"]
    sim.set_fault("dataverse", "unknown_enum", field="accessmode", value=99, count=1)
    unknown = get(sim, session, "systemusers", bearer, **select).json()["value"]
    sim.set_fault("dataverse", "truncated", count=1)
    truncated = get(sim, session, "systemusers", bearer, **select)
    sim.set_fault("dataverse", "foreign_next_link", count=1)
    linked = get(sim, session, "systemusers", bearer, **select).json()

    assert missing
    assert all("isdisabled" not in row and "systemuserid" in row for row in missing)
    assert unknown
    assert {99} == {row["accessmode"] for row in unknown}
    assert 200 == truncated.status_code
    assert not truncated.text.rstrip().endswith("}")
    assert linked["@odata.nextLink"].startswith("https://elsewhere.example/")
    assert linked["value"]
