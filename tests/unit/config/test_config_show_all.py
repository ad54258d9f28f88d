"""``monitor config show`` shows every section of the configuration, secrets only as references."""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from config_testkit import PASSPHRASE_FOR_EXAMPLE, CertificateFiles

from monitor import cli

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
TEAMS_SIGNATURE = "Zx9Q2wE7rT4yU1iO8pA5sD3fG6hJ0kL"
TEAMS_URL = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c3d/triggers/manual/paths/"
    f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={TEAMS_SIGNATURE}"
)
SMTP_PASSWORD = "smtp-Pa55w0rd-4711-relay"
SMTP_URL = f"mailtos://alerts:{SMTP_PASSWORD}@smtp.example.com/?to=ops@example.com"
HEARTBEAT_URL = "https://hc-ping.com/5f3c9e0a-1b2d-4e6f-8a7b-9c0d1e2f3a4b"
# The commented-out parts of the example, switched on so that every section has content.
SWITCHED_ON = """
[schedule.identities.sales-sync]
probe_interval_seconds = 300

[alerts.identities.sales-sync]
expiry_ladder_days = [90, 60, 30, 14, 7, 3, 1]

[[channels]]
name = "ops-teams"
urls = [{ credential = "teams-workflow-url" }]
severities = ["critical", "warning", "info"]
fallback = "ops-email"

[[channels]]
name = "ops-email"
urls = [{ credential = "ops-smtp-url" }]
tags = ["tier-1", "sales"]
"""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)
    path.chmod(0o600)


@pytest.fixture
def shown(
    tmp_path: Path,
    certificate_files: CertificateFiles,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[str, dict[str, bytes], str]:
    """Run ``config show`` on the example (with its commented parts switched on and every
    secret it refers to); return (output, secret files, the configuration text)."""
    config = tmp_path / "monitor.toml"
    shutil.copyfile(EXAMPLE, config)
    text = config.read_text().replace(
        '# heartbeat_url = { credential = "heartbeat-url" }',
        'heartbeat_url = { credential = "heartbeat-url" }',
    )
    text += SWITCHED_ON
    config.write_text(text)
    credentials = tmp_path / "credentials"
    secrets = {
        "fingerprint-key": os.urandom(32),
        "sales-sync-secret": b"example-client-secret-Q8w~value",
        "gov-reporting-pfx-passphrase": PASSPHRASE_FOR_EXAMPLE,
        "dataverse-sync-password": b"example-password-7hG2kL9q",
        "teams-workflow-url": TEAMS_URL.encode(),
        "ops-smtp-url": SMTP_URL.encode(),
        "heartbeat-url": HEARTBEAT_URL.encode(),
    }
    for name, value in secrets.items():
        _write(credentials / name, value)
    _write(credentials / "gov-reporting.pfx", certificate_files.pfx(PASSPHRASE_FOR_EXAMPLE))
    _write(tmp_path / "certs" / "inventory-sync.pem", certificate_files.pem)
    monkeypatch.setattr(cli, "COMMANDS", {"config": "config"})
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    for name in ("STATE_DIRECTORY", "MONITOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    code = cli.main(["--config", str(config), "config", "show"])

    out, err = capsys.readouterr()
    assert (0, "") == (code, err)
    return out, secrets, text


def test_every_top_level_section_of_the_example_is_shown(
    shown: tuple[str, dict[str, bytes], str],
) -> None:
    """Each top-level table of config.example.toml (channels included) has a header in the
    output, and so do the nested tables it sets."""
    out, _, text = shown
    headers = set(re.findall(r"^\[\[?([^\]]+)\]\]?$", out, re.MULTILINE))
    top_level = {header.split(".", 1)[0] for header in headers}

    assert sorted(tomllib.loads(text)) == sorted(set(tomllib.loads(text)) & top_level)
    assert {
        "schedule",
        "schedule.identities.sales-sync",
        "retention",
        "directory",
        "usage",
        "usage.entitlements",
        "usage.tenants.contoso",
        "alerts",
        "alerts.delivery",
        "alerts.tags.tier-1",
        "alerts.identities.sales-sync",
        "channels",
    } <= headers


def test_values_defaults_and_channels_are_shown(shown: tuple[str, dict[str, bytes], str]) -> None:
    """Set values and defaults alike; channel URLs by their source with only scheme and host."""
    out, _, _ = shown
    expected = [
        "probe_interval_seconds = 900.0",
        "retention_interval_seconds = 86400.0",
        "password_probe_interval_seconds = 3600.0",
        "[schedule.identities.sales-sync]\nprobe_interval_seconds = 300.0",
        "probe_results_days = 90",
        "interval_hours = 6.0",
        "not_observed_after_failures = 3",
        "warning_percent = 80.0",
        "dynamics_licences = 120",
        "expiry_ladder_days = [60, 30, 14, 7, 3, 1]",
        "[alerts.tags.tier-1]\ncritical_reminder_hours = 1.0",
        'heartbeat_url = "<secret from credential:heartbeat-url>"',
        "give_up_after_minutes = 60.0",
        'urls = ["<secret from credential:teams-workflow-url>"]  '
        "# https://prod-12.westeurope.logic.azure.com:443",
        'urls = ["<secret from credential:ops-smtp-url>"]  # mailtos://smtp.example.com',
        'fallback = "ops-email"',
        'tags = ["tier-1", "sales"]',
        "credential_expires = 2027-03-01T00:00:00+00:00",
        'credential_expires_source = "vendor portal, ticket 4711"',
    ]
    assert [] == [line for line in expected if line not in out]


def test_no_secret_value_is_shown(shown: tuple[str, dict[str, bytes], str]) -> None:
    """No secret file's content, nor the secret parts of a channel URL, is in the output."""
    out, secrets, _ = shown
    values = [value.decode("latin-1").strip() for value in secrets.values()]
    parts = [TEAMS_SIGNATURE, SMTP_PASSWORD, "5f3c9e0a-1b2d-4e6f-8a7b-9c0d1e2f3a4b"]

    assert [] == [value for value in values + parts if value and value in out]
