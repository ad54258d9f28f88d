"""Allocations: each licence kind, sums, attach licences, overrides, the tenant pool and its cap."""

from __future__ import annotations

from datetime import date

import pytest

from monitor.model.entitlements import DEFAULT_SKUS, KINDS, EntitlementTable
from monitor.usage.allocation import (
    LicenceFacts,
    ReportedEntitlement,
    identity_allocation,
    pool_allocation,
)

TABLE = EntitlementTable()


def facts(*skus: str) -> LicenceFacts:
    return LicenceFacts("sync", skus, "configuration (identities.sync.licences)")


@pytest.mark.parametrize(
    ("sku", "requests"),
    [
        ("DYN365_ENTERPRISE_SALES", 40_000),  # Dynamics 365 Enterprise
        ("D365_SALES_PRO", 40_000),  # Dynamics 365 Professional
        ("POWERAPPS_PER_USER", 40_000),  # Power Apps per user (Premium)
        ("FLOW_PER_USER", 40_000),  # Power Automate per user
        ("DYN365_ENTERPRISE_TEAM_MEMBERS", 6_000),  # Team Member
        ("POWERAPPS_PER_APP", 6_000),  # per app
        ("SPE_E3", 6_000),  # Microsoft 365 with Power Platform access
        ("POWERAPPS_PER_APP_NEW", 6_000),  # Power Apps per app (new)
        ("DYN365_SALES_PREMIUM", 40_000),  # Sales Premium
        ("DYN365_PROJECT_OPERATIONS", 40_000),  # Project Operations
        ("DYN365_RETAIL", 40_000),  # Commerce
        ("DYNAMICS_365_CONTACT_CENTER", 40_000),  # Contact Center
        ("DYN365_ENTERPRISE_SALES_GOV", 40_000),  # government (GCC) variants
        ("DYN365_ENTERPRISE_CUSTOMER_SERVICE_GOV", 40_000),
        ("POWERAPPS_PER_USER_GCC", 40_000),
        ("DYN365_ENTERPRISE_TEAM_MEMBERS_GOV", 6_000),
    ],
)
def test_each_licence_kind_grants_its_requests(sku: str, requests: int) -> None:
    """A user with one licence of a kind gets that kind's 24-hour requests from the table."""
    allocation = identity_allocation("user", facts(sku), TABLE)

    assert (requests, "licences") == (allocation.requests, allocation.basis)
    assert [requests] == [line.requests for line in allocation.lines]
    assert "default table" in allocation.lines[0].source


def test_every_default_sku_has_a_known_kind() -> None:
    """The table only uses kinds that exist, and its keys are in lookup form."""
    assert all(entry.kind in KINDS for entry in DEFAULT_SKUS.values())
    assert all(sku == sku.upper() for sku in DEFAULT_SKUS)


def test_portals_login_kind_through_an_override() -> None:
    """A SKU the table does not know gets a figure from [usage.entitlements] (portals: 200)."""
    table = EntitlementTable({"Portals_Login_Pack": KINDS["portals_login"].requests})

    allocation = identity_allocation("user", facts("PORTALS_LOGIN_PACK"), table)

    assert 200 == allocation.requests
    assert "[usage.entitlements]" in allocation.lines[0].source


def test_several_paid_licences_add_up() -> None:
    """Customer Service Enterprise plus Power Apps per user is 40,000 + 40,000 (the source's
    own example); a Team Member licence adds 6,000."""
    allocation = identity_allocation(
        "user",
        facts("DYN365_ENTERPRISE_CUSTOMER_SERVICE", "POWERAPPS_PER_USER", "DYN365_TEAM_MEMBERS"),
        TABLE,
    )

    assert 86_000 == allocation.requests
    assert [40_000, 40_000, 6_000] == [line.requests for line in allocation.lines]


def test_attach_licence_adds_nothing() -> None:
    """Base + attach: only the base licence's limit applies, and the line says why."""
    allocation = identity_allocation(
        "user", facts("DYN365_ENTERPRISE_CUSTOMER_SERVICE", "D365_SALES_ENT_ATTACH"), TABLE
    )

    assert 40_000 == allocation.requests
    assert 0 == allocation.lines[1].requests
    assert "attach" in allocation.lines[1].source


def test_sku_case_and_repeats_do_not_matter() -> None:
    """Graph spells some SKUs in mixed case; the same SKU twice counts once."""
    allocation = identity_allocation(
        "user", facts("Dynamics_365_for_Operations", "DYNAMICS_365_FOR_OPERATIONS"), TABLE
    )

    assert 40_000 == allocation.requests
    assert 1 == len(allocation.lines)


def test_override_replaces_a_default() -> None:
    """[usage.entitlements] wins over the default figure and says so."""
    table = EntitlementTable({"dyn365_enterprise_sales": 45_000})

    allocation = identity_allocation("user", facts("DYN365_ENTERPRISE_SALES"), table)

    assert 45_000 == allocation.requests
    assert "[usage.entitlements]" in allocation.lines[0].source


