"""``monitor report [VIEW]``: what happened, what is broken and what breaks next, read from the
database without ever blocking the daemon.

Views: ``board`` (default), ``history``, ``expiring``, ``incidents``, ``usage``, ``posture``.
Formats: a terminal table (default), ``--json``, ``--csv``, ``--html FILE``. Exit codes: 0 the
report was written; 1 the database is missing, empty, unreadable or has another schema; 2 a bad
option (time expression, unknown identity, tag, tenant or environment); 78 the configuration is
invalid. The report never imports msal, apprise or SQLAlchemy (a test checks), so it starts
fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from monitor.commands._args import Action, Arguments, add_actions, argument
from monitor.model.clock import utcnow

HELP = "show the status board, an identity's history, what expires, incidents, usage, posture"
DESCRIPTION = (
    "Read the database (read-only; safe while the daemon runs) and report. Times are local "
    "unless --utc. Availability counts only probe results: an upcoming expiry is not downtime."
)
DEFAULTS = {"report_view": None}
# The filter options: ``--NAME`` -> (its metavar, the parameter of build_selection it fills).
FILTERS = {
    "identity": ("NAME", "identities"),
    "tenant": ("NAME", "tenants"),
    "environment": ("NAME", "environments"),
    "tag": ("TAG", "tags"),
}


def _add_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the options every view takes. On a view's own parser the defaults are SUPPRESS, so
    a value given before the view name is not overwritten."""

    def add(group: Any, *names: str, default: Any, **options: Any) -> None:
        group.add_argument(*names, default=argparse.SUPPRESS if suppress else default, **options)

    add(
        parser,
        "--database",
        type=Path,
        metavar="PATH",
        default=None,
        help="read this database file (default: database.path from the configuration; "
        "with --database the configuration is read only if the file exists)",
    )
    add(
        parser,
        "--since",
        metavar="WHEN",
        default=None,
        help="start of the period: 7d, 12h, 30m, 2w, or an ISO date/time (default per view: "
        "board, history, incidents, usage 30d; expiring 365d)",
    )
    add(
        parser,
        "--until",
        metavar="WHEN",
        default=None,
        help="end of the period (exclusive; an ISO date includes that whole day; default now)",
    )
    for name, (metavar, dest) in FILTERS.items():
        add(
            parser,
            f"--{name}",
            action="append",
            dest=dest,
            metavar=metavar,
            default=None,
            help=f"only this {name} (repeatable)",
        )
    add(
        parser,
        "--utc",
        action="store_true",
        default=False,
        help="show and read times in UTC instead of local time",
    )
    formats = parser.add_mutually_exclusive_group()
    add(formats, "--json", action="store_true", default=False, help="print JSON")
    add(formats, "--csv", action="store_true", default=False, help="print the main table as CSV")
    add(
        formats,
        "--html",
        type=Path,
        metavar="FILE",
        default=None,
        help="write one self-contained HTML page with charts to FILE (created with mode 0600; "
        "a FIFO or a character device such as /dev/stdout is written to directly)",
    )
    add(
        parser,
        "--mode",
        type=_file_mode,
        metavar="OCTAL",
        default=None,
        help="permissions of the file --html creates (default 0600)",
    )


