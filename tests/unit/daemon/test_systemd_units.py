"""The shipped systemd units: `systemd-analyze verify` prints nothing, and the offline security
exposure is at most 1.5 (skipped where systemd-analyze does not exist)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[3] / "systemd"
UNITS = ("monitor.service", "monitor-check.service", "monitor-check.timer")
SERVICES = ("monitor.service", "monitor-check.service")
ANALYZE = shutil.which("systemd-analyze")

needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)


def copies(tmp_path: Path) -> Path:
    """Copy the units with ExecStart= and ExecReload= replaced by a command that exists here
    (verify checks that the executable exists); return the folder."""
    folder = tmp_path / "units"
    folder.mkdir()
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        (folder / name).write_text(re.sub(r"(?m)^(Exec(?:Start|Reload))=.*$", r"\1=true", text))
    return folder


def directives(name: str) -> list[tuple[str, str]]:
    """Return the (key, value) lines of a unit file, comments and sections left out."""
    pairs = []
    for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


@needs_analyze
def test_verify_prints_nothing(tmp_path: Path) -> None:
    """verify exits 0 even on unknown keys and typos, so any output at all fails the test."""
    folder = copies(tmp_path)
    assert ANALYZE is not None

    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", *(str(folder / name) for name in UNITS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert ("", "", 0) == (done.stdout, done.stderr, done.returncode)


@needs_analyze
@pytest.mark.parametrize("name", SERVICES)
def test_offline_security_exposure_is_at_most_1_5(tmp_path: Path, name: str) -> None:
    """The exposure score stays at or below 1.5 (threshold 15 on the 0-100 scale)."""
    folder = copies(tmp_path)
    assert ANALYZE is not None

    done = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--threshold=15", "--no-pager", str(folder / name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    score = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    assert float(score[1]) <= 1.5
    assert 0 == done.returncode, done.stdout


@needs_analyze
def test_key_protections_are_set(tmp_path: Path) -> None:
    """The checks that matter most are pinned one by one (a score can hide a trade)."""
    folder = copies(tmp_path)
    assert ANALYZE is not None

    done = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--json=short", str(folder / "monitor.service")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    checks = {item["name"]: item for item in json.loads(done.stdout)}

    for name in (
        "MemoryDenyWriteExecute=",
        "NoNewPrivileges=",
        "ProtectSystem=",
        "ProtectHome=",
        "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "RestrictNamespaces=~user",
        "User=/DynamicUser=",
    ):
        assert checks[name]["set"], name
        assert checks[name]["exposure"] is None, name  # None: no exposure from this check


def test_the_daemon_unit_is_what_the_daemon_expects() -> None:
    """Type=notify with the watchdog, a static user and state directory, secrets only through
    LoadCredential=, no restart loop on a configuration error, start limits in [Unit]."""
    pairs = directives("monitor.service")
    keys = dict(pairs)
    text = (SYSTEMD / "monitor.service").read_text(encoding="utf-8")

    assert "notify" == keys["Type"]
    assert "main" == keys["NotifyAccess"]
    assert "/opt/monitor/venv/bin/monitor run" == keys["ExecStart"]
    assert "78" == keys["RestartPreventExitStatus"]
    assert ("monitor", "monitor", "monitor") == (
        keys["User"],
        keys["Group"],
        keys["StateDirectory"],
    )
    assert int(keys["WatchdogSec"]) >= 60
    assert int(keys["TimeoutStopSec"]) > 20  # above the default stop_timeout_seconds
    assert text.index("\nStartLimitBurst=") < text.index("\n[Service]\n")
    assert [v for k, v in pairs if k == "Environment"] == [
        "MONITOR_CONFIG=/etc/monitor/monitor.toml"
    ]
    assert any(k == "LoadCredential" for k, _ in pairs)


def test_sysusers_creates_the_unit_user() -> None:
    """The static user the units name is declared for systemd-sysusers."""
    line = (SYSTEMD / "sysusers.d" / "monitor.conf").read_text().splitlines()[-1]

    assert line.startswith("u monitor - ")
