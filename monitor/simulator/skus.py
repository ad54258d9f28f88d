"""What the simulator's ``subscribedSkus`` answers about well-known SKUs: who they apply to and
their service plans.

The plan names follow Microsoft's "Product names and service plan identifiers for licensing"
(https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference), shortened to
the plans that matter for Dataverse access plus a few typical others. A scenario may give a SKU
its own ``service_plans`` and ``applies_to``; a SKU the catalogue does not know has no plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_D365_APP = ("POWERAPPS_DYN_APPS", "FLOW_DYN_APPS", "Power_Pages_Internal_User")
_OFFICE = ("EXCHANGE_S_FOUNDATION", "SHAREPOINTWAC", "SHAREPOINTENTERPRISE")
_M365_E3 = (
    "DYN365_CDS_O365_P2",
    "CDS_O365_P2",
    "POWERAPPS_O365_P2",
    "FLOW_O365_P2",
    "EXCHANGE_S_ENTERPRISE",
    "SHAREPOINTENTERPRISE",
    "SHAREPOINTWAC",
    "TEAMS1",
)

# part number -> (appliesTo, service plan names)
CATALOGUE: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        "DYN365_ENTERPRISE_SALES": (
            "User",
            ("DYN365_ENTERPRISE_SALES", "Forms_Pro_SalesEnt", "NBENTERPRISE", *_D365_APP, *_OFFICE),
        ),
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE": (
            "User",
            ("DYN365_ENTERPRISE_CUSTOMER_SERVICE", "Forms_Pro_Service", *_D365_APP, *_OFFICE),
        ),
        "DYN365_SALES_PREMIUM": (
            "User",
            ("DYN365_SALES_PREMIUM", "DYN365_SALES_INSIGHTS", *_D365_APP, *_OFFICE),
        ),
        "DYN365_ENTERPRISE_SALES_GOV": (
            "User",
            ("DYN365_ENTERPRISE_SALES_GOV", "POWERAPPS_DYN_APPS_GOV", "FLOW_DYN_APPS_GOV"),
        ),
        "DYN365_ENTERPRISE_TEAM_MEMBERS": (
            "User",
            ("DYN365_ENTERPRISE_TEAM_MEMBERS", "POWERAPPS_DYN_TEAM", "FLOW_DYN_TEAM", *_OFFICE),
        ),
        "POWERAPPS_PER_USER": (
            "User",
            (
                "DYN365_CDS_P2",
                "POWERAPPS_PER_USER",
                "Flow_PowerApps_PerUser",
                "EXCHANGE_S_FOUNDATION",
            ),
        ),
        "FLOW_PER_USER": ("User", ("DYN365_CDS_P2", "FLOW_PER_USER", "EXCHANGE_S_FOUNDATION")),
        "POWERAPPS_PER_APP": (
            "User",
            ("CDS_PER_APP", "POWERAPPS_PER_APP", "Flow_Per_APP", "EXCHANGE_S_FOUNDATION"),
        ),
        "POWERAPPS_PER_APP_NEW": (
            "User",
            ("DATAVERSE_POWERAPPS_PER_APP_NEW", "POWERAPPS_PER_APP_NEW", "EXCHANGE_S_FOUNDATION"),
        ),
        "FLOW_FREE": ("User", ("DYN365_CDS_VIRAL", "FLOW_P2_VIRAL", "EXCHANGE_S_FOUNDATION")),
        "POWERAPPS_VIRAL": (
            "User",
            (
                "DYN365_CDS_VIRAL",
                "FLOW_P2_VIRAL_REAL",
                "POWERAPPS_P2_VIRAL",
                "EXCHANGE_S_FOUNDATION",
            ),
        ),
        "POWERAPPS_DEV": (
            "User",
            (
                "DYN365_CDS_DEV_VIRAL",
                "FLOW_DEV_VIRAL",
                "POWERAPPS_DEV_VIRAL",
                "EXCHANGE_S_FOUNDATION",
            ),
        ),
        "ENTERPRISEPACK": ("User", _M365_E3),
        "SPE_E3": ("User", (*_M365_E3, "INTUNE_A", "AAD_PREMIUM")),
        "FLOW_BUSINESS_PROCESS": (
            "Company",
            ("FLOW_BUSINESS_PROCESS", "CDS_Flow_Business_Process"),
        ),
        "CRMSTORAGE": ("Company", ("CRMSTORAGE", "EXCHANGE_S_FOUNDATION")),
    }
)


def catalogue_entry(part_number: str) -> tuple[str, tuple[str, ...]]:
    """Return (appliesTo, service plan names) of *part_number* ("User", () if unknown)."""
    return CATALOGUE.get(part_number, ("User", ()))
