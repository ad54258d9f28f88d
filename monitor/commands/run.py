"""``monitor run``: the daemon. Runs every scheduled job until SIGTERM; made for systemd."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

HELP = "run as a daemon: probe every identity on a schedule (for systemd)"
DESCRIPTION = (
    "Run every scheduled job (probes per identity, retention, and the other steps of the "
    "pipeline) until SIGTERM. Speaks the systemd notify protocol (READY=1, STATUS=, WATCHDOG=1, "
    "STOPPING=1); SIGHUP reloads the configuration, keeping the running one if the new one is "
    "invalid. Logs are JSON lines on standard error unless it is a terminal, and journal entries "
    "with their priority and fields under journald. Exit 78 if the "
    "configuration is invalid at start."
)
DEFAULTS = {"daemon": True}


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_for_writing
    from monitor.daemon import Daemon

    # A schema upgrade runs in a child process: the daemon never holds Alembic in memory.
    opened = open_for_writing(args, migrate_in_child=True)
    if isinstance(opened, int):
        return opened
    config, store, key = opened
    daemon = Daemon(config, store, fingerprint_key=key, config_path=Path(args.config))
    daemon.start()
    code = daemon.serve()
    _exit_now_if_threads_remain(code)
    return code


def _exit_now_if_threads_remain(code: int) -> None:
    """Exit at once if a job or probe thread is still running (an abandoned one).

    The interpreter would otherwise wait for it at exit (thread pools join their workers, daemon
    threads or not), past systemd's stop timeout. Every database write is one transaction, so
    leaving now loses only the abandoned job's uncommitted work.
    """
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and thread.is_alive()
    ]
    if others:
        logging.shutdown()  # flush the log handlers; os._exit skips atexit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
