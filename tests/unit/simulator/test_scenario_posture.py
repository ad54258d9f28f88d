"""Scenario keys for posture facts: password policy, SKUs, licences, Graph permissions, roles,
teams, access modes and extra non-interactive users."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from monitor.simulator import ScenarioError, demo_scenario_path, load_scenario
from monitor.simulator.scenario import SYSTEM_ADMINISTRATOR_TEMPLATE, SYSTEM_CUSTOMIZER_TEMPLATE

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
SCENARIO = """
name = "posture"

[settings]
graph_page_size = 2
dataverse_page_size = 50

[[tenants]]
name = "contoso"
id = "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"
domain = "contoso.com"
password_validity_days = 90
password_notification_days = 14

[[tenants.skus]]
part_number = "DYN365_ENTERPRISE_SALES"
enabled = 5
consumed = 5

[[tenants.skus]]
part_number = "POWERAPPS_PER_APP"
id = "b4d7b828-e8dc-4518-91f9-e123ae48440d"
enabled = 2
warning = 2
status = "Warning"

[[apps]]
client_id = "5c1e8b3a-0000-4000-8000-000000000001"
tenant = "contoso"
graph_permissions = ["Application.Read.All", "User.Read.All"]
secrets = [{ value = "sec8Q~one", start = "-10d", end = "+10d", name = "current" }]

[[users]]
upn = "svc@contoso.com"
password = "pw"
licences = ["DYN365_ENTERPRISE_SALES"]
password_changed = "-80d"
password_policies = "DisablePasswordExpiration"
synced_from_on_premises = true

[[environments]]
name = "prod"
tenant = "contoso"
other_noninteractive_users = 6
roles = [{ name = "Monitor reader" }]
teams = [{ name = "Integrators", roles = ["System Customizer"] }]

[[environments.members]]
app = "5c1e8b3a-0000-4000-8000-000000000001"
roles = ["System Administrator", "Monitor reader"]
teams = ["Integrators"]

[[environments.members]]
user = "svc@contoso.com"
access_mode = 4
licensed = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_posture_keys_are_read_into_the_model(tmp_path: Path) -> None:
    """Every posture key of the format lands in the model, with relative dates resolved."""
    scenario = load_scenario(write(tmp_path, SCENARIO), now=NOW)

    tenant = scenario.tenants["contoso"]
    app = scenario.application("5c1e8b3a-0000-4000-8000-000000000001")
    user = scenario.user("svc@contoso.com")
    prod = scenario.environment("prod")
    app_member = prod.member_for_app(app.client_id)
    user_member = prod.member_for_user(user.upn)
    assert app_member is not None
    assert user_member is not None

    assert (2, 50) == (scenario.graph_page_size, scenario.dataverse_page_size)
    assert (90, 14) == (tenant.password_validity_days, tenant.password_notification_days)
    assert ("Warning", "b4d7b828-e8dc-4518-91f9-e123ae48440d") == (
        tenant.skus["POWERAPPS_PER_APP"].status,
        tenant.skus["POWERAPPS_PER_APP"].sku_id,
    )
    assert ["Application.Read.All", "User.Read.All"] == app.graph_permissions
    assert NOW - dt.timedelta(days=10) == app.secrets[0].effective_start
    assert (["DYN365_ENTERPRISE_SALES"], "DisablePasswordExpiration", True) == (
        user.licences,
        user.password_policies,
        user.synced_from_on_premises,
    )
    assert (NOW - dt.timedelta(days=80)).timestamp() == user.password_changed_at
    assert 6 == prod.other_noninteractive_users
    assert ["System Administrator", "Monitor reader"] == app_member.roles
    assert ["Integrators"] == app_member.teams
    assert ["System Customizer"] == prod.teams["integrators"].roles
    assert (4, False) == (user_member.effective_access_mode, user_member.licensed)
    assert 4 == app_member.effective_access_mode  # application users are non-interactive
    assert SYSTEM_ADMINISTRATOR_TEMPLATE == prod.roles["system administrator"].template_id
    assert SYSTEM_CUSTOMIZER_TEMPLATE == prod.roles["system customizer"].template_id
    assert prod.roles["monitor reader"].template_id is None


def test_posture_key_problems_are_reported(tmp_path: Path) -> None:
    """A licence of an unknown SKU, a bad SKU status and an access mode out of range are
    reported with their paths."""
    text = (
        SCENARIO.replace('status = "Warning"', 'status = "Gone"')
        .replace('licences = ["DYN365_ENTERPRISE_SALES"]', 'licences = ["NOPE"]')
        .replace("access_mode = 4", "access_mode = 9")
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text), now=NOW)

    problems = "\n".join(caught.value.problems)
    assert "tenants[0].skus[1].status: expected one of Enabled" in problems
    assert "users[0].licences[0]: unknown SKU 'NOPE'" in problems
    assert "environments[0].members[1].access_mode: expected 0 to 5" in problems


def test_demo_scenario_sets_up_posture_facts() -> None:
    """The demo scenario carries the posture story: observers, a 9-day secret, SKUs without a
    spare licence, a licensed named user, System Administrator, 7 non-interactive users."""
    scenario = load_scenario(demo_scenario_path(), now=NOW)

    contoso = scenario.tenants["contoso"]
    invoice = scenario.application("f62658e9-aba3-4e1e-b088-235f770dff0a")
    prod = scenario.environment("contoso-prod")
    sales = prod.member_for_app("ff7191fb-4358-43e1-b0ef-1c88798389f8")
    assert sales is not None
    non_interactive = prod.other_noninteractive_users + sum(
        1 for m in prod.members.values() if m.user is not None and m.effective_access_mode == 4
    )

    assert NOW + dt.timedelta(days=9) == invoice.secrets[0].end
    assert 90 == contoso.password_validity_days
    assert all(sku.enabled == sku.consumed for sku in contoso.skus.values())
    assert ["DYN365_ENTERPRISE_SALES"] == scenario.user("j.doe@contoso.com").licences
    assert ["System Administrator"] == sales.roles
    assert 7 == non_interactive
    assert (
        "Organization.Read.All"
        in scenario.application("b8845d34-7b8e-4049-91f6-becf3ed9e8c6").graph_permissions
    )
