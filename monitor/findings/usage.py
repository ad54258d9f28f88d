"""Findings from API usage: allocation, tenant pool, service-protection headroom, 429 answers.

Pure rules over a :class:`~monitor.usage.model.UsageOverview`, the ``[usage]`` thresholds and
``now``; all findings are of kind ``usage``, keyed ``allocation``, ``pool``, ``headroom`` or
``throttled``. When each one is a warning or critical: ``docs/usage.md``, "Findings".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from fractions import Fraction

from monitor.config.model import UsageConfig
from monitor.model.findings import Finding, FindingKind, Level
from monitor.usage.allocation import Allocation
from monitor.usage.model import IdentityUsage, PoolUsage, UsageOverview
from monitor.usage.projection import Projection, percent, reaches
from monitor.usage.throttle import ThrottleEvent

# Finding.source of each rule: fixed strings, so that an evaluation that includes these findings
# can say it is complete for USAGE_SOURCES (an incident of another source is not resolved by the
# absence of usage findings, and vice versa). Where a day's number came from is in the details.
SOURCE_HEADROOM = "probe rate-limit headers"
SOURCE_THROTTLED = "probe 429 answers"
SOURCE_CONSUMPTION = "usage reports and counts"
USAGE_SOURCES = frozenset({SOURCE_HEADROOM, SOURCE_THROTTLED, SOURCE_CONSUMPTION})

ALLOCATION_REMEDY = (
    "Reduce the integration's request volume (fewer polls, changed-rows-only syncs; $batch items "
    "still count), spread it over more identities, or add licences or Power Platform request "
    "capacity add-ons (+50,000 per 24 hours each); check the Power Platform admin center's "
    "Capacity reports."
)
POOL_REMEDY = (
    "Application users and non-interactive users share this pool: find the heaviest callers in "
    "the non-licensed report, reduce their volume, or buy Power Platform request capacity "
    "add-ons or move the environment to pay-as-you-go."
)
HEADROOM_REMEDY = (
    "The integration is close to Dataverse's service-protection limit (6,000 requests or 20 "
    "minutes of execution time per 5 minutes, per user and web server): lower its concurrency "
    "and request rate, make it honour Retry-After, or spread the load over several identities."
)
THROTTLED_REMEDY = (
    "Dataverse (or Entra ID) is refusing requests from this identity with HTTP 429: the "
    "integration must wait for Retry-After before retrying, and send fewer or cheaper requests "
    "(lower concurrency, smaller batches). The monitor itself waits out every Retry-After."
)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _level(projection: Projection, settings: UsageConfig) -> Level | None:
    if reaches(projection.latest_share, settings.critical_percent):
        return Level.CRITICAL
    if reaches(projection.latest_share, settings.warning_percent) or reaches(
        projection.projected_share, settings.warning_percent
    ):
        return Level.WARNING
    return None


def _describe(projection: Projection, what: str) -> tuple[str, datetime | None]:
    latest = projection.latest
    assert latest is not None
    allocation = projection.allocation
    text = (
        f"{what} used {latest.requests:,} of {allocation:,} requests "
        f"({percent(projection.latest_share)}) on {latest.day.isoformat()}"
    )
    if latest.day == projection.today:
        text += " (so far today)"
    deadline: datetime | None = None
    if projection.exhaustion_day is not None:
        deadline = _start_of(projection.exhaustion_day)
        if projection.exhaustion_day <= projection.today:
            text += "; at the recent trend a day's requests already reach the allocation"
        else:
            text += (
                f"; at the recent trend a day's requests reach the allocation on "
                f"{projection.exhaustion_day.isoformat()}"
            )
    elif projection.projected_share is not None:
        text += (
            f"; the recent trend reaches {percent(projection.projected_share)} by "
            f"{projection.horizon_day.isoformat()}"
        )
    if reaches(projection.latest_share, 100):
        deadline = _start_of(latest.day)
    return text, deadline


def _projection_details(projection: Projection, allocation: Allocation) -> dict[str, object]:
    latest = projection.latest
    return {
        "allocation": projection.allocation,
        "latest_day": latest.day.isoformat() if latest else None,
        "latest_requests": latest.requests if latest else None,
        "latest_source": latest.source if latest else None,
        "latest_percent": _as_percent(projection.latest_share),
        "projected_percent": _as_percent(projection.projected_share),
        "projection_until": projection.horizon_day.isoformat(),
        "trend_days": projection.trend_points,
        "trend_per_day": _as_number(projection.slope_per_day),
        "exhaustion_day": (
            projection.exhaustion_day.isoformat() if projection.exhaustion_day else None
        ),
        "allocation_basis": allocation.basis,
        "allocation_source": allocation.source,
    }


def _as_percent(share: Fraction | None) -> float | None:
    return None if share is None else round(float(share * 100), 2)


def _as_number(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 2)


def allocation_findings(
    usage: IdentityUsage, settings: UsageConfig, now: datetime
) -> list[Finding]:
    """Return the allocation finding of one identity (none, or one)."""
    return _consumption_findings(
        usage.projection,
        usage.allocation,
        settings,
        now,
        tenant=usage.tenant,
        identity=usage.identity,
        subject_id="allocation",
        subject="24-hour Power Platform request allocation",
        what=f"{usage.identity}",
        remedy=ALLOCATION_REMEDY,
    )


def pool_findings(pool: PoolUsage, settings: UsageConfig, now: datetime) -> list[Finding]:
    """Return the finding of one tenant's non-licensed pool (none, or one)."""
    heaviest = ", ".join(
        f"{caller.identity or caller.caller_id or 'unnamed caller'} {caller.requests:,}"
        for caller in pool.top_callers[:3]
    )
    return _consumption_findings(
        pool.projection,
        pool.allocation,
        settings,
        now,
        tenant=pool.tenant,
        identity=None,
        subject_id="pool",
        subject="tenant pool of non-licensed Power Platform requests",
        what=f"the non-licensed pool of tenant {pool.tenant}",
        remedy=POOL_REMEDY,
        tail=f"; heaviest callers: {heaviest}" if heaviest else "",
        details={"identities": list(pool.identities)},
    )


