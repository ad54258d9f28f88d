"""What a licence (SKU) is good for, from what Graph's ``subscribedSkus`` says about it.

Pure functions over SKU part numbers and service plan names (``docs/platform.md``, "Licences"):
:func:`is_paid` (only paid licences accrue the tenant pool, only paid seats are "spare"),
:func:`seat_use` (whether one seat gets a user into a Dataverse environment) and
:func:`grants_dataverse` (whether a licence a user holds gives it Dataverse access).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

SeatUse = Literal["dataverse", "on_demand", "none"]

# Free, self-service ("viral"), trial and developer SKUs, by part number (upper case): a whole
# word of the part number, as in FLOW_FREE, POWERAPPS_VIRAL, POWERAPPS_DEV, DEVELOPERPACK_E5,
# DYN365_ENTERPRISE_P1_IW, D365_SALES_PRO_IW, Power_Pages_vTrial_for_Makers.
_NOT_PAID = re.compile(
    r"(?:^|_)(?:FREE|VIRAL|TRIAL|VTRIAL|DEV|DEVELOPER|DEVELOPERPACK|IW|IWTRIAL)(?:_|$)"
)
# Government suffixes of plan names (POWERAPPS_DYN_APPS_GOV, FLOW_PER_USER_GCC, ...).
_GOVERNMENT = re.compile(r"_(?:GOV|GCC|GCCHIGH|USGOV_GCCHIGH|USGOV_DOD|DOD)$")
# Service plans that give their user full Dataverse access.
DATAVERSE_PLANS = frozenset(
    {
        "POWERAPPS_DYN_APPS",  # Power Apps for Dynamics 365 (every Dynamics 365 app licence)
        "FLOW_DYN_APPS",
        "POWERAPPS_DYN_TEAM",  # Dynamics 365 Team Members
        "FLOW_DYN_TEAM",
        "POWERAPPS_DYN_P2",  # Dynamics 365 Plan
        "FLOW_DYN_P2",
        "DYN365_CDS_DYN_APPS",
        "DYN365_CDS_DYN_P2",
        "DYN365_CDS_P1",  # Dataverse of Power Apps / Power Automate per user and premium
        "DYN365_CDS_P2",
        "POWERAPPS_PER_USER",
        "FLOW_PER_USER",
        "POWERAPPS_P1",
        "POWERAPPS_P2",
        "FLOW_P1",
        "FLOW_P2",
    }
)
_STATUS_WORDS = {
    "Warning": "its subscription expired and is in its grace period",
    "Suspended": "its subscription is suspended",
    "Deleted": "its subscription was deleted",
    "LockedOut": "its subscription is locked out",
}
# "Dataverse for Microsoft 365" and its Power Apps / Power Automate plans.
MICROSOFT_365_PLAN_PREFIXES = ("DYN365_CDS_O365_", "CDS_O365_", "POWERAPPS_O365_", "FLOW_O365_")


def is_paid(part_number: str) -> bool:
    """Return False for free, viral (self-service sign-up), trial and developer SKUs, by part
    number: ``FLOW_FREE`` shows 10,000 prepaid units, ``POWERAPPS_VIRAL`` and ``*_DEV`` /
    ``*_TRIAL`` ones cost nothing."""
    return _NOT_PAID.search(part_number.strip().upper()) is None


def _plan(name: str) -> str:
    return _GOVERNMENT.sub("", name.strip().upper())


@dataclass(frozen=True)
class Seat:
    """What one seat of a SKU is good for, and why not when it is not."""

    use: SeatUse | None  # None: not judged (the SKU's plans were not read)
    why: str = ""


def seat_use(
    part_number: str,
    *,
    applies_to: str | None,
    capability_status: str,
    plans: Iterable[tuple[str, str]] | None,
) -> Seat:
    """Given a SKU's part number, ``appliesTo``, ``capabilityStatus`` and service plans
    (name, provisioning status; None: not read), return what a seat of it is good for.

    A seat gets a user into Dataverse (as creating a non-interactive user needs for a moment,
    "Create users") when the SKU is assignable to a user (``appliesTo`` User), enabled, paid,
    and carries a service plan that grants Dataverse access (Dynamics 365 apps, Power Apps /
    Power Automate per user or premium). A Microsoft 365 seat carries "Dataverse for Microsoft
    365" plans, honoured only for users added on demand.
    """
    if plans is None or applies_to is None:
        return Seat(None, "its service plans were not read yet")
    if applies_to != "User":
        return Seat("none", f"applies to the {applies_to.lower()}, not to a user")
    if capability_status != "Enabled":
        return Seat("none", _STATUS_WORDS.get(capability_status, "its subscription is not active"))
    if not is_paid(part_number):
        return Seat("none", "a free, trial or developer licence")
    active = [_plan(name) for name, status in plans if status != "Disabled"]
    if any(name in DATAVERSE_PLANS for name in active):
        return Seat("dataverse")
    if any(name.startswith(MICROSOFT_365_PLAN_PREFIXES) for name in active):
        return Seat("on_demand", "Microsoft 365: usable only by adding the user on demand")
    return Seat("none", "no service plan that grants Dataverse access")


def grants_dataverse(
    capability_status: str, plans: Iterable[tuple[str, str]] | None
) -> bool | None:
    """Whether a licence of a SKU with this ``capabilityStatus`` and these service plans (name,
    provisioning status; None: not read) gives its user Dataverse access now: the subscription
    is enabled or in its grace period ("Warning") and a plan that grants Dataverse access is not
    disabled. Trial and developer licences count while they last (unlike for a spare seat)."""
    if plans is None:
        return None
    if capability_status not in ("Enabled", "Warning"):
        return False
    return any(_plan(name) in DATAVERSE_PLANS for name, status in plans if status != "Disabled")
