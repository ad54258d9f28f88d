"""``monitor check``: one pass of the whole pipeline, stored, printed, Nagios exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from monitor.commands._args import add_identity_option, bounded_float
from monitor.exits import EXIT_UNKNOWN

if TYPE_CHECKING:
    from monitor.config.model import Config

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
    stored = parser.add_argument_group(
        "read-only (--stored)",
        "report what the daemon last recorded: no sign-in, no write, no secret needed (any "
        "member of the service's group can run it), for a central Nagios/Icinga/Zabbix",
    )
    stored.add_argument(
        "--stored",
        action="store_true",
        help="print the stored state of each identity and the open incidents instead of "
        "probing; UNKNOWN where the newest probe is older than its bound",
    )
    stored.add_argument(
        "--max-age",
        type=bounded_float(1, 366 * 86400),
        default=None,
        metavar="SECONDS",
        help="with --stored: a probe older than this is UNKNOWN (default: twice the "
        "identity's probe interval plus its jitter)",
    )
    stored.add_argument(
        "--tenant",
        action="append",
        default=None,
        metavar="NAME",
        help="only this tenant's identities (repeatable; with --stored)",
    )
    stored.add_argument(
        "--tag",
        action="append",
        default=None,
        metavar="TAG",
        help="only identities with this tag (repeatable; with --stored)",
    )


def run(args: argparse.Namespace) -> int:
    if args.stored:
        return _stored(args)
    if args.tenant or args.tag or args.max_age is not None:
        print("monitor check: --tenant, --tag and --max-age go with --stored", file=sys.stderr)
        return int(EXIT_UNKNOWN)
    return _live(args)


def _live(args: argparse.Namespace) -> int:
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


def _stored(args: argparse.Namespace) -> int:
    """``check --stored``: the daemon's last recorded state, read-only, without secrets."""
    from monitor.commands._common import load_or_report
    from monitor.model.clock import utcnow
    from monitor.report.database import open_database
    from monitor.report.errors import ReportError
    from monitor.report.stored import render_text, stored_check, to_document

    if args.force or args.no_notify or args.no_directory:
        print(
            "monitor check: --stored reads only; --force, --no-notify and --no-directory "
            "do not apply",
            file=sys.stderr,
        )
        return int(EXIT_UNKNOWN)
    config = load_or_report(args, secrets=False)
    if isinstance(config, int):
        return config
    selected = _selection(config, args)
    if isinstance(selected, str):
        print(f"monitor check: {selected}", file=sys.stderr)
        return int(EXIT_UNKNOWN)
    try:
        with open_database(config.database.path) as database:
            check = stored_check(
                database, config, utcnow(), identities=selected, max_age_seconds=args.max_age
            )
    except ReportError as exc:
        print(f"MONITOR UNKNOWN - {exc.message}")
        return int(EXIT_UNKNOWN)
    if args.json:
        print(json.dumps(to_document(check), indent=2))
    else:
        print(render_text(check))
    return int(check.state)


def _selection(config: Config, args: argparse.Namespace) -> list[str] | str:
    """Return the configured identities --identity, --tenant and --tag select (all of them
    must match), or a one-line error naming what is unknown."""
    names = list(config.identities)
    for option, known, given in (
        ("identity", set(config.identities), args.identity),
        ("tenant", set(config.tenants), args.tenant),
        ("tag", {tag for i in config.identities.values() for tag in i.tags}, args.tag),
    ):
        unknown = sorted(set(given or ()) - known)
        if unknown:
            return f"unknown {option}: {', '.join(unknown)}"
    if args.identity:
        names = [name for name in names if name in args.identity]
    if args.tenant:
        names = [name for name in names if config.identities[name].tenant in args.tenant]
    if args.tag:
        names = [name for name in names if set(config.identities[name].tags) & set(args.tag)]
    return names