def test_unknown_sku_grants_nothing_and_says_so() -> None:
    """A SKU neither table knows contributes 0 with a hint, never a guess."""
    allocation = identity_allocation("user", facts("EMS", "DYN365_TEAM_MEMBERS"), TABLE)

    assert 6_000 == allocation.requests
    assert "no Power Platform request entitlement known" in allocation.lines[0].source


def test_application_identity_draws_from_the_pool() -> None:
    """Application users never have an allocation of their own."""
    allocation = identity_allocation("application", None, TABLE)

    assert (None, "tenant_pool") == (allocation.requests, allocation.basis)


def test_user_without_any_licence_is_non_interactive() -> None:
    """No licence at all ([] declared or observed): the user is on the pool."""
    allocation = identity_allocation("user", facts(), TABLE)
    assert (None, "tenant_pool") == (allocation.requests, allocation.basis)


def test_user_whose_licences_are_all_unknown_has_an_unknown_allocation() -> None:
    """Licences none of which the table knows may grant requests: "unknown", not the pool."""
    allocation = identity_allocation("user", facts("EMS", "SOME_NEW_SKU"), TABLE)

    assert (None, "unknown") == (allocation.requests, allocation.basis)
    assert "none of its licences (EMS, SOME_NEW_SKU) is in the entitlement table" in (
        allocation.source
    )


@pytest.mark.parametrize("sku", ["FLOW_BUSINESS_PROCESS", "VIRTUAL_AGENT_BASE"])
def test_capacity_licences_are_not_a_users_allocation(sku: str) -> None:
    """Per-flow and Copilot Studio capacity licences the flows / agents, not a user: 0."""
    allocation = identity_allocation("user", facts(sku, "DYN365_ENTERPRISE_TEAM_MEMBERS"), TABLE)

    assert 6_000 == allocation.requests
    assert "not a user's allocation" in allocation.lines[0].source


@pytest.mark.parametrize("mode_reason", ["administrative access mode (accessmode 1)"])
def test_user_in_a_pool_access_mode_draws_from_the_pool(mode_reason: str) -> None:
    """An administrative (or non-interactive) user draws from the pool whatever it holds."""
    allocation = identity_allocation(
        "user", facts("DYN365_ENTERPRISE_SALES"), TABLE, pool_reason=mode_reason
    )

    assert (None, "tenant_pool", mode_reason) == (
        allocation.requests,
        allocation.basis,
        allocation.source,
    )


def test_unknown_licences_fall_back_to_the_report() -> None:
    """Without licence facts, the newest licensed report's Entitled quantity is used, and the
    allocation says where it came from."""
    reported = ReportedEntitlement(46_000, date(2026, 3, 1), "licensed")

    allocation = identity_allocation("user", None, TABLE, reported)

    assert (46_000, "report") == (allocation.requests, allocation.basis)
    assert "2026-03-01" in allocation.source


def test_licences_win_over_the_report_which_is_shown_as_a_cross_check() -> None:
    """Known licences are the basis; the report's figure is kept as a note."""
    reported = ReportedEntitlement(0, date(2026, 3, 1), "licensed")

    allocation = identity_allocation("user", facts("POWERAPPS_PER_APP"), TABLE, reported)

    assert 6_000 == allocation.requests
    assert ["the Power Platform admin center report of 2026-03-01 states 0 requests"] == list(
        allocation.notes
    )


def test_nothing_known_is_unknown() -> None:
    """No licences and no report: unknown, with what to do about it."""
    allocation = identity_allocation("user", None, TABLE)

    assert (None, "unknown") == (allocation.requests, allocation.basis)
    assert allocation.notes


@pytest.mark.parametrize(
    ("licences", "expected"),
    [
        (0, 25_000),  # Power Apps / Power Automate only
        (1, 505_000),
        (120, 1_100_000),
        (1_900, 10_000_000),  # exactly at the cap
        (1_901, 10_000_000),  # one more is capped
        (50_000, 10_000_000),
    ],
)
def test_pool_from_dynamics_licences_and_its_cap(licences: int, expected: int) -> None:
    """500,000 + 5,000 per Dynamics 365 licence, at most 10,000,000; 25,000 without D365."""
    allocation = pool_allocation(dynamics_licences=licences)

    assert expected == allocation.requests
    assert expected == sum(line.requests for line in allocation.lines)


def test_pool_cap_shows_as_a_line() -> None:
    """Above the cap, a line subtracts what the cap takes away."""
    allocation = pool_allocation(dynamics_licences=2_000)

    assert ["base (Dynamics 365)", "capped at"] == [
        allocation.lines[0].label,
        allocation.lines[-1].label,
    ]
    assert -500_000 == allocation.lines[-1].requests


def test_pool_precedence_configured_then_report_then_rule() -> None:
    """A configured size beats the report, which beats the computed rule."""
    reported = ReportedEntitlement(777_000, date(2026, 3, 1), "non_licensed")

    assert 123 == pool_allocation(configured_size=123, reported=reported).requests
    assert "configured" == pool_allocation(configured_size=123, reported=reported).basis
    assert 777_000 == pool_allocation(reported=reported, dynamics_licences=10).requests
    assert 550_000 == pool_allocation(dynamics_licences=10).requests
    assert (None, "unknown") == (pool_allocation().requests, pool_allocation().basis)
