"""``monitor simulator``: serve a local imitation of Entra ID and Dataverse until interrupted.

It prints the authority host, the CA certificate to trust, tenant ids and environment URLs, and
a configuration snippet to paste. Without ``--scenario`` it serves the shipped demo scenario.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.commands._args import bounded_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario TOML file (default: the demo scenario shipped with monitor)",
    )
    parser.add_argument(
        "--port",
        type=bounded_int(0, 65535),
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


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulator",
        help="serve a local imitation of Entra ID and Dataverse (for demos and tests)",
        description="Serve a local HTTPS imitation of Entra ID and Dataverse on 127.0.0.1 until "
        "interrupted (Ctrl-C or SIGTERM). It prints the authority host, the CA certificate to "
        "trust, tenant ids, environment URLs and a configuration snippet to paste. Without "
        "--scenario it serves the demo scenario shipped with monitor.",
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from monitor.simulator.standalone import serve

    return serve(args.scenario, port=args.port, state_dir=args.state_dir, verbose=args.verbose)
