"""Scenario files: the shipped demo, the format's features, and its error reports."""

from __future__ import annotations

import datetime as dt
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from monitor.simulator import (
    Application,
    Environment,
    Member,
    Scenario,
    ScenarioError,
    Tenant,
    User,
    demo_scenario_path,
    load_scenario,
)

from .helpers import CertificatePair

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
TENANT_TABLE = """
[[tenants]]
name = "contoso"
id = "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"
domain = "contoso.com"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_demo_scenario_ships_inside_the_package() -> None:
    """demo.toml is package data, found through importlib.resources."""
    resource = resources.files("monitor.simulator").joinpath("scenarios", "demo.toml")
    assert resource.is_file()
    assert demo_scenario_path() == Path(str(resource))


def test_demo_scenario_loads_with_a_story_to_tell() -> None:
    """The demo has healthy and failing identities across tenants and environments."""
    scenario = load_scenario(demo_scenario_path(), now=NOW)
    assert scenario.name == "demo"
    assert sorted(scenario.tenants) == ["contoso", "fabrikam"]
    assert sorted(scenario.environments) == ["contoso-prod", "contoso-test", "fabrikam-prod"]
    expired = [
        secret.display_name
        for app in scenario.applications.values()
        for secret in app.secrets
        if secret.is_expired(NOW)
    ]
    assert expired == ["sales-sync 2023", "legacy"]
    assert any(user.password_expired for user in scenario.users.values())
    assert any(user.mfa_required for user in scenario.users.values())
    assert any(app.allow_public_client for app in scenario.applications.values())


def test_identifiers_are_stable_across_loads() -> None:
    """Derived ids (organization, systemuser, object ids) do not change between runs."""
    first = load_scenario(demo_scenario_path())
    second = load_scenario(demo_scenario_path())
    assert (
        first.environments["contoso-prod"].organization_id
        == second.environments["contoso-prod"].organization_id
    )
    assert [m.user_id for m in first.environments["contoso-prod"].members.values()] == [
        m.user_id for m in second.environments["contoso-prod"].members.values()
    ]
    assert {u.object_id for u in first.users.values()} == {
        u.object_id for u in second.users.values()
    }


def test_end_dates_accept_dates_offsets_and_words(tmp_path: Path) -> None:
    """Secret ends: aware/naive datetimes, dates, 'expired', 'never' and +/- offsets."""
    path = write(
        tmp_path,
        TENANT_TABLE
        + """
        [[apps]]
        client_id = "5c1e8b3a-0000-4000-8000-000000000001"
        tenant = "contoso"
        secrets = [
          { value = "a", end = 2030-01-02T03:04:05+01:00 },
          { value = "b", end = 2030-01-02T03:04:05 },
          { value = "c", end = 2030-01-02 },
          { value = "d", end = "expired" },
          { value = "e", end = "never" },
          { value = "f", end = "+10d" },
          { value = "g", end = "-2h" },
          { value = "h" },
        ]
        """,
    )
    secrets = (
        load_scenario(path, now=NOW).application("5c1e8b3a-0000-4000-8000-000000000001").secrets
    )
    assert [secret.end for secret in secrets] == [
        dt.datetime(2030, 1, 2, 2, 4, 5, tzinfo=dt.UTC),
        dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.datetime(2030, 1, 2, tzinfo=dt.UTC),
        NOW - dt.timedelta(days=1),
        None,
        NOW + dt.timedelta(days=10),
        NOW - dt.timedelta(hours=2),
        None,
    ]


def test_certificates_load_from_a_relative_path_or_inline_pem(
    tmp_path: Path, certificate: CertificatePair
) -> None:
    """A certificate path is relative to the scenario file; inline PEM works too."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "erp.pem").write_text(certificate.cert_pem)
    inline = certificate.cert_pem.replace("\n", "\\n")
    path = write(
        tmp_path,
        TENANT_TABLE
        + f"""
        [[apps]]
        client_id = "5c1e8b3a-0000-4000-8000-000000000002"
        tenant = "contoso"
        certificates = [{{ path = "certs/erp.pem" }}, {{ pem = "{inline}", end = "+30d" }}]
        """,
    )
    app = load_scenario(path, now=NOW).application("5c1e8b3a-0000-4000-8000-000000000002")
    sha1 = certificate.sha1.upper()
    assert [cert.thumbprint for cert in app.certificates] == [sha1, sha1]
    assert app.certificates[0].effective_end == certificate.certificate.not_valid_after_utc
    assert app.certificates[1].effective_end == NOW + dt.timedelta(days=30)


