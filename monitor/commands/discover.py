"""``monitor discover``: list every integration identity of the configured environments.

With each tenant's observer: every application user and non-interactive user of each configured
Dataverse environment, joined with its app registration and service principal or its Entra
account, whether it is configured, its roles and its nearest deadline (docs/discovery.md).
Exit code: 0 everything read, 1 some facts not observed, 3 nothing could be listed, 78 an
invalid configuration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.exits import EXIT_USAGE

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.model.usage import ReportUsage

USAGE_DAYS = 30  # the imported usage that judges named users

HELP = "list every application user and non-interactive user, configured or not"
DESCRIPTION = (
    "With each tenant's observer, list every application user and non-interactive user of the "
    "configured Dataverse environments with their app registration (secrets, certificates, "
    "owners) or Entra account (password, licences), their roles, their nearest deadline, and "
    "whether the configuration has them; and, from imported usage reports, the named users "
    "whose traffic looks like an integration's. --toml prints configuration stanzas for the "
    "ones it does not have. Exit codes: 0 all read, 1 some facts not observed, 3 nothing listed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant", action="append", metavar="NAME", help="only this tenant (repeatable)"
    )
    parser.add_argument(
        "--environment", action="append", metavar="NAME", help="only this environment (repeatable)"
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON instead of a table")
    form.add_argument(
        "--toml",
        action="store_true",
        help="print [identities.NAME] stanzas for the identities not configured yet",
    )


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import configure_logging_for, load_or_report
    from monitor.model.clock import utcnow
    from monitor.output.discovery import (
        discovery_exit_code,
        render_discovery_json,
        render_discovery_text,
        render_discovery_toml,
    )
    from monitor.pipeline.discovery import Discovery

    config = load_or_report(args)
    if isinstance(config, int):
        return config
    configure_logging_for(args, config)
    for option, known in (("tenant", config.tenants), ("environment", config.environments)):
        unknown = [name for name in getattr(args, option) or () if name not in known]
        if unknown:
            print(f"monitor discover: unknown {option}: {', '.join(unknown)}", file=sys.stderr)
            return EXIT_USAGE
    now = utcnow()
    usage, note = _imported_usage(config, now)
    result = Discovery(config).run(
        now, tenants=args.tenant, environments=args.environment, usage=usage, usage_note=note
    )
    if args.json:
        sys.stdout.write(render_discovery_json(result))
    elif args.toml:
        sys.stdout.write(render_discovery_toml(result, config.identities))
    else:
        sys.stdout.write(render_discovery_text(result))
    code = discovery_exit_code(result)
    if code == 3:
        problems = [p for tenant in result.tenants for p in tenant.problems]
        print(
            "monitor discover: nothing could be listed"
            + (f": {problems[0]}" if problems else ": no tenant with an environment"),
            file=sys.stderr,
        )
    return code


def _imported_usage(config: Config, now: datetime) -> tuple[list[ReportUsage] | None, str]:
    """Return the imported usage of the last 30 days (None and why when there is none)."""
    from monitor.store import Store, StoreError

    path = config.database.path
    if not path.exists():
        return None, f"no database at {path}: import usage reports with `monitor usage import`"
    try:
        with Store.open(path) as store:
            rows = store.usage.report_usage(now.date() - timedelta(days=USAGE_DAYS))
    except (StoreError, OSError) as exc:
        return None, f"the database {path} cannot be read: {exc}"
    if not any(row.report == "licensed" for row in rows):
        return None, (
            f"no Licensed User report imported for the last {USAGE_DAYS} days "
            "(`monitor usage import`)"
        )
    return rows, ""
