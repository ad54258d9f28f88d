"""``monitor usage import | record | show``: API usage against the 24-hour allocation.

What each action does is its description in :data:`ACTIONS` (``monitor usage ACTION --help``).
Exit codes: ``import`` / ``record``: 0 stored (or already stored); 2 a bad option (unknown
identity, environment or tenant; a bad count or date); 65 (EX_DATAERR) the file was refused (not
a regular file, too large, unreadable or malformed); 70 the database cannot be opened; 78 the
configuration is invalid. ``show`` follows the Nagios convention: 0 no finding, 1 a warning, 2 a
critical finding, 3 no usable database.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.commands._args import Action, add_actions, add_identity_option
from monitor.exits import EXIT_DATAERR, EXIT_UNKNOWN, EXIT_USAGE
from monitor.model.clock import utcnow

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.model.findings import Finding
    from monitor.store import Store
    from monitor.usage.allocation import Allocation
    from monitor.usage.model import IdentityUsage, PoolUsage, UsageOverview

# A count older than this is no use to any judgement (and a day near year 1 would overflow the
# date arithmetic of the trend).
MAX_RECORD_AGE_DAYS = 3660


HELP = "import usage reports, record counts, show API usage against the 24-hour allocation"
DESCRIPTION = (
    "Import the Power Platform admin center's request reports, record counts an integration made "
    "itself, and show each identity's usage against its 24-hour Power Platform request "
    "allocation."
)


def _import_arguments(importing: argparse.ArgumentParser) -> None:
    importing.add_argument("file", type=Path, metavar="FILE.csv", help="the downloaded report")
    importing.add_argument(
        "--tenant",
        metavar="NAME",
        help="the [tenants.NAME] the report belongs to (needed only when the configuration has "
        "several tenants and no row names a configured identity)",
    )
    importing.add_argument("--json", action="store_true", help="print JSON")


def _record_arguments(record: argparse.ArgumentParser) -> None:
    record.add_argument("--identity", required=True, metavar="NAME")
    record.add_argument("--environment", required=True, metavar="NAME")
    record.add_argument("--count", required=True, type=int, metavar="N", help="requests (>= 0)")
    record.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the UTC day counted (default: today, UTC)"
    )


def _show_arguments(show: argparse.ArgumentParser) -> None:
    add_identity_option(show, "only this identity")
    show.add_argument("--json", action="store_true", help="print JSON")


ACTIONS = (
    Action(
        "import",
        "import a Licensed User or Non-licensed User report (CSV)",
        "Import a Power Platform requests report downloaded from the Power Platform admin center "
        "(Capacity > Summary > Download reports). All or nothing: a malformed file is refused "
        "with the line numbers of its problems. Importing the same rows again adds nothing. Exit "
        "0 imported, 2 bad option, 65 file refused.",
        _import_arguments,
    ),
    Action(
        "record",
        "record how many requests an integration made on one day",
        "Record the number of Power Platform requests an integration counted itself for one "
        "identity, environment and UTC day. Recording the same day again replaces the count "
        "(report the day's running total). Exit 0 recorded, 2 bad option.",
        _record_arguments,
    ),
    Action(
        "show",
        "show usage, allocations, headroom and usage findings",
        "Show each identity's allocation and where it comes from, its daily usage and trend, "
        "service-protection headroom, throttled answers and the monitor's own requests, each "
        "tenant's pool, and the usage findings. Exit 0 no finding, 1 warning, 2 critical, 3 no "
        "usable database.",
        _show_arguments,
        {"damaged_exit": EXIT_UNKNOWN},  # Nagios: nothing could be judged
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_actions(parser, "usage_action", ACTIONS)


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import configure_logging_for, load_or_report, open_store

    # Usage reads and writes history only: no credential needed.
    if args.usage_action == "show":
        config = load_or_report(args, secrets=False)
        if isinstance(config, int):
            return config
        configure_logging_for(args, config)
        return _show(args, config)
    opened = open_store(args, speaker="monitor usage", secrets=False)
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        if args.usage_action == "import":
            return _import(args, config, store)
        return _record(args, config, store)


# --- import ----------------------------------------------------------------------------------


def _import(args: argparse.Namespace, config: Config, store: Store) -> int:
    from monitor.model.entitlements import EntitlementTable
    from monitor.usage.csv_import import (
        REPORT_NAMES,
        ReportError,
        ReportFileError,
        open_report,
        read_report,
    )
    from monitor.usage.gather import refresh_usage_daily
    from monitor.usage.licences import directory_facts
    from monitor.usage.matching import CallerDirectory, CallerIdentity

    path: Path = args.file
    try:
        with open_report(path) as stream:
            report = read_report(stream)
    except ReportFileError as exc:
        print(f"monitor usage import: {exc}; nothing imported", file=sys.stderr)
        return EXIT_DATAERR
    except OSError as exc:
        print(f"monitor usage import: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_DATAERR
    except ReportError as exc:
        lines = str(exc).splitlines()
        print(
            f"monitor usage import: {path}: refused, nothing imported:\n"
            + "\n".join(f"  {line}" for line in lines),
            file=sys.stderr,
        )
        return EXIT_DATAERR

    table = EntitlementTable(config.usage.entitlements)
    facts = directory_facts(config, store, table)
    callers = [
        CallerIdentity(i.name, i.tenant, i.kind, i.client_id, i.object_id)
        for i in config.identities.values()
    ]
    directories = {
        tenant: CallerDirectory.build(tenant, callers, facts.object_ids)
        for tenant in config.tenants
    }
    tenant = args.tenant
    if tenant is not None and tenant not in config.tenants:
        known = ", ".join(config.tenants)
        print(f"monitor usage import: unknown tenant {tenant!r} (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    if tenant is None:
        if len(config.tenants) == 1:
            tenant = next(iter(config.tenants))
        else:
            found = sorted(
                name
                for name, directory in directories.items()
                if any(directory.match(row.caller_id) for row in report.rows if row.caller_id)
            )
            if len(found) != 1:
                why = "matches identities of several tenants" if found else "names no identity"
                print(
                    f"monitor usage import: {path}: the report {why}; pass --tenant NAME "
                    "(reports do not name their tenant)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            tenant = found[0]

    outcome = store.usage.import_usage_report(
        report, tenant=tenant, file_name=path.name, imported_at=utcnow()
    )
    if not outcome.already_imported:
        refresh_usage_daily(config, store, utcnow())
    directory = directories[tenant]
    matched: dict[str, int] = {}
    unmatched: dict[str, int] = {}
    for row in report.rows:
        match = directory.match(row.caller_id) if row.caller_id else None
        if match is not None:
            matched[match.identity] = matched.get(match.identity, 0) + row.consumed
        else:
            unmatched[row.caller_id] = unmatched.get(row.caller_id, 0) + row.consumed
    record = outcome.record
    summary = {
        "file": str(path),
        "report": report.format,
        "tenant": tenant,
        "import_id": record.id,
        "already_imported": outcome.already_imported,
        "imported_at": record.imported_at.isoformat(),
        "rows": record.rows,
        "new_rows": record.new_rows if not outcome.already_imported else 0,
        "updated_rows": record.updated_rows if not outcome.already_imported else 0,
        "first_day": record.first_day.isoformat() if record.first_day else None,
        "last_day": record.last_day.isoformat() if record.last_day else None,
        "matched_requests": matched,
        "unmatched_callers": dict(sorted(unmatched.items(), key=lambda item: -item[1])),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    name = REPORT_NAMES[report.format]
    days = f"{summary['first_day']} .. {summary['last_day']}"
    if outcome.already_imported:
        print(
            f"{path}: already imported on {record.imported_at:%Y-%m-%d %H:%M} UTC (import "
            f"#{record.id}); nothing changed"
        )
        return 0
    print(
        f"imported {name} {path.name} for tenant {tenant}: {record.rows} rows ({days}): "
        f"{record.new_rows} new, {record.updated_rows} updated, {outcome.unchanged_rows} unchanged"
    )
    for identity, requests in sorted(matched.items()):
        print(f"  {identity}: {requests:,} requests")
    if unmatched:
        shown = ", ".join(
            f"{caller or '(no caller id)'} {requests:,}"
            for caller, requests in sorted(unmatched.items(), key=lambda item: -item[1])[:5]
        )
        print(
            f"  {len(unmatched)} callers match no identity ({shown}); to attribute one, set "
            "identities.NAME.object_id to its Entra object id"
        )
    return 0


# --- record ----------------------------------------------------------------------------------


def _record(args: argparse.Namespace, config: Config, store: Store) -> int:
    from monitor.commands._args import MAX_REQUESTS
    from monitor.usage.gather import refresh_usage_daily

    identity = config.identities.get(args.identity)
    if identity is None:
        known = ", ".join(config.identities)
        print(
            f"monitor usage record: unknown identity {args.identity!r} (known: {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.environment not in identity.environments:
        known = ", ".join(identity.environments)
        print(
            f"monitor usage record: {identity.name} does not use environment "
            f"{args.environment!r} (it uses {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not 0 <= args.count <= MAX_REQUESTS:
        print(
            f"monitor usage record: --count must be 0 or more and at most {MAX_REQUESTS:,}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    now = utcnow()
    today = now.date()
    day = today
    if args.date is not None:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            print(
                f"monitor usage record: --date {args.date!r} is not a date (YYYY-MM-DD)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if day > today:
            print(
                f"monitor usage record: --date {day} is in the future (today is {today} UTC)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if (today - day).days > MAX_RECORD_AGE_DAYS:
            print(
                f"monitor usage record: --date {day} is more than {MAX_RECORD_AGE_DAYS} days ago",
                file=sys.stderr,
            )
            return EXIT_USAGE
    previous = store.usage.record_usage(
        identity.name, args.environment, identity.tenant, day, args.count, now
    )
    refresh_usage_daily(config, store, now)
    was = f" (was {previous:,})" if previous is not None else ""
    print(
        f"recorded {args.count:,} requests for {identity.name} in {args.environment} on "
        f"{day.isoformat()}{was}"
    )
    return 0


# --- show ------------------------------------------------------------------------------------


def _show(args: argparse.Namespace, config: Config) -> int:
    from monitor.damage import report_damage
    from monitor.findings.usage import usage_findings
    from monitor.model.findings import Level
    from monitor.store import Store, StoreError
    from monitor.usage.gather import gather_usage

    unknown = [name for name in args.identity or [] if name not in config.identities]
    if unknown:
        print(f"monitor usage show: unknown identity: {', '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        reader = Store.open_readonly(config.database.path)
    except (StoreError, OSError) as exc:
        damaged = report_damage(exc, config.database.path, args)
        if damaged is not None:
            return damaged
        print(f"monitor usage show: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    now = utcnow()
    with reader:
        report = gather_usage(config, reader, now)
    findings = usage_findings(report, config.usage, now)
    if args.identity:
        wanted = set(args.identity)
        findings = [f for f in findings if f.identity in wanted]
    if args.json:
        print(json.dumps(_report_json(report, findings, args.identity), indent=2))
    else:
        print(_render(report, findings, args.identity))
    levels = {finding.level for finding in findings}
    if Level.CRITICAL in levels:
        return 2
    return 1 if Level.WARNING in levels else 0


def _render(report: UsageOverview, findings: list[Finding], only: list[str] | None) -> str:
    from monitor.usage.projection import percent

    lines = [
        f"API usage as of {report.as_of:%Y-%m-%d %H:%M} UTC "
        f"(licences from: {', '.join(report.licence_sources)})"
    ]
    for usage in report.identities:
        if only and usage.identity not in only:
            continue
        lines += ["", f"{usage.identity} ({usage.kind}, tenant {usage.tenant})"]
        allocation = usage.allocation
        amount = (
            f"{allocation.requests:,} requests per 24 h"
            if allocation.requests is not None
            else ("the tenant pool" if allocation.basis == "tenant_pool" else "unknown")
        )
        lines.append(f"  allocation: {amount}: {allocation.source}")
        lines += _allocation_lines(allocation)
        if usage.caller_ids:
            lines.append(f"  report caller ids: {', '.join(usage.caller_ids)}")
        lines += _series_lines(usage)
        for headroom in usage.headroom:
            parts = []
            if headroom.burst_remaining is not None:
                parts.append(
                    f"{headroom.burst_remaining:,} requests ({percent(headroom.burst_share)})"
                )
            if headroom.time_remaining_ms is not None:
                parts.append(
                    f"{headroom.time_remaining_ms / 1000:,.0f} s execution time "
                    f"({percent(headroom.time_share)})"
                )
            lines.append(
                f"  headroom in {headroom.environment} at {headroom.observed_at:%H:%M} UTC: "
                + ", ".join(parts)
                + " left in the 5-minute window"
            )
        for event in usage.throttles:
            lines.append(
                f"  throttled in {event.environment} at {event.answered_at:%Y-%m-%d %H:%M} UTC: "
                f"{event.describe()}"
            )
        if usage.footprint:
            token = sum(item.entra_requests for item in usage.footprint)
            whoami = sum(item.dataverse_requests for item in usage.footprint)
            days = len(usage.footprint)
            lines.append(
                f"  the monitor's own requests over {days} days: {token:,} to Entra ID, "
                f"{whoami:,} WhoAmI to Dataverse (at most {whoami:,} Power Platform requests)"
            )
    if not only:
        for pool in report.pools:
            lines += ["", f"tenant pool of {pool.tenant} (application and non-interactive users)"]
            lines += _pool_lines(pool)
        if report.unmatched_callers:
            lines += ["", "report callers that match no identity (set identities.NAME.object_id):"]
            for caller in report.unmatched_callers:
                note = f"; {caller.note}" if caller.note else ""
                lines.append(
                    f"  {caller.tenant} {caller.caller_id or '(no caller id)'} "
                    f"{caller.caller_type}: {caller.requests:,} requests{note}"
                )
    lines += ["", f"findings: {len(findings) or 'none'}"]
    for finding in findings:
        lines.append(f"  {finding.level.value.upper()} {finding.subject}: {finding.summary}")
        lines.append(f"    remedy: {finding.remedy}")
    return "\n".join(lines)


def _series_lines(usage: IdentityUsage) -> list[str]:
    from monitor.usage.projection import percent

    lines: list[str] = []
    projection = usage.projection
    for day in usage.series[-8:]:
        share = ""
        if usage.allocation.requests:
            from fractions import Fraction

            share = f" ({percent(Fraction(day.requests, usage.allocation.requests))})"
        lines.append(f"  {day.day.isoformat()}: {day.requests:,} requests{share}, {day.source}")
    if not usage.series:
        lines.append("  no usage imported or recorded in the trend window")
    if projection is not None and projection.projected_share is not None:
        until = projection.horizon_day.isoformat()
        text = f"  trend: {percent(projection.projected_share)} by {until}"
        if projection.exhaustion_day is not None:
            text += f"; reaches the allocation on {projection.exhaustion_day.isoformat()}"
        lines.append(text)
    return lines


def _pool_lines(pool: PoolUsage) -> list[str]:
    from monitor.usage.projection import percent

    allocation = pool.allocation
    size = f"{allocation.requests:,}" if allocation.requests is not None else "unknown"
    lines = [
        f"  size: {size} requests per 24 h: {allocation.source}",
        *_allocation_lines(allocation),
    ]
    if pool.identities:
        lines.append(f"  configured identities on the pool: {', '.join(pool.identities)}")
    projection = pool.projection
    for day in pool.series[-8:]:
        lines.append(f"  {day.day.isoformat()}: {day.requests:,} requests, {day.source}")
    if projection is not None and projection.latest_share is not None:
        lines.append(f"  newest day: {percent(projection.latest_share)} of the pool")
    for caller in pool.top_callers:
        name = caller.identity or caller.caller_id or "(no caller id)"
        lines.append(f"    {name} ({caller.caller_type}): {caller.requests:,}")
    return lines


def _allocation_lines(allocation: Allocation) -> list[str]:
    """Return the lines an allocation adds up from, then its notes."""
    lines = [f"    {line.label}: {line.requests:,} ({line.source})" for line in allocation.lines]
    return lines + [f"    note: {note}" for note in allocation.notes]


def _jsonable(value: Any) -> Any:
    import dataclasses
    from fractions import Fraction

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, Fraction):
        return round(float(value), 6)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _report_json(
    report: UsageOverview, findings: list[Finding], only: list[str] | None
) -> dict[str, Any]:
    document = _jsonable(report)
    if only:
        document["identities"] = [
            item for item in document["identities"] if item["identity"] in only
        ]
    document["findings"] = [_jsonable(finding) for finding in findings]
    return dict(document)
