"""`python -m monitor.simulator` as a separate process: serve, answer, stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests


def start(state_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.simulator",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def read_until_serving(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Serving"):
            return "".join(lines)
    process.kill()
    raise AssertionError("the simulator did not start:\n" + "".join(lines))


def test_standalone_simulator_serves_until_sigterm_and_keeps_its_ca(tmp_path: Path) -> None:
    """The process prints where it listens, answers over TLS, stops cleanly on SIGTERM, and a
    restart on the same state directory presents the same CA."""
    process = start(tmp_path)
    try:
        banner = read_until_serving(process)
        authority = banner.split(" on ", 1)[1].split("\n", 1)[0]
        ca_path = tmp_path / "ca.pem"
        assert f"CA certificate to trust: {ca_path}" in banner
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(ca_path)
            metadata = http.get(f"{authority}/contoso.com/v2.0/.well-known/openid-configuration")
        assert metadata.status_code == 200
        first_ca = ca_path.read_bytes()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert time.monotonic() - started < 5
        assert out.endswith("monitor simulator: stopped\n")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    again = start(tmp_path)
    try:
        read_until_serving(again)
        assert ca_path.read_bytes() == first_ca
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=10)
        assert again.returncode == 0
    finally:
        if again.poll() is None:
            again.kill()
            again.communicate()


def test_invalid_scenario_exits_with_the_config_error_code(tmp_path: Path) -> None:
    """A broken scenario file exits 78 and explains itself on stderr."""
    scenario = tmp_path / "broken.toml"
    scenario.write_text('[[tenants]]\nname = "x"\nid = "nope"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.simulator",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    assert "tenants[0].id: expected a GUID" in result.stderr
