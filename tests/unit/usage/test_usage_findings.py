"""The usage finding rules: allocation, pool, headroom and 429s, at their configurable levels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from monitor.config.model import UsageConfig
from monitor.findings.usage import (
    USAGE_SOURCES,
    allocation_findings,
    headroom_findings,
    pool_findings,
    throttle_findings,
    usage_findings,
)
from monitor.model.findings import FindingKind, Level
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.classify import parse_rate_limit
from monitor.usage.allocation import Allocation, AllocationLine, Basis
from monitor.usage.headroom import Headroom, headroom_of
from monitor.usage.model import CallerTotal, IdentityUsage, PoolUsage, UsageOverview
from monitor.usage.projection import DailyUsage, project
from monitor.usage.throttle import ThrottleEvent

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
SETTINGS = UsageConfig()


def identity_usage(
    series: list[DailyUsage], allocation: int | None = 6000, **fields: object
) -> IdentityUsage:
    basis: Basis = "licences" if allocation is not None else "tenant_pool"
    alloc = Allocation(
        allocation, basis, "sum of the entitlements of its licences", (AllocationLine("x", 1, "y"),)
    )
    projection = project(series, allocation, TODAY) if allocation else None
    usage = IdentityUsage(
        identity="dataverse-sync",
        tenant="contoso",
        kind="user",
        allocation=alloc,
        licence_facts=None,
        caller_ids=(),
        series=tuple(series),
        projection=projection,
        headroom=(),
        throttles=(),
        footprint=(),
    )
    return replace(usage, **fields)  # type: ignore[arg-type]


def day(offset: int, requests: int, source: str = "recorded by the integration") -> DailyUsage:
    return DailyUsage(TODAY + timedelta(days=offset), requests, source)


@pytest.mark.parametrize(
    ("requests", "level"),
    [
        (4799, None),  # 79.98%
        (4800, Level.WARNING),  # exactly 80%
        (5400, Level.WARNING),  # 90%
        (5999, Level.WARNING),
        (6000, Level.CRITICAL),  # exactly 100%
        (9000, Level.CRITICAL),
    ],
)
def test_allocation_levels_at_the_boundaries(requests: int, level: Level | None) -> None:
    """Today's usage against 6,000: warning from 80%, critical from 100%."""
    findings = allocation_findings(identity_usage([day(0, requests)]), SETTINGS, NOW)

    assert ([level] if level else []) == [finding.level for finding in findings]


def test_ninety_percent_finding_content() -> None:
    """The summary names the numbers, the day and the source; the key is stable."""
    (finding,) = allocation_findings(identity_usage([day(0, 5400)]), SETTINGS, NOW)

    assert "usage:contoso/dataverse-sync/-:allocation" == finding.key
    assert FindingKind.USAGE == finding.kind
    assert "dataverse-sync used 5,400 of 6,000 requests (90%) on 2026-03-10 (so far today)" == (
        finding.summary
    )
    assert ("usage reports and counts", "recorded by the integration") == (
        finding.source,
        finding.details["latest_source"],
    )
    assert 90.0 == finding.details["latest_percent"]


def test_projected_eighty_percent_warns_with_the_exhaustion_day_as_deadline() -> None:
    """Yesterday at 70% and rising 600 a day: the trend reaches 80% within the horizon; the
    deadline is the day it reaches the whole allocation."""
    series = [day(-3, 2400), day(-2, 3000), day(-1, 3600), day(0, 100)]

    (finding,) = allocation_findings(identity_usage(series), SETTINGS, NOW)

    assert Level.WARNING == finding.level
    # at(0) = 4200, 6000 is reached 3 days later
    assert datetime(2026, 3, 13, tzinfo=UTC) == finding.deadline
    assert "reach the allocation on 2026-03-13" in finding.summary


def test_projection_below_the_threshold_is_quiet() -> None:
    """A flat 50% trend produces nothing."""
    series = [day(-3, 3000), day(-2, 3000), day(-1, 3000)]

    assert [] == allocation_findings(identity_usage(series), SETTINGS, NOW)


