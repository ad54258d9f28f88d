"""Helpers for the report's integration tests: a fixed ``NOW``, a context factory, and
building a view on a database file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.report_history import metas

from monitor.report.context import ReportContext, Selection
from monitor.report.database import ReportDatabase, open_database
from monitor.report.model import ViewResult
from monitor.report.views.common import Options

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def context(
    *,
    now: datetime = NOW,
    since: datetime | None = None,
    until: datetime | None = None,
    days: int = 30,
    configured: bool = True,
    config: Any = None,
    **selection: Any,
) -> ReportContext:
    """Return a context at *now* over ``[since, until)`` (default: the *days* before now) in
    UTC, with the history's configured identities unless *configured* is False, and *config*
    (the loaded configuration, which the posture rules need)."""
    end = until or now
    return ReportContext(
        now=now,
        since=since or end - timedelta(days=days),
        until=end,
        zone=UTC,
        selection=Selection(
            **{key: frozenset(value) for key, value in selection.items() if value is not None}
        ),
        configured=metas(now) if configured else {},
        has_config=configured,
        config=config,
    )


@contextmanager
def opened(path: Path) -> Iterator[ReportDatabase]:
    with open_database(path) as database:
        yield database


def build(view: Any, path: Path, ctx: ReportContext, options: Options | None = None) -> ViewResult:
    """Build *view* (a view module) on the database at *path*."""
    with opened(path) as database:
        result: ViewResult = view.build(database, ctx, options or Options())
    return result
