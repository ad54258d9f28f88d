"""`monitor discover` end to end: the real CLI in a subprocess, over TLS, against the simulator.

The table, JSON, and TOML stanzas that, appended to the configuration with the secret put in
the credential they name, validate and probe successfully; bad answers exit with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.posture import (
    APP,
    CERT_APP,
    FINANCE_USER,
    OBSERVER,
    USER,
    config_path,
    posture_scenario,
    write_config,
)

from monitor.model.discovery import watch_name
from monitor.simulator import Simulator
from monitor.simulator.scenario import stable_id

pytestmark = pytest.mark.e2e

ERP_SECRET = "eRp8Q~discovered-erp-connector-secret-0"
ENVIRONMENT_ID = "6f1c3c9e-3b0e-4f6e-9d2a-5c8e2a7b1d40"
FINANCE_OBJECT = stable_id("user", FINANCE_USER)


@pytest.fixture
def posture_sim(simulator_state: Path) -> Iterator[Simulator]:
    with Simulator(posture_scenario(), state_dir=simulator_state) as simulator:
        yield simulator
        errors = simulator.internal_errors
    assert errors == []


def run(
    root: Path, *args: str, credentials: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MONITOR_CONFIG", None)
    env.pop("CREDENTIALS_DIRECTORY", None)
    if credentials is not None:
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config_path(root)), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_table_marks_configured_unconfigured_and_the_observer(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """The table lists the configured app by its name, the observer, the unconfigured app,
    and the System Administrator flag."""
    write_config(tmp_path, posture_sim, identities=("sales-sync",))

    done = run(tmp_path, "discover")
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if APP in line}
    lines = done.stdout.splitlines()

    assert 1 == done.returncode, done.stderr  # the generated non-interactive users have no account
    assert "configured (sales-sync)" in rows["configured"]
    assert "!System Administrator" in rows["configured"]
    assert any(line.strip().startswith("observer") and OBSERVER in line for line in lines)
    assert any(line.strip().startswith("NOT CONFIGURED") and CERT_APP in line for line in lines)


def test_json_carries_every_identity(tmp_path: Path, posture_sim: Simulator) -> None:
    """--json lists each identity with its kind, configuration state and environments."""
    write_config(tmp_path, posture_sim, identities=("sales-sync",))

    done = run(tmp_path, "discover", "--json", "--environment", "prod")
    document = json.loads(done.stdout)
    identities = {i["key"]: i for t in document["tenants"] for i in t["identities"]}

    assert ("sales-sync", True, ["prod"]) == (
        identities[APP]["configured_as"],
        identities[OBSERVER]["observer"],
        [e["environment"] for e in identities[CERT_APP]["environments"]],
    )


def test_toml_stanzas_validate_and_probe_successfully(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """The --toml output appended to the configuration (the secret put into the systemd
    credential it names) validates, and `monitor check` then probes the new identity OK;
    neither the TOML nor the JSON output holds any part of the secret."""
    posture_sim.add_secret(CERT_APP, ERP_SECRET, None, display_name="erp")
    write_config(tmp_path, posture_sim, identities=("sales-sync",))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "erp-connector-secret").write_text(ERP_SECRET)
    (credentials / "erp-connector-secret").chmod(0o600)

    stanzas = run(tmp_path, "discover", "--toml")
    document = run(tmp_path, "discover", "--json")
    path = config_path(tmp_path)
    path.write_text(path.read_text() + "\n" + stanzas.stdout)
    validated = run(tmp_path, "config", "validate", credentials=credentials)
    checked = run(
        tmp_path,
        "check",
        "--identity",
        "erp-connector",
        "--no-notify",
        "--no-directory",
        credentials=credentials,
    )

    assert "[identities.erp-connector]" in stanzas.stdout
    assert 'secret = { credential = "erp-connector-secret" }' in stanzas.stdout
    assert ERP_SECRET[:8] not in stanzas.stdout
    assert ERP_SECRET[:3] not in document.stdout + stanzas.stdout  # not even Graph's hint
    assert "erp" in json.dumps(json.loads(document.stdout))  # its secret is listed by name
    assert 0 == validated.returncode, validated.stdout + validated.stderr
    assert 0 == checked.returncode, checked.stdout + checked.stderr
    assert checked.stdout.startswith("MONITOR OK")


def test_bad_answers_exit_unknown_with_one_line(tmp_path: Path, posture_sim: Simulator) -> None:
    """Dataverse answering 500 to every read: exit 3 with one line on stderr, no traceback."""
    write_config(tmp_path, posture_sim, identities=("sales-sync",))
    posture_sim.set_fault("dataverse", "http_500")

    done = run(tmp_path, "discover")

    assert 3 == done.returncode
    assert 1 == len(done.stderr.strip().splitlines()), done.stderr
    assert "Traceback" not in done.stderr
    assert "environment prod not observed" in done.stderr


def test_an_unknown_environment_is_a_usage_error(tmp_path: Path, posture_sim: Simulator) -> None:
    """--environment naming no configured environment exits 2 naming it."""
    write_config(tmp_path, posture_sim, identities=("sales-sync",))

    done = run(tmp_path, "discover", "--environment", "nowhere")

    assert (2, "monitor discover: unknown environment: nowhere\n") == (
        done.returncode,
        done.stderr,
    )


def test_named_users_running_integrations_are_listed_from_imported_usage(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """A licensed user above 80% of its allocation on 5 of 7 days in an imported Licensed User
    report is listed by name with its figures; one with a few hundred requests a day is not."""
    write_config(tmp_path, posture_sim, identities=("sales-sync",))
    today = datetime.now(UTC).date()
    busy = [36_000, 34_000, 1_000, 39_000, 33_000, 2_000, 35_000]
    lines = [
        "Environment ID,Environment Name,Caller ID,Caller Type,Usage Datetime,Entitled quantity,"
        "Total consumed quantity,Dataverse Requests,Power Automate Requests,Power Apps Requests"
    ]
    for offset, count in enumerate(busy):
        day = (today - timedelta(days=7 - offset)).isoformat()
        for caller, requests in ((stable_id("user", USER), count), (FINANCE_OBJECT, 300)):
            lines.append(
                f"{ENVIRONMENT_ID},Posture (prod),{caller},User,{day}T00:00:00Z,40000,"
                f"{requests},{requests},0,0"
            )
    report = tmp_path / "licensed.csv"
    report.write_text("\n".join(lines) + "\n")

    imported = run(tmp_path, "usage", "import", str(report))
    done = run(tmp_path, "discover")
    named = [line for line in done.stdout.splitlines() if USER in line and "allocation" in line]

    assert 0 == imported.returncode, imported.stdout + imported.stderr
    assert [
        f"  posture: {USER} (svc-sync): above its allocation share on 5 of 7 days, highest "
        "97.5% of 40,000, 25,714 requests a day on average"
    ] == named
    assert FINANCE_OBJECT not in done.stdout


def test_the_report_shows_watched_discovered_identities_marked(
    tmp_path: Path, posture_sim: Simulator
) -> None:
    """With watch = "posture", after `monitor check` the board, the expiry calendar and the
    HTML report list the unconfigured application user, marked "discovered, not probed", with
    its secret ending in 5 days; no token was requested for it."""
    posture_sim.add_secret(
        CERT_APP,
        ERP_SECRET,
        datetime.now(UTC) + timedelta(days=5, hours=1),
        display_name="erp 2025",
    )
    write_config(
        tmp_path, posture_sim, identities=("sales-sync",), extra='[discovery]\nwatch = "posture"\n'
    )
    name = watch_name("application user", "ERP connector", CERT_APP)

    checked = run(tmp_path, "check", "--no-notify")
    board = json.loads(run(tmp_path, "report", "--json").stdout)
    calendar = json.loads(run(tmp_path, "report", "expiring", "--json").stdout)
    html = tmp_path / "report.html"
    rendered = run(tmp_path, "report", "--html", str(html))
    rows = [row for row in board["identities"] if row["identity"] == name]
    entries = [row for row in calendar["expiring"] if row["identity"] == name]

    assert 2 == checked.returncode, checked.stdout + checked.stderr
    assert 0 == posture_sim.request_count("token", client_id=CERT_APP)
    assert [("discovered, not probed", "client secret 'erp 2025'")] == [
        (row["state"], row["deadline_what"][:24]) for row in rows
    ]
    assert [("graph (discovered, not probed)", 5)] == [
        (row["source"], row["days_left"]) for row in entries
    ]
    assert 0 == rendered.returncode, rendered.stderr
    assert name in html.read_text()
    assert "discovered, not probed" in html.read_text()
