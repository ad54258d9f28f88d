"""Gather the usage picture from the configuration and the store (the I/O edge of usage).

:func:`gather_usage` reads the stored results, reports and pushed counts once and builds a
:class:`~monitor.usage.model.UsageOverview`, which :func:`monitor.findings.usage.usage_findings`
judges; it takes ``now`` and never reads the clock. How a day's usage is put together:
``docs/usage.md``, "Daily usage".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from monitor.config.model import Config, UsageConfig
from monitor.model.entitlements import EntitlementTable
from monitor.model.probes import ProbeResult
from monitor.model.usage import RecordedUsage, ReportUsage, UsageDay
from monitor.usage.allocation import (
    Allocation,
    ReportedEntitlement,
    identity_allocation,
    pool_allocation,
)
from monitor.usage.footprint import Footprint, footprint
from monitor.usage.headroom import Headroom, headroom_of
from monitor.usage.licences import DirectoryFacts, directory_facts
from monitor.usage.matching import CallerDirectory, CallerIdentity
from monitor.usage.model import CallerTotal, IdentityUsage, PoolUsage, UsageOverview
from monitor.usage.projection import DailyUsage, Projection, project
from monitor.usage.throttle import ThrottleEvent, throttle_event

if TYPE_CHECKING:
    from monitor.store import Store

# Reported entitlements are looked up this far back (reports are downloaded now and then).
ENTITLEMENT_LOOKBACK_DAYS = 35
# Headroom older than this is history, not the present.
HEADROOM_MAX_AGE = timedelta(hours=24)
TOP_CALLERS = 5
UNMATCHED_SHOWN = 10

SOURCE_LICENSED = "licensed-user report"
SOURCE_NON_LICENSED = "non-licensed report"
SOURCE_RECORDED = "recorded by the integration"


def _report_source(report: str) -> str:
    return SOURCE_LICENSED if report == "licensed" else SOURCE_NON_LICENSED


def _combine(
    reported: dict[date, tuple[int, str]], recorded: dict[date, int]
) -> tuple[DailyUsage, ...]:
    days = sorted(set(reported) | set(recorded))
    series: list[DailyUsage] = []
    for day in days:
        from_report = reported.get(day)
        pushed = recorded.get(day)
        if from_report is not None and (pushed is None or from_report[0] >= pushed):
            series.append(DailyUsage(day, from_report[0], from_report[1]))
        else:
            assert pushed is not None
            series.append(DailyUsage(day, pushed, SOURCE_RECORDED))
    return tuple(series)


def _newest_entitlement(rows: Iterable[ReportUsage], report: str) -> ReportedEntitlement | None:
    best: ReportUsage | None = None
    for row in rows:
        if (
            row.report == report
            and row.entitled is not None
            and (best is None or row.day > best.day)
        ):
            best = row
    if best is None or best.entitled is None:
        return None
    return ReportedEntitlement(best.entitled, best.day, report)


def gather_usage(
    config: Config,
    reader: Store,
    now: datetime,
    *,
    facts: DirectoryFacts | None = None,
    history_days: int | None = None,
) -> UsageOverview:
    """Return the usage of every configured identity and tenant pool as of *now*.

    *facts* (default: :func:`monitor.usage.licences.directory_facts`) supplies licences,
    observed object ids and Dynamics licence counts. The daily series cover ``trend_days``, or
    *history_days* if that is longer (the projection always uses ``trend_days``).
    """
    settings = config.usage
    table = EntitlementTable(settings.entitlements)
    if facts is None:
        facts = directory_facts(config, reader, table)
    today = now.astimezone(UTC).date()
    window_start = today - timedelta(days=max(settings.trend_days, history_days or 0))
    lookback = min(window_start, today - timedelta(days=ENTITLEMENT_LOOKBACK_DAYS))

    report_rows = reader.usage.report_usage(lookback)
    recorded_rows = reader.usage.recorded_usage(window_start)
    callers = [
        CallerIdentity(
            identity.name, identity.tenant, identity.kind, identity.client_id, identity.object_id
        )
        for identity in config.identities.values()
    ]
    tenants = sorted(
        {identity.tenant for identity in config.identities.values()}
        | {row.tenant for row in report_rows if row.tenant in config.tenants}
    )
    directories = {
        tenant: CallerDirectory.build(tenant, callers, facts.object_ids) for tenant in tenants
    }

    matched: dict[str, list[ReportUsage]] = defaultdict(list)
    unmatched: dict[tuple[str, str], list[ReportUsage]] = defaultdict(list)
    for row in report_rows:
        directory = directories.get(row.tenant)
        match = directory.match(row.caller_id) if directory is not None and row.caller_id else None
        if match is not None:
            matched[match.identity].append(row)
        else:
            unmatched[(row.tenant, row.caller_id)].append(row)
    recorded: dict[str, list[RecordedUsage]] = defaultdict(list)
    for item in recorded_rows:
        recorded[item.identity].append(item)

    results = reader.probes.latest_attempted_results(
        now - HEADROOM_MAX_AGE, list(config.identities)
    )
    throttled = reader.probes.throttled_results(
        now - timedelta(hours=settings.throttle_window_hours), list(config.identities)
    )
    footprints = footprint(reader.probes.probe_tallies(window_start))

    # Grouped once by identity: the loop below touches each identity's own rows only.
    results_of: dict[str, list[ProbeResult]] = defaultdict(list)
    for result in results:
        results_of[result.identity].append(result)
    events_of: dict[str, list[ThrottleEvent]] = defaultdict(list)
    for event in (throttle_event(result) for result in throttled):
        if event is not None:
            events_of[event.identity].append(event)
    footprints_of: dict[str, list[Footprint]] = defaultdict(list)
    for mark in footprints:
        footprints_of[mark.identity].append(mark)

    identities: list[IdentityUsage] = []
    for identity in config.identities.values():
        rows = matched.get(identity.name, [])
        reported_days: dict[date, tuple[int, str]] = {}
        for row in rows:
            if row.day < window_start:
                continue
            total, source = reported_days.get(row.day, (0, _report_source(row.report)))
            reported_days[row.day] = (total + row.consumed, source)
        pushed: dict[date, int] = defaultdict(int)
        for item in recorded.get(identity.name, []):
            pushed[item.day] += item.requests
        series = _combine(reported_days, dict(pushed))
        licence = facts.licences.get(identity.name)
        allocation = identity_allocation(
            identity.kind,
            licence,
            table,
            _newest_entitlement(rows, "licensed"),
            pool_reason=facts.pool_members.get(identity.name),
        )
        projection = _projection(series, allocation, today, settings)
        headroom: list[Headroom] = []
        for result in results_of.get(identity.name, ()):
            seen = headroom_of(
                result,
                burst_limit=settings.burst_limit,
                time_limit_ms=settings.execution_time_limit_ms,
            )
            if seen is not None:
                headroom.append(seen)
        events = events_of.get(identity.name, [])
        directory = directories[identity.tenant]
        identities.append(
            IdentityUsage(
                identity=identity.name,
                tenant=identity.tenant,
                kind=identity.kind,
                allocation=allocation,
                licence_facts=licence,
                caller_ids=tuple(directory.caller_ids(identity.name)),
                series=series,
                projection=projection,
                headroom=tuple(headroom),
                throttles=tuple(events),
                footprint=tuple(footprints_of.get(identity.name, ())),
            )
        )

    pools = [
        _pool_usage(
            config, tenant, report_rows, identities, directories[tenant], facts, today, window_start
        )
        for tenant in tenants
    ]
    unmatched_totals = sorted(
        (
            _caller_total(tenant, caller_id, [r for r in rows if r.day >= window_start])
            for (tenant, caller_id), rows in unmatched.items()
            if any(r.day >= window_start for r in rows)
        ),
        key=lambda total: (-total.requests, total.tenant, total.caller_id),
    )[:UNMATCHED_SHOWN]
    unmatched_totals = [
        _with_ambiguity(total, directories.get(total.tenant)) for total in unmatched_totals
    ]
    sources = facts.sources or ("none",)
    return UsageOverview(
        as_of=now,
        today=today,
        identities=tuple(identities),
        pools=tuple(pools),
        unmatched_callers=tuple(unmatched_totals),
        licence_sources=sources,
    )


def _projection(
    series: Sequence[DailyUsage], allocation: Allocation, today: date, settings: UsageConfig
) -> Projection | None:
    """Return the projection of *series* against *allocation* (None: no allocation known)."""
    if allocation.requests is None or allocation.requests <= 0:
        return None
    return project(
        series,
        allocation.requests,
        today,
        trend_days=settings.trend_days,
        horizon_days=settings.projection_days,
    )


def _caller_total(tenant: str, caller_id: str, rows: Sequence[ReportUsage]) -> CallerTotal:
    caller_type = next((row.caller_type for row in rows if row.caller_type), "")
    return CallerTotal(tenant, caller_id, caller_type, None, sum(row.consumed for row in rows))


def _with_ambiguity(total: CallerTotal, directory: CallerDirectory | None) -> CallerTotal:
    if directory is None:
        return total
    names = directory.ambiguous.get(total.caller_id)
    if not names:
        return total
    return CallerTotal(
        total.tenant,
        total.caller_id,
        total.caller_type,
        None,
        total.requests,
        f"matches {' and '.join(names)}: ambiguous, counted for the pool only",
    )


def _pool_usage(
    config: Config,
    tenant: str,
    report_rows: Sequence[ReportUsage],
    identities: Sequence[IdentityUsage],
    directory: CallerDirectory,
    facts: DirectoryFacts,
    today: date,
    window_start: date,
) -> PoolUsage:
    settings = config.usage
    rows = [row for row in report_rows if row.tenant == tenant and row.report == "non_licensed"]
    tenant_settings = settings.tenants.get(tenant)
    dynamics = facts.dynamics_licences.get(tenant)
    allocation: Allocation = pool_allocation(
        configured_size=tenant_settings.pool_size if tenant_settings else None,
        reported=_newest_entitlement(rows, "non_licensed"),
        dynamics_licences=dynamics.count if dynamics else None,
        dynamics_licences_source=dynamics.source if dynamics else "",
    )
    members = [
        usage
        for usage in identities
        if usage.tenant == tenant and usage.allocation.basis == "tenant_pool"
    ]
    reported: dict[date, int] = defaultdict(int)
    for row in rows:
        if row.day >= window_start:
            reported[row.day] += row.consumed
    from_members: dict[date, int] = defaultdict(int)
    for usage in members:
        for day_usage in usage.series:
            from_members[day_usage.day] += day_usage.requests
    series: list[DailyUsage] = []
    for day in sorted(set(reported) | set(from_members)):
        if reported.get(day, -1) >= from_members.get(day, 0):
            series.append(DailyUsage(day, reported[day], SOURCE_NON_LICENSED))
        else:
            series.append(DailyUsage(day, from_members[day], "usage of its identities"))
    projection = _projection(series, allocation, today, settings) if series else None
    top: list[CallerTotal] = []
    report_days = sorted(day for day in reported)
    if report_days:
        newest = report_days[-1]
        by_caller: dict[str, list[ReportUsage]] = defaultdict(list)
        for row in rows:
            if row.day == newest:
                by_caller[row.caller_id].append(row)
        for caller_id, caller_rows in by_caller.items():
            total = _caller_total(tenant, caller_id, caller_rows)
            match = directory.match(caller_id) if caller_id else None
            top.append(
                CallerTotal(
                    tenant,
                    caller_id,
                    total.caller_type,
                    match.identity if match else None,
                    total.requests,
                )
            )
        top.sort(key=lambda total: (-total.requests, total.caller_id))
    return PoolUsage(
        tenant=tenant,
        allocation=allocation,
        series=tuple(series),
        projection=projection,
        identities=tuple(usage.identity for usage in members),
        top_callers=tuple(top[:TOP_CALLERS]),
    )


SOURCE_LABELS = {
    SOURCE_LICENSED: "admin center csv",
    SOURCE_NON_LICENSED: "admin center csv",
    SOURCE_RECORDED: "integration",
}


def usage_days(report: UsageOverview, since: date) -> list[UsageDay]:
    """Return the ``usage_daily`` rows of *report* from *since* on: one per identity and day
    with usage, with the identity's own allocation (None on the tenant pool or unknown)."""
    rows: list[UsageDay] = []
    for usage in report.identities:
        for day in usage.series:
            if since <= day.day <= report.today:
                rows.append(
                    UsageDay(
                        identity=usage.identity,
                        day=day.day,
                        requests=day.requests,
                        allocation=usage.allocation.requests,
                        source=SOURCE_LABELS.get(day.source, day.source),
                    )
                )
    return rows


def refresh_usage_daily(
    config: Config, store: Store, now: datetime, *, days: int = ENTITLEMENT_LOOKBACK_DAYS
) -> list[UsageDay]:
    """Rewrite ``usage_daily`` for the last *days* days up to today from the stored reports and
    counts and the configuration in force; return the rows written."""
    report = gather_usage(config, store, now, history_days=days)
    since = report.today - timedelta(days=days)
    rows = usage_days(report, since)
    store.usage.replace_usage_days(rows, since, report.today)
    return rows
