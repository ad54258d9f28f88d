"""Where licence facts come from: the configuration, or the directory reads (posture).

:func:`configured_facts` reads what the configuration declares, :func:`posture_facts` what the
directory reads observed, and :func:`directory_facts` merges them (an observed fact wins, except
an operator's pool licence count): ``docs/usage.md``, "Licence facts".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.config.model import Config
from monitor.model.entitlements import EntitlementTable
from monitor.model.licensing import is_paid
from monitor.model.observations import (
    Observation,
    ServicePrincipal,
    SubscribedSku,
    SystemUser,
    UserAccount,
    UserLicences,
)
from monitor.usage.allocation import LicenceFacts
from monitor.usage.matching import ObservedObjectId

if TYPE_CHECKING:
    from monitor.store import Store

CONFIGURED = "configuration"
OBSERVED = "directory reads (Graph)"


@dataclass(frozen=True)
class DynamicsLicences:
    """How many Dynamics 365 Enterprise / Professional licences a tenant has, and who says so."""

    count: int
    source: str


@dataclass(frozen=True)
class DirectoryFacts:
    """Licences per identity, observed object ids, and Dynamics licences per tenant."""

    licences: Mapping[str, LicenceFacts] = field(default_factory=dict)
    object_ids: tuple[ObservedObjectId, ...] = ()
    dynamics_licences: Mapping[str, DynamicsLicences] = field(default_factory=dict)
    # identity -> why it draws from the tenant pool whatever its licences (its access mode)
    pool_members: Mapping[str, str] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """Return the distinct sources of the licence facts, for people."""
        return tuple(sorted({facts.source for facts in self.licences.values()}))


def configured_facts(config: Config) -> DirectoryFacts:
    """Return the licence facts the configuration declares."""
    licences = {
        identity.name: LicenceFacts(
            identity.name,
            identity.licences,
            f"{CONFIGURED} (identities.{identity.name}.licences)",
        )
        for identity in config.identities.values()
        if identity.licences is not None
    }
    dynamics = {
        tenant: DynamicsLicences(
            settings.dynamics_licences,
            f"{CONFIGURED} (usage.tenants.{tenant}.dynamics_licences)",
        )
        for tenant, settings in config.usage.tenants.items()
        if settings.dynamics_licences is not None
    }
    return DirectoryFacts(licences=licences, dynamics_licences=dynamics)


def posture_facts(observations: Iterable[Observation], table: EntitlementTable) -> DirectoryFacts:
    """Given the posture store's current observations, return the licence facts they hold.

    Observations that were not observed (``fact`` None) are ignored: "not observed" is not "no
    licence". A licence whose SKU list was not read is named by its SKU id (it then grants
    nothing the table knows, and the allocation says so).
    """
    licences: dict[str, LicenceFacts] = {}
    object_ids: list[ObservedObjectId] = []
    dynamics: dict[str, int] = {}
    modes: dict[str, set[int]] = {}
    for observation in observations:
        fact = observation.fact
        identity = observation.identity
        if isinstance(fact, UserLicences) and identity:
            licences[identity] = LicenceFacts(
                identity,
                tuple(licence.name for licence in fact.licences),
                f"{OBSERVED}, licenseDetails",
                observation.observed_at,
            )
        elif isinstance(fact, UserAccount | ServicePrincipal) and identity and fact.object_id:
            object_ids.append(ObservedObjectId(identity, fact.object_id.lower(), OBSERVED))
        elif isinstance(fact, SubscribedSku):
            entitlement = table.lookup(fact.part_number)
            if (
                entitlement is not None
                and entitlement.dynamics_usl
                and entitlement.kind != "attach"
                and is_paid(fact.part_number)
            ):
                tenant = observation.tenant
                dynamics[tenant] = dynamics.get(tenant, 0) + fact.enabled
        elif (
            isinstance(fact, SystemUser)
            and identity
            and fact.found
            and not fact.application_id
            and fact.access_mode is not None
        ):
            modes.setdefault(identity, set()).add(fact.access_mode)
    return DirectoryFacts(
        licences=licences,
        object_ids=tuple(object_ids),
        dynamics_licences={
            tenant: DynamicsLicences(
                count, f"{OBSERVED}, subscribedSkus purchased units of paid licences"
            )
            for tenant, count in dynamics.items()
        },
        pool_members={
            identity: _POOL_REASONS[min(found, key=lambda mode: _POOL_ORDER.index(mode))]
            for identity, found in modes.items()
            if found and found <= set(_POOL_REASONS)
        },
    )


# Access modes whose users need no licence and draw from the tenant pool ("Requests limits and
# allocations"; docs/platform.md).
_POOL_REASONS = {
    1: "administrative access mode (accessmode 1): needs no licence, draws from the tenant's "
    "non-licensed pool",
    4: "non-interactive access mode (accessmode 4): draws from the tenant's non-licensed pool",
}
_POOL_ORDER = (1, 4)


def merge(declared: DirectoryFacts, observed: DirectoryFacts) -> DirectoryFacts:
    """Return *observed* licences and object ids over *declared* ones, and *declared* licence
    counts over *observed* ones."""
    return DirectoryFacts(
        licences={**declared.licences, **observed.licences},
        object_ids=declared.object_ids + observed.object_ids,
        dynamics_licences={**observed.dynamics_licences, **declared.dynamics_licences},
        pool_members={**declared.pool_members, **observed.pool_members},
    )


def directory_facts(config: Config, reader: Store, table: EntitlementTable) -> DirectoryFacts:
    """Return the licence facts for *config*: observed ones from the posture store where it
    has them, declared ones from the configuration otherwise."""

    declared = configured_facts(config)
    observations = reader.posture.current()
    if not observations:
        return declared
    return merge(declared, posture_facts(observations, table))
