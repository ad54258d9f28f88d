"""Set-up shared by the commands that probe: configuration, logging, the store and its key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.config.model import Config
from monitor.exits import EXIT_CONFIG, EXIT_SOFTWARE
from monitor.store import Store


def load_or_report(args: argparse.Namespace) -> Config | int:
    """Load the configuration named by ``args.config``; on error print it and return 78."""
    from monitor.config import ConfigError, load_config

    try:
        return load_config(Path(args.config))
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


def open_for_writing(
    args: argparse.Namespace, *, migrate_in_child: bool = False
) -> tuple[Config, Store, bytes] | int:
    """Return the configuration, the open writer store and the fingerprint key, or an exit code
    after printing a one-line reason (*migrate_in_child*: see :meth:`Store.open`)."""
    from monitor.damage import report_damage
    from monitor.store import FingerprintKeyLost, StoreError

    config = load_or_report(args)
    if isinstance(config, int):
        return config
    configure_logging_for(args, config)
    store: Store | None = None
    try:
        store = Store.open(config.database.path, migrate_in_child=migrate_in_child)
        if config.database.fingerprint_key is not None:
            key = config.database.fingerprint_key.reveal_bytes()
        else:
            key = store.fingerprint_key()
    except FingerprintKeyLost as exc:
        if store is not None:
            store.close()
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StoreError, OSError) as exc:
        if store is not None:
            store.close()
        damaged = report_damage(exc, config.database.path, args)
        if damaged is not None:
            return damaged
        print(f"monitor: cannot open the database {config.database.path}: {exc}", file=sys.stderr)
        return EXIT_SOFTWARE
    return config, store, key
