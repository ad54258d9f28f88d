"""Discovery against the simulator (real TLS, real msal): configured, unconfigured and observer
identities told apart, roles through teams, credentials and successors, a Graph 403 on
applications, paging and 429 over a large generated tenant, and bad answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.posture import (
    ALL_PERMISSIONS,
    APP,
    CERT_APP,
    ENVIRONMENT,
    FINANCE_USER,
    OBSERVER,
    write_config,
)

from monitor.directory.client import ReadPolicy
from monitor.model.discovery import DiscoveredIdentity, DiscoveryResult
from monitor.output.discovery import discovery_exit_code
from monitor.pipeline.discovery import Discovery
from monitor.simulator import Simulator
from monitor.simulator.scenario import add_scale, stable_id

NOW = datetime.now(UTC)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def discover(
    tmp_path: Path, sim: Simulator, sleeps: Sleeps | None = None, **options: object
) -> DiscoveryResult:
    config = write_config(
        tmp_path / "deploy",
        sim,
        identities=("sales-sync", "svc-sync"),
        **options,  # type: ignore[arg-type]
    )
    return Discovery(config, sleep=sleeps or Sleeps(), policy=ReadPolicy(max_pages=1000)).run(
        datetime.now(UTC)
    )


def by_key(result: DiscoveryResult) -> dict[str, DiscoveredIdentity]:
    return {identity.key: identity for identity in result.identities}


def test_configured_unconfigured_and_observer_identities_are_told_apart(
    tmp_path: Path, sim: Simulator
) -> None:
    """Every application user and non-interactive user is listed once, marked configured (with
    its name), the observer, or not configured; the System Administrator is flagged."""
    found = by_key(discover(tmp_path, sim))
    finance = next(i for i in found.values() if i.user_principal_name == FINANCE_USER)

    assert ("sales-sync", False) == (found[APP].configured_as, found[APP].observer)
    assert (None, True) == (found[OBSERVER].configured_as, found[OBSERVER].observer)
    assert (None, False) == (found[CERT_APP].configured_as, found[CERT_APP].observer)
    assert [(ENVIRONMENT, "System Administrator")] == [
        (env, role.name) for env, role in found[APP].privileged
    ]
    assert ("non-interactive user", True, True) == (
        finance.kind,
        finance.disabled,
        finance.account_enabled is False,
    )
    assert 1 == sum(1 for identity in found.values() if identity.key == APP)


def test_roles_through_a_team_are_listed_and_flagged(tmp_path: Path, sim: Simulator) -> None:
    """A System Customizer role held through a team is listed with the team and flagged."""
    sim.set_team(ENVIRONMENT, "Integrators", roles=["System Customizer"])
    sim.set_member(ENVIRONMENT, client_id=CERT_APP, teams=["Integrators"])

    erp = by_key(discover(tmp_path, sim))[CERT_APP]

    assert [("System Customizer", "Integrators")] == [
        (role.name, role.team) for _, role in erp.privileged
    ]


def test_every_secret_is_listed_with_its_end_and_successor(tmp_path: Path, sim: Simulator) -> None:
    """The unconfigured app's secrets are listed with their end dates; the one ending in 5
    days has a successor, and the nearest deadline says so."""
    soon = NOW + timedelta(days=5)
    later = NOW + timedelta(days=200)
    sim.add_secret(CERT_APP, "soon8Q~erp-secret-value-000000000000", soon, display_name="soon")
    sim.add_secret(CERT_APP, "late8Q~erp-secret-value-000000000000", later, display_name="later")

    erp = by_key(discover(tmp_path, sim))[CERT_APP]

    assert erp.credentials is not None
    assert [("soon", True), ("later", False)] == sorted(
        ((c.credential.display_name, c.has_successor) for c in erp.credentials),
        key=lambda pair: pair[0] != "soon",
    )
    assert erp.nearest is not None
    assert (soon.date(), "client secret 'soon' expires (successor registered)") == (
        erp.nearest.at.date(),
        erp.nearest.what,
    )


def test_a_graph_403_on_applications_leaves_the_dataverse_side_listed(
    tmp_path: Path, sim: Simulator
) -> None:
    """Without Application.Read.All the app facts are "not observed" naming the permission;
    the application users, their environments and roles are still listed."""
    sim.set_application(
        OBSERVER, graph_permissions=[p for p in ALL_PERMISSIONS if p != "Application.Read.All"]
    )

    result = discover(tmp_path, sim)
    erp = by_key(result)[CERT_APP]

    assert (None, None, (ENVIRONMENT,)) == (
        erp.credentials,
        erp.service_principal_enabled,
        erp.environment_names,
    )
    assert all("Application.Read.All" in line for line in erp.not_observed), erp.not_observed
    assert 2 == len(erp.not_observed)
    assert 1 == discovery_exit_code(result)


def test_a_large_tenant_is_paged_and_throttling_is_waited_out(
    tmp_path: Path, sim: Simulator
) -> None:
    """A generated tenant of 120 application users (150 app registrations, 200 other users) is
    read in pages, through a 429 from Dataverse and one from Graph, and listed whole."""
    add_scale(sim.scenario, ENVIRONMENT, app_users=120, app_registrations=150, other_users=200)
    with sim.scenario.lock:
        sim.scenario.dataverse_page_size = 25
        sim.scenario.graph_page_size = 40
    sim.set_fault("dataverse", "throttle_429", retry_after=2, count=1)
    sim.set_fault("graph", "throttle_429", retry_after=3, count=1)
    sleeps = Sleeps()

    result = discover(tmp_path, sim, sleeps)
    scale = [i for i in result.identities if i.display_name.startswith("Scale app")]

    assert (120, [2.0, 3.0]) == (len(scale), sleeps.calls)
    assert [] == [i.key for i in scale if i.not_observed or i.credentials is None]
    assert 12 == sum(1 for i in scale if i.privileged)
    first = stable_id("scale-app", ENVIRONMENT, "1")
    assert (("prod",), 1) == (
        by_key(result)[first].environment_names,
        len(by_key(result)[first].credentials or ()),
    )


def test_a_throttled_batch_beyond_the_wait_leaves_only_its_facts_not_observed(
    tmp_path: Path, sim: Simulator
) -> None:
    """Graph's batch of owners answers 429 with a Retry-After beyond what the read waits for:
    the owners are "not observed: throttled", everything read before stays."""
    sim.set_fault("graph", "throttle_429", retry_after=3600, path=r"^\$batch")

    erp = by_key(discover(tmp_path, sim))[CERT_APP]

    assert (None, True) == (erp.owners, erp.credentials is not None)
    assert ["owners"] == [line.split(":", 1)[0] for line in erp.not_observed]
    assert "throttled" in erp.not_observed[0]


def test_an_unreadable_environment_is_not_observed_and_nothing_raises(
    tmp_path: Path, sim: Simulator
) -> None:
    """A malformed Dataverse answer makes the environment "not observed"; nothing is listed
    and the exit code is UNKNOWN (3)."""
    sim.set_fault("dataverse", "malformed_json")

    result = discover(tmp_path, sim)

    assert ((), 3) == (result.identities, discovery_exit_code(result))
    assert ["environment prod not observed"] == [
        problem.split(":", 1)[0] for tenant in result.tenants for problem in tenant.problems
    ]


def test_a_tenant_without_observer_is_not_observed(tmp_path: Path, sim: Simulator) -> None:
    """Without an observer nothing is read and the tenant says why."""
    result = discover(tmp_path, sim, observer=False)

    assert 0 == sim.request_count()
    assert ["not observed: no observer is configured for tenant posture"] == [
        problem.split(" (", 1)[0] for tenant in result.tenants for problem in tenant.problems
    ]


def test_requests_throttled_inside_a_batch_are_sent_again_after_their_retry_after(
    tmp_path: Path, sim: Simulator
) -> None:
    """Graph answers 429 to the owners requests inside a batch (not to the batch): they are
    sent again in a later batch after their Retry-After, and the owners are listed."""
    with sim.scenario.lock:
        sim.scenario.application(CERT_APP).owners.append(FINANCE_USER)
    sim.set_fault("graph", "throttle_429", retry_after=2, path=r"/owners", count=2)
    sleeps = Sleeps()

    erp = by_key(discover(tmp_path, sim, sleeps))[CERT_APP]

    assert ([2.0], (FINANCE_USER,), ()) == (sleeps.calls, erp.owners, erp.not_observed)


def test_an_environment_refusing_the_expanded_query_is_listed_with_roles_read_per_user(
    tmp_path: Path, sim: Simulator
) -> None:
    """Dataverse answering 400 to the query with roles and teams expanded: the users are
    listed without it and each one's roles read on their own (teams included)."""
    sim.set_team(ENVIRONMENT, "Integrators", roles=["System Customizer"])
    sim.set_member(ENVIRONMENT, client_id=CERT_APP, teams=["Integrators"])
    sim.set_fault("dataverse", "http_400", path=r"expand", count=1)

    result = discover(tmp_path, sim)
    found = by_key(result)

    assert ([], ()) == ([p for t in result.tenants for p in t.problems], found[APP].not_observed)
    assert [(ENVIRONMENT, "System Administrator", None)] == [
        (env, role.name, role.team) for env, role in found[APP].privileged
    ]
    assert [("System Customizer", "Integrators")] == [
        (role.name, role.team) for _, role in found[CERT_APP].privileged
    ]