def test_thresholds_are_configurable() -> None:
    """With warning at 50% and critical at 90%, 90% of the allocation is critical."""
    settings = replace(SETTINGS, warning_percent=50.0, critical_percent=90.0)

    (finding,) = allocation_findings(identity_usage([day(0, 5400)]), settings, NOW)

    assert Level.CRITICAL == finding.level


def test_critical_deadline_is_the_day_it_was_reached() -> None:
    """At or over 100%, the deadline is the day the allocation was used up."""
    (finding,) = allocation_findings(identity_usage([day(-1, 6500)]), SETTINGS, NOW)

    assert datetime(2026, 3, 9, tzinfo=UTC) == finding.deadline


def test_no_allocation_or_no_usage_no_finding() -> None:
    """A pool identity (no own allocation) and an identity without usage produce nothing."""
    assert [] == allocation_findings(identity_usage([day(0, 9999)], None), SETTINGS, NOW)
    assert [] == allocation_findings(identity_usage([]), SETTINGS, NOW)


def pool(series: list[DailyUsage], size: int = 1_100_000) -> PoolUsage:
    return PoolUsage(
        tenant="contoso",
        allocation=Allocation(size, "report", "the non-licensed report"),
        series=tuple(series),
        projection=project(series, size, TODAY),
        identities=("sales-sync",),
        top_callers=(
            CallerTotal("contoso", "8a7b", "Non-Interactive/Application", "sales-sync", 900_000),
            CallerTotal("contoso", "", "System", None, 20_000),
        ),
    )


def test_pool_total_against_pool_size() -> None:
    """The pool's daily total over every caller is judged like an allocation."""
    (finding,) = pool_findings(pool([day(-1, 935_000, "non-licensed report")]), SETTINGS, NOW)

    assert (Level.WARNING, None, "usage:contoso/-/-:pool") == (
        finding.level,
        finding.identity,
        finding.key,
    )
    assert "85%" in finding.summary
    assert "heaviest callers: sales-sync 900,000, unnamed caller 20,000" in finding.summary
    assert [] == pool_findings(pool([day(-1, 500_000)]), SETTINGS, NOW)


def headroom(burst: int | None, time_ms: int | None) -> Headroom:
    return Headroom(
        identity="sales-sync",
        environment="contoso-prod",
        tenant="contoso",
        observed_at=NOW - timedelta(minutes=5),
        burst_remaining=burst,
        time_remaining_ms=time_ms,
        burst_share=None if burst is None else Fraction(burst, 6000),
        time_share=None if time_ms is None else Fraction(time_ms, 1_200_000),
    )


@pytest.mark.parametrize(
    ("burst", "time_ms", "warns"),
    [
        (1200, 1_200_000, False),  # exactly 20% left: not below
        (1199, 1_200_000, True),
        (6000, 239_999, True),  # execution time below 20%
        (None, None, False),
        (500, None, True),
    ],
)
def test_headroom_below_twenty_percent_warns(
    burst: int | None, time_ms: int | None, warns: bool
) -> None:
    """Less than 20% of either budget left at probe time is a warning for that environment."""
    usage = identity_usage([], headroom=(headroom(burst, time_ms),))

    findings = headroom_findings(usage, SETTINGS, NOW)

    assert warns == bool(findings)
    if warns:
        (finding,) = findings
        assert (Level.WARNING, "contoso-prod", "probe rate-limit headers") == (
            finding.level,
            finding.environment,
            finding.source,
        )
        assert "usage:contoso/dataverse-sync/contoso-prod:headroom" == finding.key


def test_headroom_summary_names_what_is_low() -> None:
    """The summary says how much of which budget was left, and when."""
    usage = identity_usage([], identity="sales-sync", headroom=(headroom(500, 100_000),))

    (finding,) = headroom_findings(usage, SETTINGS, NOW)

    assert finding.summary.startswith(
        "only 500 of 6,000 requests (8.3%) and 100 of 1,200 s of execution time (8.3%) were "
        "left of sales-sync's 5-minute service-protection budget in contoso-prod at 2026-03-10 "
        "14:55 UTC"
    )


