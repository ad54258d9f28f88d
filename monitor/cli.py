"""The ``monitor`` command line: a thin argparse front over :mod:`monitor.commands`.

Each command module declares ``HELP`` (its line in ``monitor --help``), ``DESCRIPTION``,
``run(args) -> int`` and, where it has them, ``add_arguments(parser)`` and ``DEFAULTS`` (parser
defaults such as the exit code of a damaged database); :func:`add_command` registers it. Heavy
imports (msal, SQLAlchemy, apprise) stay inside ``run`` so that ``monitor --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.exits import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_UNKNOWN

# Subcommand name -> module under monitor.commands. The order is the order in --help.
COMMANDS: dict[str, str] = {
    "check": "check",
    "posture": "posture",
    "discover": "discover",
    "run": "run",
    "reload": "reload",
    "demo": "demo",
    "config": "config",
    "report": "report",
    "notify": "notify",
    "silence": "silence",
    "ack": "ack",
    "usage": "usage",
    "db": "db",
    "simulator": "simulator",
}


def default_config_path() -> str:
    return os.environ.get("MONITOR_CONFIG", "/etc/monitor/monitor.toml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Credential health monitoring for Dynamics 365 / Dataverse integration "
        "identities.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        default=None,
        help="configuration file (default: $MONITOR_CONFIG or /etc/monitor/monitor.toml)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log progress to stderr (-vv for debug); secrets are always redacted",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        add_command(subparsers, name)
    return parser


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    """Register the command *name* (a key of :data:`COMMANDS`) from its module's declaration."""
    module = importlib.import_module(f"monitor.commands.{COMMANDS[name]}")
    parser = subparsers.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
    add_arguments = getattr(module, "add_arguments", None)
    if add_arguments is not None:
        add_arguments(parser)
    parser.set_defaults(run=module.run, **getattr(module, "DEFAULTS", {}))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config is None:
        args.config = default_config_path()
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the last line of defence: one line, never a bare traceback
        from monitor.damage import report_damage

        damaged = report_damage(error, _database_of(args), args)
        if damaged is not None:
            return damaged
        return internal_error(args, error)
    return code


def _database_of(args: argparse.Namespace) -> Path | None:
    """Return the database the command used (``--database``, else the configuration's), or
    None when it cannot be told."""
    given = getattr(args, "database", None)
    if given is not None:
        return Path(given)
    try:
        from monitor.config import load_config

        return load_config(Path(args.config)).database.path
    except Exception:  # only for the message: the command already reported its own failure
        return None


def internal_error(args: argparse.Namespace, exc: Exception) -> int:
    """Report an exception no command handled: one line naming it (the traceback with ``-v``).

    A Nagios check command (``check``) prints its UNKNOWN status line on stdout and exits 3;
    every other command prints to stderr and exits 1. Registered secret values are masked.
    """
    import traceback

    from monitor.secrets import scrub

    detail = " ".join(str(exc).split())
    what = scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
    if len(what) > 300:
        what = what[:299] + "…"
    if args.verbose:
        print(scrub(traceback.format_exc()), file=sys.stderr, end="")
    hint = "" if args.verbose else " (run with -v for the traceback)"
    if getattr(args, "nagios", False):
        print(f"MONITOR UNKNOWN - internal error: {what}{hint}")
        return EXIT_UNKNOWN
    print(f"monitor {args.command}: internal error: {what}{hint}", file=sys.stderr)
    return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
