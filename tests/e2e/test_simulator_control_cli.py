"""Trying alerts safely: a standalone ``monitor simulator`` changed by ``monitor simulator
control`` while ``monitor check`` watches it, every part a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.deployment import (
    APP_SECRET,
    CERT_APP,
    PUBLIC_APP,
    SECRET_APP,
    TENANT_ID,
    USER_PASSWORD,
    USER_UPN,
    Deployment,
    make_certificate,
    write_deployment,
)

pytestmark = pytest.mark.e2e

SCENARIO = f"""
name = "control-e2e"

[[tenants]]
name = "e2e"
id = "{TENANT_ID}"
domain = "e2e.example"

[[apps]]
client_id = "{SECRET_APP}"
tenant = "e2e"
secrets = [{{ value = "{APP_SECRET}", end = "+30d", name = "e2e secret" }}]

[[apps]]
client_id = "{CERT_APP}"
tenant = "e2e"

[[apps]]
client_id = "{PUBLIC_APP}"
tenant = "e2e"
allow_public_client = true

[[users]]
upn = "{USER_UPN}"
password = "{USER_PASSWORD}"

[[environments]]
name = "e2e-prod"
tenant = "e2e"

[[environments.members]]
app = "{SECRET_APP}"
roles = ["Integration"]

[[environments.members]]
user = "{USER_UPN}"
roles = ["Integration"]
access_mode = 4

[[environments]]
name = "e2e-test"
tenant = "e2e"
"""


@dataclass
class RunningSimulator:
    """A ``monitor simulator`` subprocess and where it listens."""

    process: subprocess.Popen[str]
    state_dir: Path
    authority_host: str

    @property
    def graph_url(self) -> str:
        return f"{self.authority_host}/graph"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    def environment_url(self, name: str) -> str:
        return f"{self.authority_host}/env/{name}"

    def control(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``monitor simulator control --state-dir DIR ARGS...``."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "simulator",
                "control",
                "--state-dir",
                str(self.state_dir),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[RunningSimulator]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    state_dir = tmp_path / "simulator"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "simulator",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("Serving"):
                break
            banner.append(line)
        authority = banner[0].split(" on ", 1)[1].strip()
        assert authority.startswith("https://localhost:"), "".join(banner)
        yield RunningSimulator(process, state_dir, authority)
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert not (state_dir / "control.json").exists()


def _outcomes(finished: subprocess.CompletedProcess[str]) -> dict[str, str]:
    document: dict[str, Any] = json.loads(finished.stdout)
    return {result["identity"]: result["outcome"] for result in document["results"]}


def _check(deployment: Deployment) -> tuple[int, dict[str, str]]:
    finished = deployment.run("check", "--json")
    return finished.returncode, _outcomes(finished)


def test_an_operator_breaks_identities_and_the_check_reports_each_outcome(
    tmp_path: Path, standalone: RunningSimulator
) -> None:
    """Healthy first; then a 429 storm on Dataverse (WARNING, throttled), cleared (OK again);
    an expired secret (CRITICAL, credential_expired) and a disabled user (account_disabled),
    each change printed by the control command on one line."""
    deployment = write_deployment(
        tmp_path / "deployment",
        standalone,
        make_certificate()[0],
        identities=["app-secret", "user-password"],
    )
    assert (0, {"app-secret": "ok", "user-password": "ok"}) == _check(deployment)

    throttle = standalone.control("throttle", "--family", "whoami", "--retry-after", "1")
    assert 0 == throttle.returncode, throttle.stderr
    assert [
        "throttling: 429 with Retry-After 1s on the whoami endpoint, every request until cleared"
    ] == throttle.stdout.splitlines()
    assert (1, {"app-secret": "throttled", "user-password": "throttled"}) == _check(deployment)

    cleared = standalone.control("clear-faults")
    assert ["cleared: 1 fault(s); every endpoint answers normally"] == cleared.stdout.splitlines()
    time.sleep(1.2)  # the monitor honours Retry-After before it asks again
    # Both sign in again (the exit code stays WARNING: a usage finding remembers the throttling).
    assert {"app-secret": "ok", "user-password": "ok"} == _check(deployment)[1]

    expired = standalone.control("expire-secret", SECRET_APP)
    assert 0 == expired.returncode, expired.stderr
    (line,) = expired.stdout.splitlines()
    assert line.startswith(f"expired: secret 'e2e secret' of application {SECRET_APP}")
    assert APP_SECRET not in expired.stdout
    assert (2, {"app-secret": "credential_expired", "user-password": "ok"}) == _check(deployment)

    disabled = standalone.control("disable-user", USER_UPN.upper())
    assert [f"disabled: user {USER_UPN}"] == disabled.stdout.splitlines()
    assert (
        2,
        {"app-secret": "credential_expired", "user-password": "account_disabled"},
    ) == _check(deployment)


def test_unknown_identities_and_actions_get_one_line_errors(
    standalone: RunningSimulator,
) -> None:
    """An unknown user or application exits 2 with one line naming it; an unknown action is
    refused by the command line before anything is sent."""
    user = standalone.control("disable-user", "nobody@e2e.example")
    app = standalone.control("expire-secret", CERT_APP)
    action = standalone.control("explode")

    assert (2, "", ["monitor simulator control disable-user: no user nobody@e2e.example"]) == (
        user.returncode,
        user.stdout,
        user.stderr.splitlines(),
    )
    assert [
        f"monitor simulator control expire-secret: application {CERT_APP} has no secret at all"
    ] == app.stderr.splitlines()
    assert 2 == action.returncode
    assert "invalid choice: 'explode'" in action.stderr


def test_without_a_running_simulator_the_command_says_so(tmp_path: Path) -> None:
    """A state directory no simulator uses: exit 69 and how to start one."""
    command = ["simulator", "control", "--state-dir", str(tmp_path), "clear-faults"]
    finished = subprocess.run(
        [sys.executable, "-m", "monitor", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert 69 == finished.returncode
    assert [
        f"monitor simulator control clear-faults: no running simulator uses {tmp_path} "
        f"(control.json is missing): start it with `monitor simulator --state-dir {tmp_path}` "
        "or pass the --state-dir it uses"
    ] == finished.stderr.splitlines()
