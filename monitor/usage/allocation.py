"""The 24-hour Power Platform request allocation of an identity, and of a tenant's pool.

Pure functions of facts; every result says where its number came from (:class:`Allocation`
``basis``, ``source`` and one :class:`AllocationLine` per contribution), because an operator
who sees "82% of 46,000" must be able to check the 46,000. Which allocation applies to which
identity: ``docs/usage.md``, "Allocations" and "The tenant pool".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from monitor.model.entitlements import (
    POOL_BASE,
    POOL_CAP,
    POOL_OTHER_PRODUCTS,
    POOL_PER_DYNAMICS_LICENCE,
    EntitlementTable,
    normalise_sku,
)

Basis = Literal["licences", "tenant_pool", "report", "configured", "unknown"]


@dataclass(frozen=True)
class LicenceFacts:
    """The licences (SKU part numbers) assigned to one identity, and who said so.

    ``source`` is shown to people: ``"configuration (identities.NAME.licences)"`` or
    ``"Graph licenseDetails"``; ``observed_at`` is when a directory read saw them (None for the
    configuration).
    """

    identity: str
    skus: tuple[str, ...]
    source: str
    observed_at: datetime | None = None


@dataclass(frozen=True)
class ReportedEntitlement:
    """An entitlement as a Power Platform admin center report states it for one day."""

    requests: int
    day: date
    report: str  # "licensed" or "non_licensed"


@dataclass(frozen=True)
class AllocationLine:
    """One contribution to an allocation: a licence, the pool base, the cap, an override."""

    label: str
    requests: int
    source: str


@dataclass(frozen=True)
class Allocation:
    """Requests per 24 hours, with its basis, where it came from, and how it adds up.

    ``requests`` is None when the allocation is unknown. For an identity on the tenant pool,
    ``requests`` is None and ``basis`` is ``"tenant_pool"``: the pool is judged as a whole.
    """

    requests: int | None
    basis: Basis
    source: str
    lines: tuple[AllocationLine, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def known(self) -> bool:
        return self.requests is not None


def identity_allocation(
    kind: str,
    facts: LicenceFacts | None,
    table: EntitlementTable,
    reported: ReportedEntitlement | None = None,
    *,
    pool_reason: str | None = None,
) -> Allocation:
    """Given an identity's kind ("application" or "user"), its licence facts (None: unknown),
    the entitlement table, the newest reported entitlement and why a user draws from the tenant
    pool regardless of licences (its access mode; None: it does not), return its allocation."""
    if kind == "application":
        return Allocation(
            None,
            "tenant_pool",
            "application users draw from the tenant's non-licensed pool",
        )
    if pool_reason is not None:
        return Allocation(None, "tenant_pool", pool_reason)
    cross_check: tuple[str, ...] = ()
    if reported is not None:
        cross_check = (
            f"the Power Platform admin center report of {reported.day.isoformat()} states "
            f"{reported.requests:,} requests",
        )
    if facts is None:
        if reported is not None:
            return Allocation(
                reported.requests,
                "report",
                f"'Entitled quantity' of the licensed-user report of {reported.day.isoformat()}",
                (AllocationLine("reported entitlement", reported.requests, "PPAC report"),),
                notes=(
                    "licences unknown: declare identities.NAME.licences or let the directory "
                    "reads observe them (the report shows 0 for Power Apps per-app licences)",
                ),
            )
        return Allocation(
            None,
            "unknown",
            "no licences known and no report imported",
            notes=(
                "declare identities.NAME.licences, or import a Power Platform admin center "
                "licensed-user report",
            ),
        )
    lines: list[AllocationLine] = []
    seen: set[str] = set()
    unknown: list[str] = []
    for raw in facts.skus:
        sku = normalise_sku(raw)
        if sku in seen:
            continue
        seen.add(sku)
        entitlement = table.lookup(sku)
        if entitlement is None:
            unknown.append(sku)
            lines.append(
                AllocationLine(
                    sku,
                    0,
                    "no Power Platform request entitlement known for this SKU (add it to "
                    "[usage.entitlements] if it grants one)",
                )
            )
            continue
        label = f"{entitlement.name} ({sku})" if entitlement.name != sku else sku
        source = entitlement.source
        requests = entitlement.requests
        if entitlement.kind == "attach" and not entitlement.overridden:
            source = "attach licence: only the base licence's limit applies"
        elif entitlement.kind == "capacity" and not entitlement.overridden:
            requests = 0
            source = "capacity of the flows or agents it licenses, not a user's allocation"
        lines.append(AllocationLine(label, requests, source))
    total = sum(line.requests for line in lines)
    if seen and len(unknown) == len(seen):
        return Allocation(
            None,
            "unknown",
            f"none of its licences ({', '.join(unknown)}) is in the entitlement table "
            f"({facts.source})",
            tuple(lines),
            notes=(
                "add the SKUs to [usage.entitlements] with the requests they grant",
                *cross_check,
            ),
        )
    if total == 0:
        return Allocation(
            None,
            "tenant_pool",
            f"no licence with a request entitlement ({facts.source}): a non-interactive user "
            "draws from the tenant's non-licensed pool",
            tuple(lines),
            notes=cross_check,
        )
    return Allocation(
        total,
        "licences",
        f"sum of the entitlements of its licences ({facts.source})",
        tuple(lines),
        notes=cross_check,
    )


def pool_allocation(
    *,
    configured_size: int | None = None,
    reported: ReportedEntitlement | None = None,
    dynamics_licences: int | None = None,
    dynamics_licences_source: str = "configuration",
) -> Allocation:
    """Return the tenant's non-licensed pool per 24 hours.

    *configured_size* (``usage.tenants.NAME.pool_size``) wins; then the entitlement the newest
    non-licensed report states; then the pool rule (docs/platform.md, "Power Platform
    requests") from *dynamics_licences*, the purchased paid Dynamics 365 Enterprise /
    Professional licences (0 meaning a Power Apps / Power Automate-only tenant). Otherwise the
    pool is unknown.
    """
    if configured_size is not None:
        return Allocation(
            configured_size,
            "configured",
            "usage.tenants.NAME.pool_size in the configuration",
            (AllocationLine("configured pool size", configured_size, "configuration"),),
        )
    if reported is not None:
        return Allocation(
            reported.requests,
            "report",
            "'Power platform request entitlement for this tenant' of the non-licensed report "
            f"of {reported.day.isoformat()}",
            (AllocationLine("reported pool entitlement", reported.requests, "PPAC report"),),
        )
    if dynamics_licences is None:
        return Allocation(
            None,
            "unknown",
            "pool size unknown",
            notes=(
                "import a Power Platform admin center non-licensed report, or set "
                "usage.tenants.NAME.dynamics_licences or pool_size",
            ),
        )
    if dynamics_licences == 0:
        return Allocation(
            POOL_OTHER_PRODUCTS,
            "tenant_pool",
            f"Power Apps / Power Automate tenant without Dynamics 365 licences "
            f"({dynamics_licences_source})",
            (AllocationLine("base (Power Apps / Power Automate)", POOL_OTHER_PRODUCTS, "default"),),
        )
    accrued = POOL_PER_DYNAMICS_LICENCE * dynamics_licences
    lines: list[AllocationLine] = [
        AllocationLine("base (Dynamics 365)", POOL_BASE, "default"),
        AllocationLine(
            f"{dynamics_licences:,} Dynamics 365 Enterprise / Professional licences x "
            f"{POOL_PER_DYNAMICS_LICENCE:,}",
            accrued,
            dynamics_licences_source,
        ),
    ]
    total = POOL_BASE + accrued
    if total > POOL_CAP:
        lines.append(AllocationLine("capped at", POOL_CAP - total, "default maximum"))
        total = POOL_CAP
    return Allocation(
        total,
        "tenant_pool",
        "500,000 + 5,000 per Dynamics 365 Enterprise / Professional licence, at most 10,000,000",
        tuple(lines),
    )