def test_users_find_their_tenant_by_domain_and_members_and_faults_load(tmp_path: Path) -> None:
    """A user's tenant defaults from its UPN; members and faults are read."""
    path = write(
        tmp_path,
        TENANT_TABLE
        + """
        [settings]
        lockout_threshold = 3
        lockout_seconds = 5.5

        [[users]]
        upn = "Svc@Contoso.com"
        password = "pw"
        mfa_required = true

        [[environments]]
        name = "prod"
        tenant = "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"
        url_name = "prod.crm4"
        request_limit = 100

        [[environments.members]]
        user = "svc@contoso.com"
        burst_remaining = 5

        [[faults]]
        family = "token"
        mode = "slow"
        seconds = 0.5
        count = 2
        username = "svc@contoso.com"
        """,
    )
    scenario = load_scenario(path)
    user = scenario.user("svc@contoso.com")
    assert (user.tenant, user.mfa_required) == ("contoso", True)
    assert (scenario.lockout_threshold, scenario.lockout_seconds) == (3, 5.5)
    environment = scenario.environment("prod")
    assert (environment.tenant, environment.url_name, environment.request_limit) == (
        "contoso",
        "prod.crm4",
        100,
    )
    member = environment.member_for_user("svc@contoso.com")
    assert member is not None
    assert member.burst_remaining == 5
    [fault] = scenario.faults
    assert (fault.family, fault.mode, fault.seconds, fault.count) == ("token", "slow", 0.5, 2)


def test_every_problem_is_reported_at_once_without_secret_values(tmp_path: Path) -> None:
    """Problems come one per line with a dotted path; secret values are never echoed."""
    path = write(
        tmp_path,
        TENANT_TABLE
        + """
        colour = "blue"

        [[apps]]
        client_id = "not-a-guid"
        tenant = "nowhere"
        secrets = [{ value = 42 }, { value = "s3cr3t-value", end = "tomorrow" }]

        [[users]]
        upn = "someone@unknown.example"
        password = 1234

        [[environments]]
        name = "prod"
        tenant = "contoso"
        members = [{ app = "5c1e8b3a-0000-4000-8000-00000000000f" }, { }]

        [[faults]]
        family = "token"
        mode = "explode"
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = caught.value.problems
    assert problems == [
        "tenants[0].colour: unknown key",
        "apps[0].client_id: expected a GUID like 3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f, found "
        "the string 'not-a-guid'",
        "apps[0].tenant: unknown tenant 'nowhere'; declare it in [[tenants]] first",
        "apps[0].secrets[0].value: expected a non-empty string, found the number 42",
        'apps[0].secrets[1].end: expected a date, a datetime, "expired", "never" or an offset '
        'like "+30d" / "-2h", found the string \'tomorrow\'',
        "users[0].password: expected a non-empty string, found the number 1234",
        "users[0].tenant: no tenant owns the domain of 'someone@unknown.example'; set tenant",
        "environments[0].members[0].app: unknown application "
        "'5c1e8b3a-0000-4000-8000-00000000000f'; declare it in [[apps]]",
        "environments[0].members[1].app: give exactly one of app (client id) or user (UPN)",
        "faults[0].mode: expected one of http_500, http_502, http_503, throttle_429, "
        "loop_detected, slow, drip, drop, hang, malformed_json, html, echo, http_400, http_404, "
        "truncated, missing_field, unknown_enum, foreign_next_link, aadsts, found 'explode'",
    ]
    assert "s3cr3t-value" not in str(caught.value)
    assert str(caught.value).startswith(f"scenario {path} is invalid:\n  - tenants[0].colour")


def test_secret_values_are_hidden_when_the_type_is_wrong(tmp_path: Path) -> None:
    """Even a wrongly typed secret is described without its value."""
    path = write(
        tmp_path,
        TENANT_TABLE
        + """
        [[users]]
        upn = "a@contoso.com"
        password = "   "
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        "users[0].password: expected a non-empty string, found a string (value hidden)"
    ]


def test_toml_syntax_errors_keep_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error is one problem that says where."""
    path = write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError, match=r"TOML syntax error: .*line 1, column 8"):
        load_scenario(path)


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """An unreadable file is reported like any other problem."""
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(tmp_path / "absent.toml")


def test_programmatic_building_checks_references() -> None:
    """add_* refuse unknown tenants and duplicates, as the loader would."""
    scenario = Scenario()
    scenario.add_tenant(Tenant("contoso", "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"))
    with pytest.raises(ValueError, match="already exists"):
        scenario.add_tenant(Tenant("contoso", "8d2e4f60-7a1b-4c3d-9e8f-0a1b2c3d4e5f"))
    with pytest.raises(ValueError, match="unknown tenant"):
        scenario.add_application(Application("5c1e8b3a-0000-4000-8000-000000000001", "nope"))
    with pytest.raises(ValueError, match="unknown tenant"):
        scenario.add_user(User("a@contoso.com", "pw", "nope"))
    scenario.add_environment(Environment("prod", "contoso"))
    with pytest.raises(ValueError, match="already exists"):
        scenario.add_environment(Environment("other", "contoso", url_name="prod"))
    with pytest.raises(ValueError, match="exactly one of"):
        Member()
    assert scenario.find_tenant("contoso.onmicrosoft.com") is scenario.tenants["contoso"]
    assert (
        scenario.find_tenant("3F2C9A1E-5B7D-4C1A-9E2F-1A2B3C4D5E6F") is scenario.tenants["contoso"]
    )


def test_unknown_top_level_keys_are_reported(tmp_path: Path) -> None:
    """A typo at the top level is caught too."""
    path = write(tmp_path, 'nmae = "typo"\n' + TENANT_TABLE)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == ["nmae: unknown key"]
