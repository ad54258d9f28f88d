"""``python -m monitor.simulator``: the same as ``monitor simulator``."""

import argparse

from monitor.simulator.standalone import add_arguments, serve

parser = argparse.ArgumentParser(
    prog="python -m monitor.simulator",
    description="Serve a local imitation of Entra ID and Dataverse until interrupted.",
)
add_arguments(parser)
args = parser.parse_args()
raise SystemExit(
    serve(args.scenario, port=args.port, state_dir=args.state_dir, verbose=args.verbose)
)
