"""``python -m monitor.simulator``: the same as ``monitor simulator``."""

import argparse

from monitor.commands.simulator import add_arguments, run

parser = argparse.ArgumentParser(
    prog="python -m monitor.simulator",
    description="Serve a local imitation of Entra ID and Dataverse until interrupted.",
)
add_arguments(parser)
raise SystemExit(run(parser.parse_args()))
