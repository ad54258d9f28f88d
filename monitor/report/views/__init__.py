"""The report's views, by name (the registry ``monitor report VIEW`` dispatches on).

Every view module has ``DEFAULT_SINCE`` (how far back ``--since`` reaches when not given) and
``build(database, context, options) -> ViewResult``.
"""

from __future__ import annotations

VIEWS: dict[str, str] = {
    "board": "monitor.report.views.board",
    "history": "monitor.report.views.history",
    "expiring": "monitor.report.views.expiring",
    "incidents": "monitor.report.views.incidents",
    "usage": "monitor.report.views.usage",
    "posture": "monitor.report.views.posture",
}
