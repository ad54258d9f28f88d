"""``[[channels]]`` and ``[alerts]``: URLs as secret references, routing, fallback, per-identity
and per-tag rules, and problems that never quote a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.notify.alerting import IdentitySpec, write_deployment

from monitor.config import ConfigError
from monitor.config.model import AlertRules, DeliveryConfig

TEAMS = "workflows://prod.westeurope.logic.azure.com/0123abcd/SIGsecretVALUE42/"
MAIL = "mailtos://alerts:SMTPsecretPASS42@smtp.example.com/?from=m@example.com&to=o@example.com"


def problems_of(error: ConfigError) -> dict[str, str]:
    return {problem.path: problem.render() for problem in error.problems}


def test_channels_and_alerts_load(tmp_path: Path) -> None:
    """Channel URLs come from credentials; defaults fill routing; rules resolve identity >
    first tag > global, key by key."""
    deployment = write_deployment(
        tmp_path,
        identities=(
            IdentitySpec("sales-sync", tags=("tier-1", "sales")),
            IdentitySpec("inventory-sync", tags=("sales",)),
            IdentitySpec("other-sync"),
        ),
        channels=[
            {"name": "ops-teams", "urls": [TEAMS], "fallback": "ops-email"},
            {"name": "ops-email", "urls": [MAIL], "severities": ["critical"], "tags": ["sales"]},
        ],
        alerts="""
[alerts]
expiry_ladder_days = [7, 30, 1]
warning_reminder_hours = 12

[alerts.delivery]
give_up_after_minutes = 30

[alerts.tags.sales]
critical_reminder_hours = 1
cannot_verify_after_failures = 5

[alerts.tags.tier-1]
critical_reminder_hours = 2

[alerts.identities.sales-sync]
resolve_after_successes = 3
""",
    )
    config = deployment.load()
    teams, email = config.channels
    assert ("ops-teams", ("critical", "warning"), (), "ops-email") == (
        teams.name,
        teams.severities,
        teams.tags,
        teams.fallback,
    )
    assert TEAMS == teams.urls[0].reveal()
    assert "SIGsecret" not in repr(teams)
    assert (("critical",), ("sales",)) == (email.severities, email.tags)
    alerts = config.alerts
    assert (30, 7, 1) == alerts.rules.expiry_ladder_days
    assert DeliveryConfig(give_up_after_minutes=30.0) == alerts.delivery
    sales = alerts.rules_for(config.identities["sales-sync"])
    assert (2.0, 5, 3, 12.0) == (
        sales.critical_reminder_hours,
        sales.cannot_verify_after_failures,
        sales.resolve_after_successes,
        sales.warning_reminder_hours,
    )
    inventory = alerts.rules_for(config.identities["inventory-sync"])
    assert (1.0, 5, 2) == (
        inventory.critical_reminder_hours,
        inventory.cannot_verify_after_failures,
        inventory.resolve_after_successes,
    )
    assert AlertRules(expiry_ladder_days=(30, 7, 1), warning_reminder_hours=12.0) == (
        alerts.rules_for(config.identities["other-sync"])
    )


def test_without_sections_the_defaults_apply(tmp_path: Path) -> None:
    """No [[channels]] and no [alerts]: no channel, default rules (ladder 60/30/14/7/3/1,
    critical every 4 h, warning daily, 3 failures over 10 minutes, 2 successes)."""
    config = write_deployment(tmp_path).load()
    assert () == config.channels
    assert AlertRules() == config.alerts.rules
    assert (60, 30, 14, 7, 3, 1, 4.0, 24.0, 3, 10.0, 2) == (
        *config.alerts.rules.expiry_ladder_days,
        config.alerts.rules.critical_reminder_hours,
        config.alerts.rules.warning_reminder_hours,
        config.alerts.rules.cannot_verify_after_failures,
        config.alerts.rules.cannot_verify_after_minutes,
        config.alerts.rules.resolve_after_successes,
    )


def test_refused_channel_urls_are_reported_without_the_url(tmp_path: Path) -> None:
    """Plain SMTP off loopback, verify=no and a retired connector are each a problem at the
    URL's path; the rendered error contains neither URL nor password."""
    plain = "mailto://alerts:PLAINsecretPW77@smtp.example.com/?from=m@example.com"
    noverify = "jsons://hooks.example.com/VERIFYsecretTOKEN9?verify=no"
    connector = "msteams://CONNECTORsecret1/CONNECTORsecret2/CONNECTORsecret3"
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": [plain, noverify, connector]}]
    )
    with pytest.raises(ConfigError) as caught:
        deployment.load()
    problems = problems_of(caught.value)
    assert "plain-text SMTP to smtp.example.com" in problems["channels[0].urls[0]"]
    assert "verify=no" in problems["channels[0].urls[1]"]
    assert "retired" in problems["channels[0].urls[2]"]
    rendered = caught.value.render()
    for secret in ("PLAINsecretPW77", "VERIFYsecretTOKEN9", "CONNECTORsecret", "hooks.example"):
        assert secret not in rendered


def test_channel_cross_references(tmp_path: Path) -> None:
    """Unknown or self fallback, duplicate names, unknown tags and identities are problems."""
    deployment = write_deployment(
        tmp_path,
        channels=[
            {"name": "ops", "urls": [TEAMS], "fallback": "nowhere"},
            {"name": "OPS", "urls": [TEAMS], "fallback": "OPS", "tags": ["no-such-tag"]},
        ],
        alerts="""
[alerts.identities.ghost-sync]
critical_reminder_hours = 1

[alerts.tags.ghost-tag]
critical_reminder_hours = 1
""",
    )
    with pytest.raises(ConfigError) as caught:
        deployment.load()
    problems = problems_of(caught.value)
    assert "another channel (ops, OPS)" in problems["channels[0].fallback"]
    assert "the channel itself" in problems["channels[1].fallback"]
    assert "a name no other channel has" in problems["channels[1].name"]
    assert "a tag some identity has" in problems["channels[1].tags[0]"]
    assert "configured identity" in problems["alerts.identities.ghost-sync"]
    assert "a tag some identity has" in problems["alerts.tags.ghost-tag"]


def test_a_channel_url_must_be_a_secret_reference_in_a_shared_config(tmp_path: Path) -> None:
    """An inline URL in a config file others can read is refused like any inline secret."""
    deployment = write_deployment(tmp_path)
    with deployment.config_path.open("a") as file:
        file.write(f'\n[[channels]]\nname = "inline"\nurls = ["{TEAMS}"]\n')
    deployment.config_path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        deployment.load()
    assert "channels[0].urls[0]" in problems_of(caught.value)
    assert "SIGsecretVALUE42" not in caught.value.render()


def test_secret_parts_of_channel_urls_are_scrubbed_once_loaded(tmp_path: Path) -> None:
    """Loading registers the signature and password on their own, so text holding just them
    (a log line with a query string) is scrubbed too."""
    from monitor.secrets import scrub

    write_deployment(tmp_path, channels=[{"name": "ops", "urls": [TEAMS, MAIL]}]).load()
    assert "sig=SIGsecretVALUE42" not in scrub("GET /invoke?sig=SIGsecretVALUE42 HTTP/1.1")
    assert "SMTPsecretPASS42" not in scrub("AUTH PLAIN user SMTPsecretPASS42")
