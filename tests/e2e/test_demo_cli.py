"""``monitor demo`` as a user runs it from the README."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_offline_quickly_and_finds_what_its_scenario_breaks() -> None:
    """The demo exits 0 (every identity as set up), in under 20 s, and explains the findings."""
    begun = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "monitor", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("HTTPS_PROXY", "https_proxy")},
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - begun

    assert finished.returncode == 0, finished.stderr
    assert elapsed < 20
    for expected in (
        "credential_expired",
        "credential_invalid",
        "account_disabled",
        "not_in_environment",
        "password_expired",
        "policy_blocked",
        "held back, no sign-in attempted",
        "Next steps",
    ):
        assert expected in finished.stdout
    # The demo's own fake secrets are never printed either.
    assert "Demo-Old-Password-Before-Change" not in finished.stdout + finished.stderr
    assert "sAl8Q~0EgOvga7mgMNFJ9RVkAr0zP3CcGJA_1e3U" not in finished.stdout + finished.stderr


@pytest.mark.parametrize("planted", ["credentials", "monitor.toml"])
def test_demo_keep_never_writes_through_a_planted_link(tmp_path: Path, planted: str) -> None:
    """A symbolic link planted in the --keep folder (at the credentials folder or the
    configuration file) is refused in one line, exit 2; what it points to stays untouched."""
    keep = tmp_path / "keep"
    keep.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    if planted == "credentials":
        victim.mkdir()
    else:
        victim.write_text("precious")
    (keep / planted).symlink_to(victim)

    finished = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    lines = finished.stderr.splitlines()
    assert 2 == finished.returncode, finished.stderr
    assert 1 == len(lines), finished.stderr
    assert lines[0].startswith("monitor demo: refusing to write")
    assert str(keep / planted) in lines[0]
    if planted == "credentials":
        assert [] == list(victim.iterdir())
    else:
        assert "precious" == victim.read_text()
