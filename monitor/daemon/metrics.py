"""The daemon's side of the metrics endpoint: starting the server.

:func:`start_endpoint` serves ``/metrics`` and ``/healthz`` on ``[metrics] listen``, with the
vitals the daemon reports (:meth:`monitor.daemon.service.Daemon.vitals`). A port that cannot
be bound is logged and the daemon runs on without the endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from monitor.config.model import Config
from monitor.logsetup import get_logger
from monitor.metrics import (
    LiveMetrics,
    MetricsDatabase,
    MetricsServer,
    MonitorCollector,
    Vitals,
    make_app,
)

log = get_logger("monitor.daemon")


def start_endpoint(
    vitals: Callable[[], Vitals],
    config: Config,
    database: Path,
    live: LiveMetrics,
    current: Callable[[], Config],
) -> MetricsServer | None:
    """Serve the endpoint of *config* over *database*, reporting *vitals*; return the server,
    or None when it is turned off or cannot listen (logged)."""
    settings = config.metrics
    if settings.listen is None:
        log.info("metrics endpoint turned off ([metrics] listen is empty)")
        return None
    collector = MonitorCollector(MetricsDatabase(database), current, live, vitals)
    app = make_app(collector, vitals)
    begun = time.monotonic()
    try:
        server = MetricsServer(settings.host, settings.port, app)
    except OSError as error:
        log.error(
            "metrics endpoint not served: cannot listen; the daemon runs on without it",
            listen=settings.listen,
            error=error.strerror or type(error).__name__,
        )
        return None
    server.start()
    log.info(
        "metrics endpoint listening",
        listen=settings.listen,
        port=server.port,
        paths=["/metrics", "/healthz"],
        seconds=round(time.monotonic() - begun, 3),
    )
    return server
