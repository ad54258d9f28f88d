"""Every bad answer at every read: the directory pass against the simulator over real HTTPS, with
one kind of unexpected answer injected at one Graph or Dataverse read at a time.

The table :data:`READS` lists every read the pass makes (a test checks that the pass makes
exactly these); each kind of bad answer (400, 404, 500, a truncated body, a missing property, an
item without its id, an unknown enumeration value, a nextLink to another host) is injected at
each read it applies to. Only the facts that needed that read may change ("not observed", or, for
a documented 404 of one object, "does not exist"); every other fact must be exactly what a clean
pass observed.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from support.posture import (
    APP,
    ENVIRONMENT,
    FINANCE_USER,
    OBSERVER,
    OUTSIDER,
    USER,
    posture_scenario,
    write_config,
)

from monitor.config import Config
from monitor.http import MonitorSession, build_session
from monitor.model.observations import Observation, fact_to_text
from monitor.pipeline.directory import DirectoryPass
from monitor.simulator import Simulator
from monitor.simulator.scenario import stable_id
from monitor.store import Store

Scope = tuple[str, str | None]  # (fact kind, identity); the environment is always prod
On404 = Literal["not_observed", "not_found", "elsewhere", "unchanged"]
IDENTITIES = ("sales-sync", "outsider", "svc-sync", "finance")


def _systemuser(key: str) -> str:
    return stable_id("systemuser", key)


SU_APP = _systemuser(f"app:{APP}")
SU_USER = _systemuser(f"user:{USER}")
SU_FINANCE = _systemuser(f"user:{FINANCE_USER}")
USER_OBJECT = stable_id("user", USER)
FINANCE_OBJECT = stable_id("user", FINANCE_USER)


@dataclass(frozen=True)
class Read:
    """One read of the directory pass: where it goes, which facts need it, what can break."""

    name: str
    family: Literal["graph", "dataverse"]
    path: str  # matched against ``resource?query`` (the simulator's fault path)
    needs: frozenset[Scope]  # facts that needed this read
    affects: frozenset[Scope] = frozenset()  # facts that may legitimately change too
    collection: bool = False
    has_items: bool = False  # the clean answer has items (item-level faults can show)
    id_field: str | None = None
    missing: str | None = None  # a property the facts need
    enum: tuple[str, str | int] | None = None  # (property, unknown value)
    on_404: On404 = "not_observed"
    extra: dict[str, Any] = field(default_factory=dict)


def _needs(*scopes: Scope) -> frozenset[Scope]:
    return frozenset(scopes)


READS: tuple[Read, ...] = (
    Read(
        "subscribedSkus",
        "graph",
        r"^subscribedSkus\?",
        _needs(("subscribed_sku", None)),
        affects=_needs(("user_licences", "svc-sync")),
        collection=True,
        has_items=True,
        id_field="skuId",
        missing="consumedUnits",
        enum=("capabilityStatus", "unknownFutureValue"),
    ),
    Read(
        "domains",
        "graph",
        r"^domains\?",
        _needs(("domain_policy", None)),
        collection=True,
        has_items=True,
        id_field="id",
        missing="passwordValidityPeriodInDays",
        enum=("authenticationType", "unknownFutureValue"),
    ),
    Read(
        "organization",
        "graph",
        r"^organization\?",
        _needs(("organization", None)),
        collection=True,
        has_items=True,
        id_field="id",
        missing="createdDateTime",
    ),
    Read(
        "application sales-sync",
        "graph",
        rf"^applications\(appId='{APP}'\)",
        _needs(("app_credentials", "sales-sync")),
        missing="passwordCredentials",
        on_404="elsewhere",
    ),
    Read(
        "service principal sales-sync",
        "graph",
        rf"^servicePrincipals\(appId='{APP}'\)",
        _needs(("service_principal", "sales-sync")),
        affects=_needs(("app_credentials", "sales-sync")),  # also read for its own credentials
        missing="accountEnabled",
        on_404="not_found",
    ),
    Read(
        "application outsider",
        "graph",
        rf"^applications\(appId='{OUTSIDER}'\)",
        _needs(("app_credentials", "outsider")),
        missing="keyCredentials",
        on_404="elsewhere",
    ),
    Read(
        "service principal outsider",
        "graph",
        rf"^servicePrincipals\(appId='{OUTSIDER}'\)",
        _needs(("service_principal", "outsider")),
        affects=_needs(("app_credentials", "outsider")),  # also read for its own credentials
        missing="accountEnabled",
        on_404="not_found",
    ),
    Read(
        "user svc-sync",
        "graph",
        rf"^users/{re.escape(USER)}\?",
        _needs(("user_account", "svc-sync"), ("user_licences", "svc-sync")),
        missing="accountEnabled",
        on_404="not_found",
    ),
    Read(
        "user finance",
        "graph",
        rf"^users/{re.escape(FINANCE_USER)}\?",
        _needs(("user_account", "finance"), ("user_licences", "finance")),
        missing="lastPasswordChangeDateTime",
        on_404="not_found",
    ),
    Read(
        "application observer",
        "graph",
        rf"^applications\(appId='{OBSERVER}'\)",
        _needs(("app_credentials", None)),
        missing="passwordCredentials",
        on_404="elsewhere",
    ),
    Read(
        "service principal observer",
        "graph",
        rf"^servicePrincipals\(appId='{OBSERVER}'\)",
        _needs(("app_credentials", None)),
        missing="keyCredentials",
        on_404="unchanged",  # no service principal: no credentials of its own, as before
    ),
    Read(
        "non-interactive users",
        "dataverse",
        r"^systemusers\?.*accessmode eq 4",
        _needs(("noninteractive_users", None)),
        collection=True,
        has_items=True,
        id_field="systemuserid",
        missing="isdisabled",
    ),
    Read(
        "systemuser sales-sync",
        "dataverse",
        rf"^systemusers\?.*applicationid eq {APP}",
        _needs(("systemuser", "sales-sync"), ("security_roles", "sales-sync")),
        collection=True,
        has_items=True,
        id_field="systemuserid",
        missing="isdisabled",
        enum=("accessmode", 99),
    ),
    Read(
        "systemuser outsider",
        "dataverse",
        rf"^systemusers\?.*applicationid eq {OUTSIDER}",
        _needs(("systemuser", "outsider")),
        collection=True,
    ),
    Read(
        "systemuser svc-sync",
        "dataverse",
        rf"^systemusers\?.*azureactivedirectoryobjectid eq {USER_OBJECT}",
        _needs(("systemuser", "svc-sync"), ("security_roles", "svc-sync")),
        collection=True,
        has_items=True,
        id_field="systemuserid",
        missing="accessmode",
        enum=("accessmode", "unknownFutureValue"),
    ),
    Read(
        "systemuser finance",
        "dataverse",
        rf"^systemusers\?.*azureactivedirectoryobjectid eq {FINANCE_OBJECT}",
        _needs(("systemuser", "finance"), ("security_roles", "finance")),
        collection=True,
        has_items=True,
        id_field="systemuserid",
        missing="applicationid",
        enum=("accessmode", 6),
    ),
    Read(
        "roles sales-sync",
        "dataverse",
        rf"^systemusers\({SU_APP}\)/systemuserroles_association",
        _needs(("security_roles", "sales-sync")),
        collection=True,
        has_items=True,
        id_field="roleid",
        missing="name",
    ),
    Read(
        "roles svc-sync",
        "dataverse",
        rf"^systemusers\({SU_USER}\)/systemuserroles_association",
        _needs(("security_roles", "svc-sync")),
        collection=True,
        has_items=True,
        id_field="roleid",
        missing="name",
    ),
    Read(
        "roles finance",
        "dataverse",
        rf"^systemusers\({SU_FINANCE}\)/systemuserroles_association",
        _needs(("security_roles", "finance")),
        collection=True,
        has_items=True,
        id_field="roleid",
        missing="name",
    ),
    Read(
        "teams sales-sync",
        "dataverse",
        rf"^systemusers\({SU_APP}\)/teammembership_association",
        _needs(("security_roles", "sales-sync")),
        collection=True,
        has_items=True,
        id_field="teamid",
    ),
    Read(
        "teams svc-sync",
        "dataverse",
        rf"^systemusers\({SU_USER}\)/teammembership_association",
        _needs(("security_roles", "svc-sync")),
        collection=True,
    ),
    Read(
        "teams finance",
        "dataverse",
        rf"^systemusers\({SU_FINANCE}\)/teammembership_association",
        _needs(("security_roles", "finance")),
        collection=True,
    ),
    Read(
        "team roles",
        "dataverse",
        r"^teams\([0-9a-f-]{36}\)/teamroles_association",
        _needs(("security_roles", "sales-sync")),
        collection=True,
        has_items=True,
        id_field="roleid",
        missing="name",
    ),
)


@dataclass(frozen=True)
class Bad:
    """One kind of bad answer: the fault that produces it and whether it applies to a read."""

    name: str
    mode: str

    def applies(self, read: Read) -> bool:
        if self.name == "missing_property":
            return read.missing is not None and (read.has_items or not read.collection)
        if self.name == "item_without_id":
            return read.id_field is not None and read.has_items
        if self.name == "unknown_enum":
            return read.enum is not None and (read.has_items or not read.collection)
        if self.name == "foreign_next_link":
            return read.collection
        return True

    def fault(self, read: Read) -> dict[str, Any]:
        settings: dict[str, Any] = {"path": read.path}
        if self.name == "missing_property":
            settings["field"] = read.missing
        elif self.name == "item_without_id":
            settings["field"] = read.id_field
        elif self.name == "unknown_enum":
            assert read.enum is not None
            settings["field"], settings["value"] = read.enum
        return settings

    def expected(self, read: Read) -> On404:
        return read.on_404 if self.name == "http_404" else "not_observed"


BAD_ANSWERS: tuple[Bad, ...] = (
    Bad("http_400", "http_400"),
    Bad("http_404", "http_404"),
    Bad("http_500", "http_500"),
    Bad("truncated", "truncated"),
    Bad("captive_portal", "html"),
    Bad("missing_property", "missing_field"),
    Bad("item_without_id", "missing_field"),
    Bad("unknown_enum", "unknown_enum"),
    Bad("foreign_next_link", "foreign_next_link"),
)

CASES = [
    pytest.param(read, bad, id=f"{read.name}-{bad.name}")
    for read in READS
    for bad in BAD_ANSWERS
    if bad.applies(read)
]


class RecordingSession:
    """The pass's real HTTP session, remembering every URL it was asked for."""

    def __init__(self, inner: MonitorSession, urls: list[str]) -> None:
        self.inner = inner
        self.urls = urls

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.urls.append(url)
        return self.inner.request(method, url, **kwargs)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Setting:
    sim: Simulator
    config: Config
    store: Store
    urls: list[str] = field(default_factory=list)

    def directory(self) -> DirectoryPass:
        def sessions(tenant: Any) -> MonitorSession:
            inner = build_session(self.config.network, authority_hosts=[tenant.authority_host])
            return RecordingSession(inner, self.urls)  # type: ignore[return-value]

        return DirectoryPass(self.config, self.store, sessions=sessions, sleep=lambda _: None)

    def read(self) -> list[Observation]:
        tenant = self.config.tenants["posture"]
        return self.directory().read_tenant(tenant, datetime.now(UTC))


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    """One simulator for the module (faults are cleared per case), with a team membership so
    that team roles are read too."""
    root: Path = tmp_path_factory.mktemp("faults")
    with Simulator(posture_scenario(), state_dir=root / "simulator") as sim:
        sim.set_team(ENVIRONMENT, "Integrators", roles=["Integration reader"])
        sim.set_member(ENVIRONMENT, client_id=APP, teams=["Integrators"])
        config = write_config(root / "deploy", sim, identities=IDENTITIES)
        with Store.open(root / "monitor.db") as store:
            yield Setting(sim, config, store)
        assert [] == sim.internal_errors


