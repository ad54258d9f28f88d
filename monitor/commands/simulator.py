"""``monitor simulator``: serve a local imitation of Entra ID and Dataverse until interrupted.

It prints the authority host, the CA certificate to trust, tenant ids and environment URLs, and
a configuration snippet to paste. Without ``--scenario`` it serves the shipped demo scenario.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from monitor.simulator.standalone import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from monitor.simulator.standalone import serve

    return serve(args.scenario, port=args.port, state_dir=args.state_dir, verbose=args.verbose)
