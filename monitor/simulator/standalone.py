"""Serve a scenario until interrupted, printing what a configuration needs to point at it.

Used by ``monitor simulator`` and ``python -m monitor.simulator``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from monitor.exits import EXIT_CONFIG, EXIT_UNAVAILABLE

if TYPE_CHECKING:
    from monitor.simulator.server import Simulator

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``monitor simulator`` (and ``python -m monitor.simulator``)."""
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario TOML file (default: the demo scenario shipped with monitor)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8443,
        help="port on 127.0.0.1 (default: 8443; 0 = any free)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the simulator keeps its CA and server certificate across restarts "
        "(default: $STATE_DIRECTORY, $XDG_STATE_HOME/monitor-simulator or "
        "~/.local/state/monitor-simulator)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request to standard error"
    )


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 to 65535 (0: any free port)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is out of range (from 0 to 65,535)")
    return value


def default_state_dir() -> Path:
    """Return where a standalone simulator keeps its CA: systemd's ``$STATE_DIRECTORY``, else
    ``$XDG_STATE_HOME/monitor-simulator``, else ``~/.local/state/monitor-simulator``."""
    systemd_state = os.environ.get("STATE_DIRECTORY")
    if systemd_state:
        return Path(systemd_state.split(":")[0]) / "simulator"
    xdg_state = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg_state) if xdg_state else Path.home() / ".local" / "state"
    return base / "monitor-simulator"


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(path: tuple[str, ...], **values: str) -> list[str]:
    """Return a TOML table of string *values*: a blank line, its header, ``key = "value"``."""
    header = ".".join(_key(part) for part in path)
    return ["", f"[{header}]", *(f"{key} = {_string(value)}" for key, value in values.items())]


def describe(simulator: Simulator) -> str:
    """Return the text a user needs to point a monitor configuration at ``simulator``."""
    scenario = simulator.scenario
    lines = [
        f'monitor simulator: scenario "{scenario.name}" on {simulator.authority_host}',
        f"CA certificate to trust: {simulator.ca_path}",
    ]
    if scenario.source is not None:
        lines.append(f"Scenario file (secrets and passwords are there): {scenario.source}")
    with scenario.lock:
        lines += ["", "Tenants:"]
        lines += [
            f"  {tenant.name:<20} {tenant.tenant_id}  ({', '.join(tenant.domains)})"
            for tenant in scenario.tenants.values()
        ]
        lines += ["", "Environments:"]
        lines += [
            f"  {env.name:<20} {simulator.environment_url(env.name)}  (tenant {env.tenant})"
            for env in scenario.environments.values()
        ]
        lines += ["", "Identities:"]
        for application in scenario.applications.values():
            kind = "public client" if application.allow_public_client else "application"
            lines.append(
                f"  {kind:<14} {application.client_id}  {application.display_name} "
                f"(tenant {application.tenant}, {len(application.secrets)} secret(s), "
                f"{len(application.certificates)} certificate(s))"
            )
        for user in scenario.users.values():
            lines.append(f"  {'user':<14} {user.upn}  (tenant {user.tenant})")
        lines += ["", "Configuration snippet:"]
        lines += _table(("network",), ca_bundle=str(simulator.ca_path))
        for tenant in scenario.tenants.values():
            lines += _table(
                ("tenants", tenant.name),
                tenant_id=tenant.tenant_id,
                cloud="custom",
                authority_host=simulator.authority_host,
                graph_url=simulator.graph_url,
            )
        for env in scenario.environments.values():
            lines += _table(
                ("environments", env.name),
                tenant=env.tenant,
                url=simulator.environment_url(env.name),
            )
    lines += [
        "",
        "Note: for username/password sign-ins msal first calls "
        "https://localhost/common/userrealm/... without the port; the monitor's probes route it "
        "to the authority host.",
    ]
    return "\n".join(lines)


def print_template(out: TextIO | None = None) -> int:
    """Print the commented scenario template shipped with monitor; return 0."""
    from importlib import resources

    template = resources.files("monitor.simulator").joinpath("scenarios", "template.toml")
    print(template.read_text(), file=out if out is not None else sys.stdout, end="")
    return 0


def serve(
    scenario_path: Path | None,
    *,
    port: int = 8443,
    state_dir: Path | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve ``scenario_path`` (default: the demo scenario) until SIGINT/SIGTERM or ``stop``.

    Return 0 after a clean stop, 78 if the scenario is invalid, 69 if the port is unavailable.
    """
    from monitor.simulator.scenario import ScenarioError, demo_scenario_path, load_scenario
    from monitor.simulator.server import Simulator

    output = out if out is not None else sys.stdout
    try:
        scenario = load_scenario(scenario_path if scenario_path else demo_scenario_path())
    except ScenarioError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    state_dir = state_dir or default_state_dir()
    simulator = Simulator(scenario, state_dir=state_dir, port=port, verbose=verbose)
    try:
        simulator.start()
    except OSError as error:
        print(f"monitor simulator: cannot listen on 127.0.0.1:{port}: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    stopped = stop if stop is not None else threading.Event()
    previous: list[tuple[signal.Signals, Any]] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous.append((signum, signal.signal(signum, request_stop)))
    try:
        print(describe(simulator), file=output, flush=True)
        print(
            "\nChange it while it runs (expire a secret, disable a user, throttle ...): "
            f"monitor simulator control --state-dir {state_dir} ACTION "
            "(monitor simulator control --help)",
            file=output,
            flush=True,
        )
        print("\nServing; press Ctrl-C to stop.", file=output, flush=True)
        if ready is not None:
            ready.set()
        while not stopped.wait(0.5):  # a timeout keeps signal handling responsive
            pass
    finally:
        simulator.stop()
        for signum, handler in previous:
            signal.signal(signum, handler)
    print("monitor simulator: stopped", file=output, flush=True)
    return 0
