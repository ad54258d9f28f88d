"""Set-up shared by the commands: configuration, logging, the store and its key.

Light to import (the store is imported when opened), so the report can use it too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from monitor.exits import EXIT_CONFIG, EXIT_SOFTWARE

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.store import Store


def load_or_report(
    args: argparse.Namespace, *, secrets: bool | Literal["if-readable"] = True
) -> Config | int:
    """Load the configuration named by ``args.config``; on error print it and return 78.

    ``secrets=False`` for a command that only reads or annotates the history: it then needs
    none of the service's credentials (see :func:`monitor.config.load_config`)."""
    from monitor.config import ConfigError, load_config

    try:
        return load_config(Path(args.config), secrets=secrets)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG


def configure_logging_for(args: argparse.Namespace, config: Config | None) -> None:
    """Log to stderr: the configured level for daemons, warnings only for interactive commands
    unless ``--verbose`` was given."""
    from monitor.logsetup import configure_logging

    if getattr(args, "verbose", False):
        level = "debug" if args.verbose > 1 else "info"
    elif getattr(args, "daemon", False) and config is not None:
        level = config.log_level
    else:
        level = "warning"
    configure_logging(level, stream=sys.stderr)


def open_store(
    args: argparse.Namespace,
    *,
    migrate_in_child: bool = False,
    speaker: str = "monitor",
    secrets: bool = True,
) -> tuple[Config, Store] | int:
    """Load the configuration, set up logging and open the writer store; or print why not (a
    line starting with *speaker*) and return the exit code: 78 configuration, 70 database (or
    the command's code for a damaged one). *migrate_in_child*: see :meth:`Store.open`;
    *secrets*: see :func:`load_or_report`."""
    from monitor.store import Store, StoreError

    config = load_or_report(args, secrets=secrets)
    if isinstance(config, int):
        return config
    configure_logging_for(args, config)
    try:
        return config, Store.open(
            config.database.path,
            migrate_in_child=migrate_in_child,
            shared=config.database.shared_with_group,
        )
    except (StoreError, OSError) as exc:
        return _cannot_open(exc, config, args, speaker)


def open_for_writing(
    args: argparse.Namespace, *, migrate_in_child: bool = False
) -> tuple[Config, Store, bytes] | int:
    """Return what :func:`open_store` does and the fingerprint key (or the exit code)."""
    from monitor.store import FingerprintKeyLost, StoreError

    opened = open_store(args, migrate_in_child=migrate_in_child)
    if isinstance(opened, int):
        return opened
    config, store = opened
    try:
        if config.database.fingerprint_key is not None:
            key = config.database.fingerprint_key.reveal_bytes()
        else:
            key = store.fingerprint_key()
    except FingerprintKeyLost as exc:
        store.close()
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StoreError, OSError) as exc:
        store.close()
        return _cannot_open(exc, config, args, "monitor")
    return config, store, key


def _cannot_open(exc: Exception, config: Config, args: argparse.Namespace, speaker: str) -> int:
    """Say why the database cannot be used; return the exit code (see :func:`open_store`)."""
    from monitor.damage import report_damage

    path = config.database.path
    damaged = report_damage(exc, path, args)
    if damaged is not None:
        return damaged
    print(f"{speaker}: cannot open the database {path}: {exc}", file=sys.stderr)
    return EXIT_SOFTWARE
