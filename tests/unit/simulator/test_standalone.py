"""Serving standalone: what `monitor simulator` prints, and its command module."""

from __future__ import annotations

import argparse
import io
import threading
import tomllib
from pathlib import Path

import pytest
import requests

from monitor.cli import add_command
from monitor.commands import simulator as command
from monitor.simulator import Simulator, demo_scenario_path
from monitor.simulator.standalone import EXIT_CONFIG, default_state_dir, describe, serve


def test_describe_prints_a_config_snippet_that_parses(state_dir: Path) -> None:
    """The printed snippet is valid TOML naming the CA, the tenants and the environments."""
    with Simulator(state_dir=state_dir) as sim:
        text = describe(sim)
    snippet = text.split("Configuration snippet:\n", 1)[1].split("\nNote:", 1)[0]
    config = tomllib.loads(snippet)
    assert config["network"]["ca_bundle"] == str(sim.ca_path)
    contoso = config["tenants"]["contoso"]
    assert contoso == {
        "tenant_id": "efb02f8b-3371-4071-a355-58597cfd899d",
        "cloud": "custom",
        "authority_host": sim.authority_host,
        "graph_url": f"{sim.authority_host}/graph",
    }
    assert config["environments"]["contoso-prod"] == {
        "tenant": "contoso",
        "url": f"{sim.authority_host}/env/contoso-prod",
    }
    assert "sAl8Q~" not in text  # secrets stay in the scenario file
    assert f"Scenario file (secrets and passwords are there): {demo_scenario_path()}" in text


def test_serve_runs_until_asked_to_stop(tmp_path: Path) -> None:
    """serve() answers requests until its stop event is set, then returns 0."""
    ready, stop = threading.Event(), threading.Event()
    out = io.StringIO()
    codes: list[int] = []
    server = threading.Thread(
        target=lambda: codes.append(
            serve(None, port=0, state_dir=tmp_path, out=out, ready=ready, stop=stop)
        )
    )
    server.start()
    assert ready.wait(10)
    authority = out.getvalue().split(" on ", 1)[1].split("\n", 1)[0]
    with requests.Session() as http:
        http.trust_env = False
        http.verify = str(tmp_path / "ca.pem")
        response = http.get(f"{authority}/contoso.com/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    stop.set()
    server.join(5)
    assert codes == [0]
    assert out.getvalue().endswith("monitor simulator: stopped\n")


def test_serve_rejects_an_invalid_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid scenario is a configuration error (exit 78), reported on stderr."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[tenants]]\n")
    assert serve(bad, port=0, state_dir=tmp_path) == EXIT_CONFIG
    assert "tenants[0].name: is required" in capsys.readouterr().err


def test_default_state_dir_follows_systemd_then_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    """$STATE_DIRECTORY wins, then $XDG_STATE_HOME, then ~/.local/state."""
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/monitor:/other")
    assert default_state_dir() == Path("/var/lib/monitor/simulator")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/xdg")
    assert default_state_dir() == Path("/xdg/monitor-simulator")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == Path.home() / ".local" / "state" / "monitor-simulator"


def test_command_module_registers_the_subcommand() -> None:
    """`monitor simulator` parses its options and points at run()."""
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(), "simulator")
    args = parser.parse_args(["simulator", "--scenario", "x.toml", "--port", "0"])
    assert (args.scenario, args.port, args.state_dir, args.run) == (
        Path("x.toml"),
        0,
        None,
        command.run,
    )
    defaults = parser.parse_args(["simulator"])
    assert (defaults.scenario, defaults.port, defaults.verbose) == (None, 8443, False)