@pytest.fixture(scope="module")
def baseline(setting: Setting) -> list[Observation]:
    """What a clean pass observes: every fact observed."""
    setting.sim.clear_faults()
    observations = setting.read()
    assert all(o.observed for o in observations), [o.reason for o in observations if o.reason]
    return observations


def _text(observations: list[Observation], scope: Scope) -> list[str | None]:
    return sorted(
        fact_to_text(o.fact) or f"not observed: {o.reason}"
        for o in observations
        if (o.kind, o.identity) == scope
    )


def _resource(url: str) -> tuple[str, str] | None:
    """Return (family, resource?query) of a Graph or Dataverse URL, as the simulator sees it."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path)
    query = urllib.parse.unquote_plus(parts.query)
    for marker, family in (("/graph/v1.0/", "graph"), ("/api/data/v9.2/", "dataverse")):
        if marker in path:
            resource = path.split(marker, 1)[1]
            return family, f"{resource}?{query}" if query else resource
    return None


def test_the_table_lists_every_read_the_pass_makes(setting: Setting) -> None:
    """Each Graph / Dataverse request of a clean pass matches exactly one read of the table,
    and each read of the table is made: a new read cannot escape the fault test."""
    setting.sim.clear_faults()
    setting.urls.clear()
    setting.read()

    made = [found for url in setting.urls if (found := _resource(url)) is not None]
    matched = {
        resource: [r.name for r in READS if r.family == family and re.search(r.path, resource)]
        for family, resource in made
    }

    assert {} == {resource: names for resource, names in matched.items() if len(names) != 1}
    assert set() == {r.name for r in READS} - {n for names in matched.values() for n in names}


@pytest.mark.parametrize(("read", "bad"), CASES)
def test_a_bad_answer_changes_only_the_facts_that_needed_the_read(
    setting: Setting, baseline: list[Observation], read: Read, bad: Bad
) -> None:
    """The facts that needed the read are "not observed: <why>" (or "does not exist" for the
    service's documented 404 of one object); every other fact is exactly the clean pass's."""
    sim = setting.sim
    sim.clear_faults()
    sim.set_fault(read.family, bad.mode, **bad.fault(read))  # type: ignore[arg-type]
    clean = baseline

    observations = setting.read()
    sim.clear_faults()

    expected = bad.expected(read)
    for scope in read.needs:
        got = [o for o in observations if (o.kind, o.identity) == scope]
        assert got, f"{scope} was not reported at all"
        if expected == "not_observed":
            assert all(not o.observed and o.reason for o in got), [o.reason for o in got]
        elif expected == "elsewhere":
            assert [("elsewhere", False)] == [(o.cause, o.observed) for o in got]
        elif expected == "not_found":
            facts = [o.fact for o in got if o.fact is not None]
            if scope[0] in ("service_principal", "user_account"):
                assert [False] == [getattr(f, "found", None) for f in facts]
            else:
                assert facts == [] or _text(got, scope) == _text(clean, scope)
        else:
            assert _text(got, scope) == _text(clean, scope)
    untouched = {(o.kind, o.identity) for o in clean} - read.needs - read.affects
    for scope in sorted(untouched, key=str):
        assert _text(observations, scope) == _text(clean, scope), scope


def test_a_reader_bug_leaves_the_unread_facts_not_observed(
    setting: Setting, baseline: list[Observation], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no reader handled (a bug) ends that tenant's read: what was read before
    stays, every other fact is "not observed" naming the failure; nothing is raised."""
    from monitor.directory.graph import GraphDirectory

    def broken(self: GraphDirectory) -> list[object]:
        raise RuntimeError("a bug")

    setting.sim.clear_faults()
    monkeypatch.setattr(GraphDirectory, "domains", broken)

    observations = setting.read()

    by_kind = {o.kind: o for o in observations}
    assert _text(observations, ("subscribed_sku", None)) == _text(
        baseline, ("subscribed_sku", None)
    )
    assert not by_kind["domain_policy"].observed
    assert "internal error (RuntimeError)" in (by_kind["domain_policy"].reason or "")
    assert {(o.kind, o.identity) for o in baseline} <= {(o.kind, o.identity) for o in observations}
    assert all(o.observed for o in observations if o.kind == "subscribed_sku")
    assert not any(o.observed for o in observations if o.kind != "subscribed_sku")
