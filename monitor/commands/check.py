"""``monitor check``: one pass over every identity, stored, printed, Nagios exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="probe every identity once, store and print the results",
        description="Sign in as every configured identity (or the ones named), call Dataverse "
        "WhoAmI in each environment, store the results and print them. Exit codes follow the "
        "Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )
    parser.add_argument(
        "--identity",
        action="append",
        metavar="NAME",
        help="probe only this identity (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--force",
        action="store_true",
        help="try a password identity once even though the lockout guard holds it (use after "
        "an admin unlocked the account or reset the password in place)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_for_writing
    from monitor.engine import CheckPass, select_identities
    from monitor.outcomes import Severity
    from monitor.summary import overall, render_json, render_table

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
        report = CheckPass(config, store, fingerprint_key=key).run(identities, force=args.force)
    if args.json:
        print(render_json(report.run_id, report.results))
    else:
        print(render_table(report.results))
    return int(overall(report.results))
