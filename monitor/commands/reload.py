"""``monitor reload``: what ``systemctl reload monitor`` runs (``ExecReload=``).

The configuration is loaded first, exactly as the daemon will load it (same file, same
credentials: ``ExecReload=`` runs with the unit's ``LoadCredential=``). Only a configuration
that loads is signalled to the daemon (SIGHUP); an invalid one makes this command, and with it
``systemctl reload``, fail with exit 78 and the problems on standard error (the journal), while
the daemon keeps running with the configuration it has. The signal is sent with ``os.kill``:
no ``/bin/kill`` (procps) is needed on a minimal system.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from monitor.exits import EXIT_FAILURE, EXIT_USAGE

HELP = "check the configuration, then make the daemon reload it (systemd ExecReload=)"
DESCRIPTION = (
    "Load the configuration as the daemon would (with its credentials) and, only if it is "
    "valid, send SIGHUP to the daemon: PID, or $MAINPID (which systemd sets for ExecReload=). "
    "Exit 0 when the daemon was told, 78 when the configuration is invalid (the daemon keeps "
    "the running one and is not signalled), 1 when there is no such process, 2 without a "
    "process id."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pid", nargs="?", type=int, default=None, help="the daemon's process id (default: $MAINPID)"
    )


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import load_or_report

    pid = args.pid if args.pid is not None else _main_pid()
    if pid is None or pid <= 1:
        print(
            "monitor reload: no daemon process id: pass PID or run it as ExecReload= "
            "(systemd sets $MAINPID)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = load_or_report(args)
    if isinstance(config, int):
        print(
            "monitor reload: not reloaded: the configuration above is invalid; the daemon keeps "
            "the configuration it runs with",
            file=sys.stderr,
        )
        return config
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(f"monitor reload: no process {pid}", file=sys.stderr)
        return EXIT_FAILURE
    except PermissionError:
        print(f"monitor reload: not allowed to signal process {pid}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"monitor reload: configuration valid; process {pid} told to reload it")
    return 0


def _main_pid() -> int | None:
    value = os.environ.get("MAINPID", "")
    return int(value) if value.isdigit() else None
