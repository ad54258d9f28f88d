"""Power Platform request (PPR) entitlements per licence, and the tenant pool.

Source: "Requests limits and allocations"
(https://learn.microsoft.com/power-platform/admin/api-request-limits-allocations; the figures
and their rules: ``docs/platform.md``, "Power Platform requests"). Licences are named by their
SKU part number; lookups ignore case. The table is a default that ``[usage.entitlements]``
overrides or extends (:class:`EntitlementTable`); how allocations are built from it:
``docs/usage.md``, "Allocations" and "The tenant pool".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class LicenceKind:
    """A row of the source's licensed-user table: how many requests one licence grants."""

    name: str
    requests: int  # per licence per 24 hours
    description: str


KINDS: Mapping[str, LicenceKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            LicenceKind(
                "premium",
                40_000,
                "Dynamics 365 Enterprise / Professional apps, Power Apps / Power Automate per "
                "user (Premium)",
            ),
            LicenceKind(
                "standard",
                6_000,
                "Power Apps per app / pay-as-you-go, Microsoft 365 with Power Platform access, "
                "Dynamics 365 Team Member, CRM Online Basic, Project Online",
            ),
            LicenceKind(
                "capacity",
                250_000,
                "Power Automate per flow / Process, Copilot Studio: capacity of the flows and "
                "agents it licenses, not a user's allocation",
            ),
            LicenceKind("portals_login", 200, "Power Apps Portals login"),
            LicenceKind(
                "attach",
                0,
                "Dynamics 365 attach licence: only the base licence's limit applies",
            ),
        )
    }
)


@dataclass(frozen=True)
class SkuEntitlement:
    """What one SKU grants: its kind's requests, and whether it accrues tenant pool requests."""

    sku: str  # upper case
    kind: str  # a key of KINDS
    name: str  # the product name people know
    dynamics_usl: bool = False  # a Dynamics 365 Enterprise / Professional licence (pool accrual)


def _skus(*entries: SkuEntitlement) -> Mapping[str, SkuEntitlement]:
    return MappingProxyType({entry.sku: entry for entry in entries})


def _d365(sku: str, name: str) -> SkuEntitlement:
    return SkuEntitlement(sku, "premium", name, dynamics_usl=True)


DEFAULT_SKUS: Mapping[str, SkuEntitlement] = _skus(
    # 40,000: Dynamics 365 Enterprise and Professional (also accrue the tenant pool)
    _d365("DYN365_ENTERPRISE_PLAN1", "Dynamics 365 Customer Engagement Plan"),
    _d365("DYN365_ENTERPRISE_SALES", "Dynamics 365 Sales Enterprise"),
    _d365("DYN365_ENTERPRISE_CUSTOMER_SERVICE", "Dynamics 365 Customer Service Enterprise"),
    _d365("DYN365_ENTERPRISE_FIELD_SERVICE", "Dynamics 365 Field Service"),
    _d365(
        "DYN365_ENTERPRISE_SALES_CUSTOMERSERVICE",
        "Dynamics 365 Sales and Customer Service Enterprise",
    ),
    _d365("D365_SALES_PRO", "Dynamics 365 Sales Professional"),
    _d365("DYN365_CUSTOMER_SERVICE_PRO", "Dynamics 365 Customer Service Professional"),
    _d365("DYN365_FINANCE", "Dynamics 365 Finance"),
    _d365("DYN365_SCM", "Dynamics 365 Supply Chain Management"),
    _d365("DYNAMICS_365_FOR_OPERATIONS", "Dynamics 365 Unified Operations Plan"),
    _d365("CRMSTANDARD", "Dynamics CRM Online Professional"),
    _d365("DYN365_SALES_PREMIUM", "Dynamics 365 Sales Premium"),
    _d365("DYN365_PROJECT_OPERATIONS", "Dynamics 365 Project Operations"),
    _d365("DYN365_RETAIL", "Dynamics 365 Commerce"),
    _d365("DYNAMICS_365_CONTACT_CENTER", "Dynamics 365 Contact Center"),
    _d365("DYNAMICS_365_CONTACT_CENTER_DIGITAL", "Dynamics 365 Contact Center Digital"),
    _d365("DYNAMICS_365_CONTACT_CENTER_VOICE", "Dynamics 365 Contact Center Voice"),
    _d365("DYN365_ENTERPRISE_CASE_MANAGEMENT", "Dynamics 365 Customer Service (Case Management)"),
    # 40,000: Dynamics 365 for US Government (GCC)
    _d365("DYN365_ENTERPRISE_SALES_GOV", "Dynamics 365 Sales Enterprise for Government"),
    _d365("D365_ENTERPRISE_SALES_GOV", "Dynamics 365 Sales Enterprise for Government"),
    _d365(
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE_GOV",
        "Dynamics 365 Customer Service Enterprise for Government",
    ),
    _d365(
        "D365_ENTERPRISE_CUSTOMER_SERVICE_GOV",
        "Dynamics 365 Customer Service Enterprise for Government",
    ),
    _d365("DYN365_ENTERPRISE_FIELD_SERVICE_GOV", "Dynamics 365 Field Service for Government"),
    _d365("D365_ENTERPRISE_FIELD_SERVICE_GOV", "Dynamics 365 Field Service for Government"),
    _d365(
        "DYN365_ENTERPRISE_CASE_MANAGEMENT_GOV",
        "Dynamics 365 Customer Service (Case Management) for Government",
    ),
    _d365("D365_SALES_PRO_GOV", "Dynamics 365 Sales Professional for Government"),
    # 40,000: Power Platform per-user plans
    SkuEntitlement("POWERAPPS_PER_USER", "premium", "Power Apps per user / Premium"),
    SkuEntitlement("FLOW_PER_USER", "premium", "Power Automate per user / Premium"),
    SkuEntitlement(
        "POWERAUTOMATE_ATTENDED_RPA", "premium", "Power Automate per user with attended RPA"
    ),
    SkuEntitlement(
        "POWERAPPS_PER_USER_GCC", "premium", "Power Apps per user / Premium for Government"
    ),
    SkuEntitlement(
        "FLOW_PER_USER_GCC", "premium", "Power Automate per user / Premium for Government"
    ),
    # 6,000
    SkuEntitlement("DYN365_ENTERPRISE_TEAM_MEMBERS", "standard", "Dynamics 365 Team Members"),
    SkuEntitlement("DYN365_TEAM_MEMBERS", "standard", "Dynamics 365 Team Members"),
    SkuEntitlement(
        "DYN365_ENTERPRISE_TEAM_MEMBERS_GOV", "standard", "Dynamics 365 Team Members for Government"
    ),
    SkuEntitlement("POWERAPPS_PER_APP", "standard", "Power Apps per app"),
    SkuEntitlement("POWERAPPS_PER_APP_NEW", "standard", "Power Apps per app (new)"),
    SkuEntitlement("CRMPLAN2", "standard", "Dynamics CRM Online Basic"),
    SkuEntitlement("SPE_E3", "standard", "Microsoft 365 E3"),
    SkuEntitlement("SPE_E5", "standard", "Microsoft 365 E5"),
    SkuEntitlement("SPE_F1", "standard", "Microsoft 365 F3"),
    SkuEntitlement("SPB", "standard", "Microsoft 365 Business Premium"),
    SkuEntitlement("O365_BUSINESS_ESSENTIALS", "standard", "Microsoft 365 Business Basic"),
    SkuEntitlement("O365_BUSINESS_PREMIUM", "standard", "Microsoft 365 Business Standard"),
    SkuEntitlement("STANDARDPACK", "standard", "Office 365 E1"),
    SkuEntitlement("ENTERPRISEPACK", "standard", "Office 365 E3"),
    SkuEntitlement("ENTERPRISEPREMIUM", "standard", "Office 365 E5"),
    SkuEntitlement("DESKLESSPACK", "standard", "Office 365 F3"),
    SkuEntitlement("PROJECT_P1", "standard", "Project Plan 1"),
    SkuEntitlement("PROJECTPROFESSIONAL", "standard", "Project Plan 3"),
    SkuEntitlement("PROJECTPREMIUM", "standard", "Project Plan 5"),
    # 250,000
    SkuEntitlement("FLOW_BUSINESS_PROCESS", "capacity", "Power Automate per flow / Process"),
    SkuEntitlement("VIRTUAL_AGENT_BASE", "capacity", "Copilot Studio"),
    # attach licences: nothing of their own
    SkuEntitlement("D365_SALES_ENT_ATTACH", "attach", "Dynamics 365 Sales Enterprise Attach"),
    SkuEntitlement("D365_SALES_PRO_ATTACH", "attach", "Dynamics 365 Sales Professional Attach"),
    SkuEntitlement(
        "DYN365_PROJECT_OPERATIONS_ATTACH", "attach", "Dynamics 365 Project Operations Attach"
    ),
)