def test_an_overdrawn_budget_read_from_the_headers_is_a_usage_warning() -> None:
    """Dataverse answering `x-ms-ratelimit-burst-remaining-xrm-requests: -5` (the counter can go
    below zero): the probe keeps the value and the usage rules warn that the budget was
    overdrawn, instead of ignoring it."""
    rate_limit = parse_rate_limit(
        {
            "x-ms-ratelimit-burst-remaining-xrm-requests": "-5",
            "x-ms-ratelimit-time-remaining-xrm-requests": "1,199.99",
        }
    )
    probe = ProbeResult(
        identity="sales-sync",
        environment="contoso-prod",
        tenant="contoso",
        credential_type="client_secret",
        started_at=NOW - timedelta(minutes=5),
        duration_ms=80,
        outcome=Outcome.OK,
        stage="dataverse",
        rate_limit=rate_limit,
    )
    observed = headroom_of(probe)
    assert observed is not None
    usage = identity_usage([], identity="sales-sync", headroom=(observed,))

    report = UsageOverview(
        as_of=NOW,
        today=TODAY,
        identities=(usage,),
        pools=(),
        unmatched_callers=(),
        licence_sources=("configuration",),
    )

    (finding,) = usage_findings(report, SETTINGS, NOW)

    assert (Level.WARNING, "usage:contoso/sales-sync/contoso-prod:headroom") == (
        finding.level,
        finding.key,
    )
    assert finding.summary.startswith(
        "the budget was overdrawn: -5 of 6,000 requests were left of sales-sync's 5-minute "
        "service-protection budget in contoso-prod at 2026-03-10 14:55 UTC"
    )


def event(minutes_ago: int, environment: str = "contoso-prod") -> ThrottleEvent:
    return ThrottleEvent(
        identity="dataverse-sync",
        environment=environment,
        tenant="contoso",
        answered_at=NOW - timedelta(minutes=minutes_ago),
        service="Dataverse",
        http_status=429,
        retry_after_seconds=300,
        error_code="0x80072322",
    )


def test_one_429_warns_and_repeated_429s_are_critical() -> None:
    """One throttled answer is a warning; two (the default count) critical, per environment."""
    once = identity_usage([], throttles=(event(30),))
    twice = identity_usage([], throttles=(event(30), event(5), event(1, "contoso-test")))

    (warning,) = throttle_findings(once, SETTINGS, NOW)
    critical, other = throttle_findings(twice, SETTINGS, NOW)

    assert Level.WARNING == warning.level
    assert (Level.CRITICAL, "contoso-prod", 2) == (
        critical.level,
        critical.environment,
        critical.details["count"],
    )
    assert "latest at 2026-03-10 14:55 UTC: Dataverse HTTP 429 0x80072322, Retry-After 300 s" in (
        critical.summary
    )
    assert (Level.WARNING, "contoso-test") == (other.level, other.environment)
    assert {"probe 429 answers"} == {critical.source, other.source} & USAGE_SOURCES
    settings = replace(SETTINGS, throttled_critical_count=3)
    assert [Level.WARNING, Level.WARNING] == [
        f.level for f in throttle_findings(twice, settings, NOW)
    ]


def test_usage_findings_collects_every_rule_in_key_order() -> None:
    """One report, every kind of finding, sorted by key."""
    usage = identity_usage([day(0, 5400)], headroom=(headroom(100, None),), throttles=(event(1),))
    report = UsageOverview(
        as_of=NOW,
        today=TODAY,
        identities=(usage,),
        pools=(pool([day(-1, 1_200_000)]),),
        unmatched_callers=(),
        licence_sources=("configuration",),
    )

    findings = usage_findings(report, SETTINGS, NOW)

    assert [
        "usage:contoso/-/-:pool",
        "usage:contoso/dataverse-sync/-:allocation",
        "usage:contoso/dataverse-sync/contoso-prod:headroom",
        "usage:contoso/dataverse-sync/contoso-prod:throttled",
    ] == [finding.key for finding in findings]
    assert Level.CRITICAL == findings[0].level
    assert {finding.source for finding in findings} == USAGE_SOURCES
    assert date(2026, 3, 9) == findings[0].deadline.date()  # type: ignore[union-attr]
