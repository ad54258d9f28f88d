"""The daemon's side of the metrics endpoint: its vitals, and starting the server.

:func:`vitals_of` reads what the daemon already tracks for systemd's watchdog and the
heartbeat URL (the scheduler's beat, failed database writes, finished probe passes);
:func:`start_endpoint` serves ``/metrics`` and ``/healthz`` on ``[metrics] listen``. A port
that cannot be bound is logged and the daemon runs on without the endpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.config.model import Config
from monitor.daemon.plan import STARTUP_SPREAD_SECONDS
from monitor.logsetup import get_logger
from monitor.metrics import (
    LiveMetrics,
    MetricsDatabase,
    MetricsServer,
    MonitorCollector,
    Vitals,
    make_app,
)

if TYPE_CHECKING:
    from monitor.daemon.service import Daemon

log = get_logger("monitor.daemon")


def vitals_of(daemon: Daemon) -> Vitals:
    """Return the daemon's health as the endpoint reports it."""
    status = daemon.status
    window = status.pass_window_seconds
    interval = (window - STARTUP_SPREAD_SECONDS) / 2 if math.isfinite(window) else None
    started = status.started_at or datetime.now(UTC)
    return Vitals(
        scheduler_healthy=daemon.healthy(),
        seconds_since_beat=daemon.seconds_since_beat(),
        database_writable=not (daemon.writer_failing() or status.row_failing),
        probing=status.probing(),
        started_at=started,
        last_pass_at=status.last_probe_at,
        probe_interval_seconds=interval,
    )


def start_endpoint(
    daemon: Daemon,
    config: Config,
    database: Path,
    live: LiveMetrics,
    current: Callable[[], Config],
) -> MetricsServer | None:
    """Serve the endpoint of *config* for *daemon*, whose database is *database*; return the
    server, or None when it is turned off or cannot listen (logged)."""
    settings = config.metrics
    if settings.listen is None:
        log.info("metrics endpoint turned off ([metrics] listen is empty)")
        return None
    collector = MonitorCollector(
        MetricsDatabase(database), current, live, lambda: vitals_of(daemon)
    )
    app = make_app(collector, lambda: vitals_of(daemon))
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