def _file_mode(text: str) -> int:
    from monitor.report.output import parse_mode

    try:
        return parse_mode(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _view_options(extra: Arguments | None = None) -> Arguments:
    """Return the options of a view: those every view takes, then *extra*."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        _add_options(parser, suppress=True)
        if extra is not None:
            extra(parser)

    return arguments


VIEW_ACTIONS = (
    Action("board", "one row per identity, problems first (the default view)", "", _view_options()),
    Action(
        "history",
        "the timeline of one identity's outcomes and state changes (needs --identity)",
        "",
        _view_options(),
    ),
    Action(
        "expiring",
        "the expiry calendar: secrets, certificates, passwords, licences",
        "",
        _view_options(
            argument(
                "--within",
                metavar="DURATION",
                default="90d",
                help="how far ahead to look (default 90d)",
            )
        ),
    ),
    Action(
        "incidents",
        "incidents open in the period (--open: only those open now)",
        "",
        _view_options(
            argument("--open", action="store_true", help="only incidents that are open now")
        ),
    ),
    Action("usage", "API usage against the 24-hour allocation", "", _view_options()),
    Action(
        "posture",
        "identity-kind advice: who should move to an application or non-interactive user",
        "",
        _view_options(),
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_options(parser, suppress=False)
    add_actions(parser, "report_view", VIEW_ACTIONS, metavar="VIEW", required=False)


def run(args: argparse.Namespace) -> int:
    from monitor.report.errors import ReportError

    try:
        return _run(args)
    except ReportError as error:
        print(f"monitor report: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        # `monitor report | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    import importlib
    from datetime import UTC

    from monitor.exits import EXIT_DATABASE
    from monitor.report import context as report_context
    from monitor.report.database import open_database
    from monitor.report.errors import ReportError
    from monitor.report.sources import probes
    from monitor.report.timeexpr import parse_duration, parse_window
    from monitor.report.views import VIEWS
    from monitor.report.views.common import Options

    view_name = args.report_view or "board"
    view = importlib.import_module(VIEWS[view_name])
    now = utcnow()
    zone = UTC if args.utc else None

    loaded = _configuration(args)
    if isinstance(loaded, int):
        return loaded
    database_path, config, configured, has_config = loaded

    since, until = parse_window(
        args.since, args.until, now=now, zone=zone, default_since=view.DEFAULT_SINCE
    )
    options = Options(
        within=parse_duration(getattr(args, "within", "90d") or "90d"),
        open_only=bool(getattr(args, "open", False)),
    )
    selection = report_context.build_selection(
        **{dest: getattr(args, dest) for _, dest in FILTERS.values()},
        configured=configured,
        has_config=has_config,
    )
    context = report_context.ReportContext(
        now=now,
        since=since,
        until=until,
        zone=zone,
        selection=selection,
        configured=configured,
        has_config=has_config,
        config=config,
    )
    with open_database(database_path) as database:
        if not probes.any_results(database):
            raise ReportError(
                f"the database at {database_path} has no probe results yet; "
                "run `monitor check` first",
                EXIT_DATABASE,
            )
        identities, tenants, environments = probes.names(probes.states(database))
        for meta in configured.values():
            identities.add(meta.name)
            tenants.add(meta.tenant)
            environments.update(meta.environments)
        report_context.check_known(
            selection, identities=identities, tenants=tenants, environments=environments
        )
        result = view.build(database, context, options)
    return _write(args, result, zone)


def _configuration(
    args: argparse.Namespace,
) -> tuple[Path, Any, dict[str, Any], bool] | int:
    """Return (database path, the configuration or None, configured identities, whether a
    configuration was read), or exit code 78 after printing a configuration error.

    With ``--database`` the configuration is optional: read if the file exists (for tags,
    tenants and certificate dates), skipped otherwise.
    """
    from monitor.commands._common import load_or_report
    from monitor.report.context import identities_from_config

    if args.database is not None and not Path(args.config).is_file():
        return Path(args.database), None, {}, False
    # Reads history only: it needs no secret, so any member of the service's group can run it.
    # Certificate files it can read give their end dates; otherwise the dates the daemon stored.
    config = load_or_report(args, secrets="if-readable")
    if isinstance(config, int):
        return config
    path = Path(args.database) if args.database is not None else config.database.path
    return path, config, identities_from_config(config), True


def _write(args: argparse.Namespace, result: Any, zone: Any) -> int:
    from monitor.exits import EXIT_USAGE
    from monitor.report.errors import ReportError

    if args.mode is not None and args.html is None:
        raise ReportError("--mode applies to the file --html writes", EXIT_USAGE)
    if args.json or args.csv:
        from monitor.report.render import machine

        render = machine.to_json if args.json else machine.to_csv
        sys.stdout.write(render(result, zone=zone))
        return 0
    if args.html is not None:
        from monitor.report.render import html

        _write_file(Path(args.html), html.render(result, zone=zone), args.mode)
        print(f"report written to {args.html}")
        return 0
    from monitor.report.render import text

    tty = sys.stdout.isatty()
    colour = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    from monitor.output.terminal import terminal_width

    width = terminal_width(sys.stdout, default=text.MAX_WIDTH)
    encoding = (sys.stdout.encoding or "").lower().replace("-", "")
    ellipsis = "…" if encoding.startswith("utf") else "~"
    sys.stdout.write(text.render(result, zone=zone, width=width, colour=colour, ellipsis=ellipsis))
    return 0


def _write_file(path: Path, content: str, mode: int | None) -> None:
    """Write *content* to *path* (see :mod:`monitor.report.output`)."""
    from monitor.exits import EXIT_USAGE
    from monitor.report.errors import ReportError
    from monitor.report.output import DEFAULT_MODE, OutputError, write_output

    try:
        write_output(path, content.encode("utf-8"), mode=DEFAULT_MODE if mode is None else mode)
    except OutputError as error:
        raise ReportError(str(error), EXIT_USAGE) from None