def _consumption_findings(
    projection: Projection | None,
    allocation: Allocation,
    settings: UsageConfig,
    now: datetime,
    *,
    tenant: str,
    identity: str | None,
    subject_id: str,
    subject: str,
    what: str,
    remedy: str,
    tail: str = "",
    details: Mapping[str, object] | None = None,
) -> list[Finding]:
    """Return the finding of a day's usage (or its trend) against *allocation*: none, or one."""
    if projection is None or projection.latest is None:
        return []
    level = _level(projection, settings)
    if level is None:
        return []
    summary, deadline = _describe(projection, what)
    return [
        Finding.create(
            FindingKind.USAGE,
            level,
            tenant=tenant,
            identity=identity,
            environment=None,
            subject_id=subject_id,
            subject=subject,
            summary=summary + tail,
            remedy=remedy,
            observed_at=now,
            source=SOURCE_CONSUMPTION,
            deadline=deadline,
            details={**_projection_details(projection, allocation), **(details or {})},
        )
    ]


def headroom_findings(usage: IdentityUsage, settings: UsageConfig, now: datetime) -> list[Finding]:
    """Return a warning per environment where the newest answer left little headroom."""
    findings: list[Finding] = []
    threshold = Fraction(str(settings.burst_warning_percent)) / 100
    for headroom in usage.headroom:
        low: list[str] = []
        overdrawn = False
        for remaining, share, words in (
            (headroom.burst_remaining, headroom.burst_share, _burst_words),
            (headroom.time_remaining_ms, headroom.time_share, _time_words),
        ):
            if share is not None and share < threshold:
                assert remaining is not None
                overdrawn |= remaining < 0
                low.append(
                    words(remaining, settings) + ("" if remaining < 0 else f" ({percent(share)})")
                )
        if not low:
            continue
        prefix = "the budget was overdrawn:" if overdrawn else "only"
        findings.append(
            Finding.create(
                FindingKind.USAGE,
                Level.WARNING,
                tenant=usage.tenant,
                identity=usage.identity,
                environment=headroom.environment,
                subject_id="headroom",
                subject="Dataverse service-protection headroom",
                summary=(
                    f"{prefix} {' and '.join(low)} were left of {usage.identity}'s 5-minute "
                    f"service-protection budget in {headroom.environment} at "
                    f"{headroom.observed_at:%Y-%m-%d %H:%M} UTC"
                ),
                remedy=HEADROOM_REMEDY,
                observed_at=headroom.observed_at,
                source=SOURCE_HEADROOM,
                details={
                    "burst_remaining": headroom.burst_remaining,
                    "time_remaining_ms": headroom.time_remaining_ms,
                    "burst_percent": _as_percent(headroom.burst_share),
                    "time_percent": _as_percent(headroom.time_share),
                },
            )
        )
    return findings


def _burst_words(remaining: int, settings: UsageConfig) -> str:
    return f"{remaining:,} of {settings.burst_limit:,} requests"


def _time_words(remaining_ms: int, settings: UsageConfig) -> str:
    return (
        f"{remaining_ms / 1000:,.0f} of "
        f"{settings.execution_time_limit_ms / 1000:,.0f} s of execution time"
    )


def throttle_findings(usage: IdentityUsage, settings: UsageConfig, now: datetime) -> list[Finding]:
    """Return one finding per environment that answered "throttled" within the window."""
    by_environment: dict[str, list[ThrottleEvent]] = defaultdict(list)
    for event in usage.throttles:
        by_environment[event.environment].append(event)
    findings: list[Finding] = []
    for environment, events in sorted(by_environment.items()):
        events.sort(key=lambda event: event.answered_at)
        latest = events[-1]
        count = len(events)
        level = Level.CRITICAL if count >= settings.throttled_critical_count else Level.WARNING
        times = "once" if count == 1 else f"{count} times"
        findings.append(
            Finding.create(
                FindingKind.USAGE,
                level,
                tenant=usage.tenant,
                identity=usage.identity,
                environment=environment,
                subject_id="throttled",
                subject="throttled requests (HTTP 429)",
                summary=(
                    f"{usage.identity} was throttled {times} in {environment} within "
                    f"{settings.throttle_window_hours:g} h; latest at "
                    f"{latest.answered_at:%Y-%m-%d %H:%M} UTC: {latest.describe()}"
                ),
                remedy=THROTTLED_REMEDY,
                observed_at=latest.answered_at,
                source=SOURCE_THROTTLED,
                details={
                    "count": count,
                    "service": latest.service,
                    "http_status": latest.http_status,
                    "error_code": latest.error_code,
                    "retry_after_seconds": latest.retry_after_seconds,
                },
            )
        )
    return findings


def usage_findings(report: UsageOverview, settings: UsageConfig, now: datetime) -> list[Finding]:
    """Return every usage finding of *report*, ordered by key."""
    findings: list[Finding] = []
    for usage in report.identities:
        findings += allocation_findings(usage, settings, now)
        findings += headroom_findings(usage, settings, now)
        findings += throttle_findings(usage, settings, now)
    for pool in report.pools:
        findings += pool_findings(pool, settings, now)
    return sorted(findings, key=lambda finding: finding.key)
