"""``monitor reload``: what ``systemctl reload monitor`` runs (``ExecReload=``).

The configuration is checked here first, as far as this process can (without the secrets when
it may not read them: systemd 252 gives ``ExecReload=`` of a sandboxed unit no access to the
unit's credentials); an invalid one is refused at once, without signalling the daemon. A valid
one is signalled (SIGHUP, with ``os.kill``: no ``/bin/kill`` from procps is needed) together with
a request in the daemon's reload folder, and the command waits for the daemon's verdict
(:mod:`monitor.reloads`): the daemon loads the configuration with its credentials, and a
configuration it refuses makes this command, and with it ``systemctl reload``, fail with exit 78
and the problems on standard error (the journal), while the daemon keeps running with the
configuration it has.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from monitor.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE

HELP = "check the configuration, then make the daemon reload it (systemd ExecReload=)"
DESCRIPTION = (
    "Check the configuration as far as this process can, send SIGHUP to the daemon (PID, or "
    "$MAINPID, which systemd sets for ExecReload=) and wait for its verdict: the daemon loads "
    "the configuration with its credentials. Exit 0 when the daemon reloaded it; 78 when the "
    "configuration is invalid (the daemon keeps the running one; problems on standard error); "
    "1 when there is no such process or it did not answer within --timeout; 2 without a "
    "process id."
)
DEFAULT_TIMEOUT_SECONDS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pid", nargs="?", type=int, default=None, help="the daemon's process id (default: $MAINPID)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the daemon's verdict (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def run(args: argparse.Namespace) -> int:
    from monitor import reloads
    from monitor.commands._common import load_or_report

    pid = args.pid if args.pid is not None else _main_pid()
    if pid is None or pid <= 1:
        print(
            "monitor reload: no daemon process id: pass PID or run it as ExecReload= "
            "(systemd sets $MAINPID)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = load_or_report(args, secrets="if-readable")
    if isinstance(config, int):
        _refused()
        return config
    try:
        os.kill(pid, 0)  # is it there, and ours to signal?
    except (ProcessLookupError, PermissionError) as error:
        return _cannot_signal(pid, error)
    folder = reloads.folder_for(config.database.path)
    request = None
    try:
        request = reloads.ask(folder)
    except reloads.NoFolder:
        print(
            f"monitor reload: no reload folder at {folder} (a daemon of another version, or of "
            "another database): its verdict will be in the journal only",
            file=sys.stderr,
        )
    except OSError as error:
        print(
            f"monitor reload: cannot place a request in {folder}: "
            f"{error.strerror or type(error).__name__}: the verdict will be in the journal only",
            file=sys.stderr,
        )
    try:
        os.kill(pid, signal.SIGHUP)
    except (ProcessLookupError, PermissionError) as error:
        if request is not None:
            request.unlink(missing_ok=True)
        return _cannot_signal(pid, error)
    if request is None:
        return EXIT_FAILURE
    verdict = reloads.wait(request, args.timeout)
    if verdict is None:
        print(
            f"monitor reload: process {pid} was told to reload but gave no verdict within "
            f"{args.timeout:g} s; see the journal",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    if not verdict.ok:
        for problem in verdict.problems:
            print(problem, file=sys.stderr)
        _refused()
        return EXIT_CONFIG
    print(f"monitor reload: process {pid} reloaded the configuration")
    return 0


def _cannot_signal(pid: int, error: OSError) -> int:
    what = "no process" if isinstance(error, ProcessLookupError) else "not allowed to signal"
    print(f"monitor reload: {what} {pid}", file=sys.stderr)
    return EXIT_FAILURE


def _refused() -> None:
    print(
        "monitor reload: not reloaded: the configuration above is invalid; the daemon keeps "
        "the configuration it runs with",
        file=sys.stderr,
    )


def _main_pid() -> int | None:
    value = os.environ.get("MAINPID", "")
    return int(value) if value.isdigit() else None
