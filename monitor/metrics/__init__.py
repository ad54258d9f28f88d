"""The metrics endpoint of ``monitor run``: ``/metrics`` for Prometheus and ``/healthz``.

:class:`~monitor.metrics.live.LiveMetrics` keeps what only the running daemon knows (probe
durations, throttled answers, notices sent, job runs); :class:`~monitor.metrics.collector.
MonitorCollector` reads it, the daemon's vitals and a read-only snapshot of the database at
scrape time; :mod:`monitor.metrics.server` serves both paths. The metric list:
``docs/metrics.md``.
"""

from monitor.metrics.collector import MonitorCollector, Vitals
from monitor.metrics.database import MetricsDatabase
from monitor.metrics.live import LiveMetrics
from monitor.metrics.server import MetricsServer, build_registry, make_app

__all__ = [
    "LiveMetrics",
    "MetricsDatabase",
    "MetricsServer",
    "MonitorCollector",
    "Vitals",
    "build_registry",
    "make_app",
]
