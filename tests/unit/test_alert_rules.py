"""The shipped Prometheus alert rules are valid, and their promtool unit tests (each alert
firing and not firing) pass; the Grafana dashboard is dashboard JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "contrib" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed"
)
ALERTS = {
    "MonitorCredentialFailing",
    "MonitorCredentialExpiringWithoutSuccessor",
    "MonitorPasswordExpiring",
    "MonitorAllocationProjectedToRunOut",
    "MonitorStale",
    "MonitorDown",
    "MonitorUnhealthy",
    "MonitorNotificationsDeadLettered",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, check=False, cwd=RULES.parent
    )


@needs_promtool
def test_promtool_check_rules() -> None:
    """`promtool check rules` accepts the shipped rules."""
    done = promtool("check", "rules", str(RULES))

    assert 0 == done.returncode, done.stdout + done.stderr


@needs_promtool
def test_promtool_test_rules() -> None:
    """`promtool test rules` passes: every alert fires for one series and not for another."""
    done = promtool("test", "rules", str(RULE_TESTS))

    assert 0 == done.returncode, done.stdout + done.stderr


def test_every_alert_is_tested_firing() -> None:
    """The rule file has the alerts the documentation lists, and each one appears firing in
    the rule tests."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    firing = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }

    assert ALERTS == names
    assert ALERTS == firing


def test_the_dashboard_is_grafana_json() -> None:
    """The dashboard has a title, a schema version and panels each with a query."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["title"]
    assert [] == [panel["title"] for panel in dashboard["panels"] if not panel.get("targets")]
