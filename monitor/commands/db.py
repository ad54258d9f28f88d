"""``monitor db upgrade``, ``status`` and ``new-key``: the database schema and its key.

Exit codes: 0 done / up to date; 1 ``status`` found a database that needs ``monitor db upgrade``
(or none at all); 2 the database was written by a newer monitor or cannot be used, or
``new-key`` found the key still there; 78 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.commands._args import Action, add_actions, argument

HELP = "create or upgrade the database schema, or show its revision"
DESCRIPTION = (
    "Create or upgrade the SQLite database schema (Alembic migrations), or show its revision. "
    "Commands that write upgrade the database automatically."
)
DATABASE_HELP = "the database file (default: database.path from the configuration)"
# On an action, SUPPRESS: a value given before the action is not overwritten by this default.
_DATABASE = argument(
    "--database", type=Path, metavar="PATH", default=argparse.SUPPRESS, help=DATABASE_HELP
)
ACTIONS = tuple(
    Action(name, action_help, arguments=_DATABASE)
    for name, action_help in (
        ("upgrade", "create the database or upgrade it to the newest schema"),
        ("status", "show the schema revision against the newest this monitor knows"),
        (
            "new-key",
            "replace a lost fingerprint key with a new one and release the lockout guards "
            "(each held password identity is tried once more)",
        ),
    )
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", type=Path, metavar="PATH", help=DATABASE_HELP)
    add_actions(parser, "db_action", ACTIONS)


def run(args: argparse.Namespace) -> int:
    from monitor.damage import report_damage
    from monitor.store import StoreError, migrate, schema_status

    path = _database_path(args)
    if isinstance(path, int):
        return path
    if args.db_action == "new-key":
        return _new_key(path, args)
    try:
        if args.db_action == "upgrade":
            upgrade = migrate(path)
            if upgrade.changed:
                print(f"{path}: upgraded schema {upgrade.before or '(none)'} -> {upgrade.after}")
            else:
                print(f"{path}: schema {upgrade.after} is already the newest")
            return 0
        status = schema_status(path)
    except (StoreError, OSError) as error:
        damaged = report_damage(error, path, args)
        if damaged is not None:
            return damaged
        print(f"monitor db: {error}", file=sys.stderr)
        missing = args.db_action == "status" and not path.exists()
        return 1 if missing else 2
    if status.up_to_date:
        print(f"{path}: schema {status.current} (newest)")
        return 0
    if status.newer:
        print(
            f"{path}: schema {status.current} is newer than this monitor knows "
            f"(newest {status.head}); upgrade monitor",
        )
        return 2
    print(
        f"{path}: schema {status.current or '(none)'}, newest {status.head}: "
        "run `monitor db upgrade`"
    )
    return 1


def _new_key(path: Path, args: argparse.Namespace) -> int:
    """Replace the fingerprint key of the database at *path*; refuse while the old one exists
    (it is not lost: restore nothing, change nothing)."""
    from monitor.damage import report_damage
    from monitor.store import Store, StoreError
    from monitor.store.keyfile import key_path

    existing = key_path(path)
    if existing.exists():
        print(
            f"monitor db new-key: {existing} exists; a new key is only for one that is lost "
            "(delete it first if you mean to replace it)",
            file=sys.stderr,
        )
        return 2
    try:
        with Store.open(path) as store:
            released = len(store.guards.all())
            store.replace_fingerprint_key()
    except (StoreError, OSError) as error:
        damaged = report_damage(error, path, args)
        if damaged is not None:
            return damaged
        print(f"monitor db new-key: {error}", file=sys.stderr)
        return 2
    print(f"{existing}: new fingerprint key; {released} lockout guard(s) released")
    return 0


def _database_path(args: argparse.Namespace) -> Path | int:
    """Return the database path from ``--database`` or the configuration; 78 after printing
    a configuration error."""
    from monitor.commands._common import load_or_report

    if args.database is not None:
        return Path(args.database)
    config = load_or_report(args, secrets=False)
    return config if isinstance(config, int) else config.database.path
