"""One identity's history: the timeline of probe outcomes as periods of one outcome each
(from the stored state changes), how long each failure lasted, and per environment the down
and unverified time and availability over the window.

Periods come from ``state_change`` (kept when retention deletes raw results); raw results only
add how many probes each period saw. Availability per day comes from the daily rollups.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.exits import EXIT_USAGE
from monitor.model.outcomes import Nature
from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.errors import ReportError
from monitor.report.model import (
    AvailabilityChart,
    AvailabilityStrip,
    Cell,
    Column,
    Level,
    Table,
    ViewResult,
)
from monitor.report.sources import probes
from monitor.report.sources.base import outcome_level, outcome_nature, stored, utc
from monitor.report.views.common import (
    AVAILABILITY_NOTE,
    Options,
    availability,
    day_cells,
    view_result,
    window_days,
    worst,
)

DEFAULT_SINCE = timedelta(days=30)

PERIOD_COLUMNS = (
    Column("environment", "ENVIRONMENT", shrink=1, min_width=8),
    Column("start", "FROM", "time"),
    Column("end", "TO", "time"),
    Column("duration_seconds", "FOR", "duration"),
    Column("outcome", "OUTCOME", "state", shrink=1, min_width=8),
    Column("probes", "PROBES", "int"),
    Column("detail", "DETAIL", shrink=3, min_width=6),
    Column("nature", "NATURE", terminal=False),
    Column("ongoing", "ONGOING", terminal=False),
    Column("attempted", "ATTEMPTED", terminal=False),
    Column("aadsts_code", "AADSTS", "int", terminal=False),
    Column("http_status", "HTTP", "int", terminal=False),
)

SUMMARY_COLUMNS = (
    Column("environment", "ENVIRONMENT", shrink=1, min_width=8),
    Column("outcome", "NOW", "state", shrink=1, min_width=8),
    Column("availability", "AVAIL", "fraction"),
    Column("down_seconds", "DOWN", "duration"),
    Column("unverified_seconds", "UNVERIFIED", "duration"),
    Column("failures", "FAILURES", "int"),
    Column("changes", "CHANGES", "int"),
    Column("probes", "PROBES", "int"),
)


@dataclass(frozen=True)
class Period:
    environment: str
    start: datetime
    end: datetime | None  # None: still going on at the end of the window (now)
    outcome: str
    change: probes.ChangeRow | None  # the change that began it (None: began before the window)


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the history of the one identity the selection names.

    Raise ReportError unless exactly one identity is selected.
    """
    selection = context.selection
    if selection.identities is None or len(selection.identities) != 1:
        raise ReportError("`monitor report history` needs exactly one --identity NAME", EXIT_USAGE)
    [identity] = selection.identities
    environments = [
        environment
        for environment in probes.environments_of(database, identity)
        if selection.wants_environment(environment)
    ]
    first, last = window_days(context)

    period_rows: list[dict[str, Cell]] = []
    period_marks: list[dict[str, Level]] = []
    summary_rows: list[dict[str, Cell]] = []
    summary_marks: list[dict[str, Level]] = []
    strips: list[AvailabilityStrip] = []
    approximate = False
    for environment in environments:
        periods = _periods(database, identity, environment, context.since, context.until)
        results = probes.results_in(database, identity, environment, context.since, context.until)
        times = [started for started, _ in results]
        down = unverified = timedelta(0)
        failures = 0
        for period in periods:
            start_us = stored(max(period.start, context.since))
            end_at = period.end if period.end is not None else context.now
            end_us = stored(min(end_at, context.until))
            count = bisect.bisect_left(times, end_us) - bisect.bisect_left(times, start_us)
            clipped = max(
                timedelta(0), min(end_at, context.until) - max(period.start, context.since)
            )
            nature = outcome_nature(period.outcome)
            if nature is Nature.DEFINITIVE:
                down += clipped
            elif nature is not Nature.HEALTHY:
                unverified += clipped
            if nature is not Nature.HEALTHY and period.change is not None:
                failures += 1
            change = period.change
            detail = ""
            if change is not None:
                detail = change.message or ""
                if change.attempted is False and not detail:
                    detail = "held: no sign-in attempted"
            period_rows.append(
                {
                    "environment": environment,
                    "start": period.start,
                    "end": period.end,
                    "duration_seconds": end_at - period.start,
                    "outcome": period.outcome,
                    "probes": count,
                    "detail": detail,
                    "nature": nature.value,
                    "ongoing": period.end is None,
                    "attempted": None if change is None else change.attempted,
                    "aadsts_code": None if change is None else change.aadsts_code,
                    "http_status": None if change is None else change.http_status,
                }
            )
            period_marks.append({"outcome": outcome_level(period.outcome)})
        counts = probes.daily_counts(
            database, first, last, identity=identity, environments=(environment,)
        )
        cells = day_cells(counts.get(identity, {}), first, last)
        if probes.raw_results_cover(database, identity, environment, context.since):
            # Every result of the window is still kept: count them exactly.
            ratio = _availability(outcome for _, outcome in results)
        else:
            # Retention has deleted part of the window's results: whole UTC days of rollups.
            ratio = availability(cells)[0]
            approximate = True
        current = periods[-1].outcome if periods else None
        summary_rows.append(
            {
                "environment": environment,
                "outcome": current,
                "availability": ratio,
                "down_seconds": down,
                "unverified_seconds": unverified,
                "failures": failures,
                "changes": sum(1 for period in periods if period.change is not None),
                "probes": len(times),
            }
        )
        level = outcome_level(current) if current is not None else "none"
        summary_marks.append({"outcome": level})
        strips.append(AvailabilityStrip(environment, level, cells))

    notes = [AVAILABILITY_NOTE]
    if approximate:
        notes.append(
            "availability counts whole UTC days of the daily rollups where raw results are no "
            "longer kept"
        )
    if not environments:
        notes.insert(
            0,
            f"{identity} has no probe results"
            + (" in the selected environments" if selection.environments else " yet"),
        )
    return view_result(
        context,
        "history",
        f"History of {identity}",
        (
            Table(
                "summary",
                "Per environment",
                SUMMARY_COLUMNS,
                tuple(summary_rows),
                tuple(summary_marks),
                empty="no environment to show",
            ),
            Table(
                "periods",
                "Periods of one outcome (newest last)",
                PERIOD_COLUMNS,
                tuple(period_rows),
                tuple(period_marks),
                empty="no probe results in this period",
            ),
        ),
        primary="periods",
        notes=tuple(notes),
        charts=(
            AvailabilityChart(
                f"Availability of {identity} per day (UTC days)",
                first,
                last,
                tuple(strips),
            ),
        ),
        facts={"identity": identity, "level": worst(s.level for s in strips)},
    )


