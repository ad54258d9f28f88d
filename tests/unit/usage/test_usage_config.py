"""The ``[usage]`` section and the identity keys ``licences`` / ``object_id``."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Config, ConfigError, load_config

TENANT_ID = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
BASE = f"""
[tenants.contoso]
tenant_id = "{TENANT_ID}"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[identities.sales-sync]
kind = "application"
tenant = "contoso"
client_id = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
secret = {{ env = "SALES_SECRET" }}
environments = ["contoso-prod"]
{{app_extra}}

[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc-sync@contoso.com"
password = {{ env = "SYNC_PASSWORD" }}
environments = ["contoso-prod"]
{{user_extra}}
"""
ENVIRON = {"SALES_SECRET": "a-test-secret", "SYNC_PASSWORD": "a-test-password"}


def load(tmp_path: Path, *, usage: str = "", app_extra: str = "", user_extra: str = "") -> Config:
    path = tmp_path / "monitor.toml"
    text = BASE.replace("{app_extra}", app_extra).replace("{user_extra}", user_extra)
    path.write_text(text + "\n" + usage)
    return load_config(path, environ=ENVIRON)


def problems(tmp_path: Path, **parts: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **parts)
    return [line.strip() for line in caught.value.render().splitlines()[1:]]


def test_defaults_without_a_usage_section(tmp_path: Path) -> None:
    """No [usage]: the documented defaults; identities declare nothing."""
    config = load(tmp_path)

    usage = config.usage
    assert (80.0, 100.0, 20.0, 2, 24.0, 7, 7, 6000, 1_200_000, 60.0) == (
        usage.warning_percent,
        usage.critical_percent,
        usage.burst_warning_percent,
        usage.throttled_critical_count,
        usage.throttle_window_hours,
        usage.trend_days,
        usage.projection_days,
        usage.burst_limit,
        usage.execution_time_limit_ms,
        usage.default_retry_after_seconds,
    )
    assert ({}, {}) == (usage.entitlements, usage.tenants)
    assert (None, None) == (
        config.identities["dataverse-sync"].licences,
        config.identities["dataverse-sync"].object_id,
    )


def test_everything_set(tmp_path: Path) -> None:
    """Every key is read; SKU keys are upper-cased; an empty licence list is kept as ()."""
    config = load(
        tmp_path,
        usage="""
[usage]
warning_percent = 70
critical_percent = 95.5
burst_warning_percent = 10
throttled_critical_count = 3
throttle_window_hours = 12
trend_days = 14
projection_days = 3
burst_limit = 8000
execution_time_limit_ms = 600000
default_retry_after_seconds = 90

[usage.entitlements]
Contoso_Custom = 1000
DYN365_TEAM_MEMBERS = 0

[usage.tenants.contoso]
dynamics_licences = 0
pool_size = 2000000
""",
        app_extra='object_id = "8A7B6C5D-4E3F-4A2B-9C1D-0E9F8A7B6C5D"',
        user_extra="licences = []",
    )

    usage = config.usage
    assert (70.0, 95.5, 10.0, 3, 12.0, 14, 3, 8000, 600_000, 90.0) == (
        usage.warning_percent,
        usage.critical_percent,
        usage.burst_warning_percent,
        usage.throttled_critical_count,
        usage.throttle_window_hours,
        usage.trend_days,
        usage.projection_days,
        usage.burst_limit,
        usage.execution_time_limit_ms,
        usage.default_retry_after_seconds,
    )
    assert {"CONTOSO_CUSTOM": 1000, "DYN365_TEAM_MEMBERS": 0} == usage.entitlements
    assert (0, 2_000_000) == (
        usage.tenants["contoso"].dynamics_licences,
        usage.tenants["contoso"].pool_size,
    )
    assert "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d" == config.identities["sales-sync"].object_id
    assert () == config.identities["dataverse-sync"].licences


def test_custom_sku_can_be_declared_once_the_table_knows_it(tmp_path: Path) -> None:
    """A licence named in [usage.entitlements] is accepted on an identity, in any case."""
    config = load(
        tmp_path,
        usage="[usage.entitlements]\nCONTOSO_CUSTOM = 1000\n",
        user_extra='licences = ["contoso_custom", "DYN365_ENTERPRISE_SALES"]',
    )

    assert ("contoso_custom", "DYN365_ENTERPRISE_SALES") == config.identities[
        "dataverse-sync"
    ].licences


def test_unknown_licence_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    """A misspelt SKU is a configuration problem with a did-you-mean."""
    found = problems(tmp_path, user_extra='licences = ["DYN365_ENTERPRISE_SALE"]')

    assert [
        "identities.dataverse-sync.licences[0]: expected a SKU part number the entitlement table "
        "knows, found \"DYN365_ENTERPRISE_SALE\"; hint: did you mean 'DYN365_ENTERPRISE_SALES'? "
        "or add it to [usage.entitlements] with its requests per 24 hours (0 if it grants none)"
    ] == found


def test_problems_of_the_usage_section(tmp_path: Path) -> None:
    """Bad values, thresholds in the wrong order, an unknown tenant and licences on an
    application are all reported at once."""
    found = problems(
        tmp_path,
        usage="""
[usage]
warning_percent = 90
critical_percent = 85
trend_days = 0
burst_limit = true

[usage.entitlements]
"not a sku!" = 5
GOOD_SKU = -1

[usage.tenants.fabrikam]
dynamics_licences = 3
""",
        app_extra='licences = ["SPE_E3"]\nobject_id = "not-a-guid"',
    )

    joined = "\n".join(found)
    assert "usage.warning_percent: expected at most critical_percent (85)" in joined
    assert "usage.trend_days: expected a whole number from 1 to 90" in joined
    assert "usage.burst_limit: expected a whole number from 1" in joined
    assert "expected a SKU part number such as DYN365_ENTERPRISE_SALES" in joined
    assert "usage.entitlements.GOOD_SKU: expected a whole number from 0" in joined
    assert "usage.tenants.fabrikam: expected the name of one of the [tenants.NAME] tables" in joined
    assert "identities.sales-sync.licences: expected no licences on an application identity" in (
        joined
    )
    assert "identities.sales-sync.object_id: expected a GUID" in joined
