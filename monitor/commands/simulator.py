"""``monitor simulator``: serve a local imitation of Entra ID and Dataverse until interrupted.

It prints the authority host, the CA certificate to trust, tenant ids and environment URLs, and
a configuration snippet to paste. Without ``--scenario`` it serves the shipped demo scenario.
``--print-template`` prints the commented scenario template; ``monitor simulator control
ACTION`` changes a running simulator (docs/simulator.md, "Control interface").
"""

from __future__ import annotations

import argparse

HELP = "serve a local imitation of Entra ID and Dataverse (for demos and tests)"
DESCRIPTION = (
    "Serve a local HTTPS imitation of Entra ID and Dataverse on 127.0.0.1 until interrupted "
    "(Ctrl-C or SIGTERM). It prints the authority host, the CA certificate to trust, tenant ids, "
    "environment URLs and a configuration snippet to paste. Without --scenario it serves the "
    "demo scenario shipped with monitor."
)
EPILOG = (
    'Scenario format: docs/simulator.md ("Scenario file"); `monitor simulator '
    "--print-template > my.toml` writes a commented template naming every key. While it runs, "
    "`monitor simulator control ACTION` expires a secret, disables a user, throttles an "
    "endpoint ... (`monitor simulator control --help`), to watch the monitor alert."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from monitor.simulator.control_cli import CONTROL_DESCRIPTION, add_control_arguments
    from monitor.simulator.standalone import add_arguments

    parser.epilog = EPILOG
    add_arguments(parser)
    parser.add_argument(
        "--print-template",
        action="store_true",
        help="print the commented scenario template (every key, with examples) and exit",
    )
    commands = parser.add_subparsers(dest="simulator_command", metavar="{control}")
    control = commands.add_parser(
        "control",
        help="change a running simulator (expire a secret, disable a user, throttle ...)",
        description=CONTROL_DESCRIPTION,
    )
    add_control_arguments(control)


def run(args: argparse.Namespace) -> int:
    from monitor.simulator.standalone import default_state_dir, print_template, serve

    if getattr(args, "simulator_command", None) == "control":
        from monitor.simulator.control_cli import run_control

        return run_control(args, args.control_state_dir or args.state_dir or default_state_dir())
    if args.print_template:
        return print_template()
    return serve(args.scenario, port=args.port, state_dir=args.state_dir, verbose=args.verbose)
