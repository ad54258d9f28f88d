"""``monitor check``: one pass of the whole pipeline, stored, printed, Nagios exit code."""

from __future__ import annotations

import argparse
import json
import sys

from monitor.commands._args import add_identity_option, bounded_float
from monitor.exits import EXIT_UNKNOWN

HELP = "probe every identity once, read due directories, evaluate and alert"
DESCRIPTION = (
    "One pass of what `monitor run` does on a schedule: sign in as every configured identity "
    "(or the ones named) and call Dataverse WhoAmI in each environment, read the directories "
    "that are due (posture), evaluate findings into incidents and send the notifications that "
    "are due. Exit codes follow the Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, "
    "3 UNKNOWN."
)
# A damaged database is UNKNOWN (monitor.damage); so is any failure no step handled.
DEFAULTS = {"damaged_exit": EXIT_UNKNOWN, "nagios": True}

# Below the 60 s a Nagios or Icinga check command gets by default.
DEFAULT_TIMEOUT_SECONDS = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_identity_option(parser, "probe only this identity (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--force",
        action="store_true",
        help="try a password identity once even though the lockout guard holds it (use after "
        "an admin unlocked the account or reset the password in place)",
    )
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="record incidents but send no notification (and no heartbeat ping)",
    )
    parser.add_argument(
        "--timeout",
        type=bounded_float(1, 86400),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="end the check after this long, below the plugin timeout of Nagios/Icinga "
        f"(default {DEFAULT_TIMEOUT_SECONDS:g}): what is unfinished is reported as not "
        "checked, exit 3 (UNKNOWN)",
    )
    parser.add_argument(
        "--no-directory",
        action="store_true",
        help="skip the directory (posture) reads even if they are due",
    )


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_for_writing
    from monitor.model.outcomes import Severity
    from monitor.output.cycle import cycle_document, cycle_state, cycle_text
    from monitor.pipeline.probing import select_identities
    from monitor.pipeline.steps import CycleContext, run_cycle

    opened = open_for_writing(args)
    if isinstance(opened, int):
        return opened
    config, store, key = opened
    with store:
        try:
            identities = select_identities(config, args.identity)
        except KeyError as exc:
            print(f"monitor check: unknown identity: {exc.args[0]}", file=sys.stderr)
            return int(Severity.UNKNOWN)
        outcome = run_cycle(
            CycleContext.build(config, store, fingerprint_key=key),
            identities,
            force=args.force,
            notify=not args.no_notify,
            directory=not args.no_directory,
            timeout=args.timeout,
        )
    names = [identity.name for identity in identities] if args.identity else None
    state = cycle_state(outcome, names)
    if args.json:
        print(json.dumps(cycle_document(outcome, config, names, state), indent=2))
    else:
        print(cycle_text(outcome, config, names, state))
    return int(state)