def _availability(outcomes: Iterable[str]) -> float | None:
    ok = down = 0
    for outcome in outcomes:
        nature = outcome_nature(outcome)
        if nature is Nature.HEALTHY:
            ok += 1
        elif nature is Nature.DEFINITIVE:
            down += 1
    return None if ok + down == 0 else ok / (ok + down)


def _periods(
    database: ReportDatabase, identity: str, environment: str, since: datetime, until: datetime
) -> list[Period]:
    """Return the periods of one outcome that overlap ``[since, until)``, oldest first."""
    periods: list[Period] = []
    before = probes.outcome_before(database, identity, environment, since)
    current: Period | None = None
    if before is not None:
        current = Period(environment, before[1], None, before[0], None)
    for change in probes.changes(database, identity, environment, since, until):
        if current is not None and change.at > since:  # else it ended as the window began
            periods.append(
                Period(environment, current.start, change.at, current.outcome, current.change)
            )
        current = Period(environment, change.at, None, change.to_outcome, change)
    if current is not None:
        # A window that ends in the past: the last period ended at the next change, if any.
        ended = _next_change(database, identity, environment, until)
        periods.append(Period(environment, current.start, ended, current.outcome, current.change))
    return periods


def _next_change(
    database: ReportDatabase, identity: str, environment: str, at: datetime
) -> datetime | None:
    row = database.connection.execute(
        "SELECT min(at) FROM state_change WHERE identity = ? AND environment = ? AND at >= ?",
        (identity, environment, stored(at)),
    ).fetchone()
    return None if row is None else utc(row[0])