POOL_BASE = 500_000  # Dynamics 365 tenants, per 24 hours
POOL_PER_DYNAMICS_LICENCE = 5_000
POOL_CAP = 10_000_000
POOL_OTHER_PRODUCTS = 25_000  # Power Apps-only or Power Automate-only tenants


def normalise_sku(sku: str) -> str:
    """Return the lookup form of a SKU part number (stripped, upper case)."""
    return sku.strip().upper()


def known_skus(overrides: Mapping[str, int] | None = None) -> set[str]:
    """Return every SKU the table knows (defaults and *overrides*), in lookup form."""
    return set(DEFAULT_SKUS) | {normalise_sku(sku) for sku in overrides or {}}


@dataclass(frozen=True)
class Entitlement:
    """The requests one SKU grants, and where that figure comes from."""

    sku: str
    requests: int
    kind: str | None  # None: a SKU only the configuration knows
    name: str
    dynamics_usl: bool
    overridden: bool  # the configuration set the figure

    @property
    def source(self) -> str:
        if self.overridden:
            return "[usage.entitlements] in the configuration"
        assert self.kind is not None
        return f"default table: {KINDS[self.kind].description}"


class EntitlementTable:
    """The default table with the configuration's overrides (SKU -> requests per 24 h).

    A SKU in neither grants nothing the monitor knows of: the allocation says so instead of
    guessing. Several paid licences add up; attach licences (kind ``attach``) and the capacity
    of Power Automate per flow and Copilot Studio (kind ``capacity``, which belongs to flows and
    agents) add nothing to a user's allocation.
    """

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._overrides = {normalise_sku(sku): int(n) for sku, n in (overrides or {}).items()}

    def lookup(self, sku: str) -> Entitlement | None:
        """Return what *sku* grants, or None when neither the defaults nor overrides know it."""
        key = normalise_sku(sku)
        default = DEFAULT_SKUS.get(key)
        if key in self._overrides:
            return Entitlement(
                sku=key,
                requests=self._overrides[key],
                kind=default.kind if default else None,
                name=default.name if default else key,
                dynamics_usl=default.dynamics_usl if default else False,
                overridden=True,
            )
        if default is None:
            return None
        return Entitlement(
            sku=key,
            requests=KINDS[default.kind].requests,
            kind=default.kind,
            name=default.name,
            dynamics_usl=default.dynamics_usl,
            overridden=False,
        )
