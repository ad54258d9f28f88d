"""The heartbeat URL: a ping after every successful cycle, so that someone notices when the
monitor itself stops (Healthchecks, Uptime Kuma "push" monitors, any dead man's switch).

The ping is a GET through the monitor's own HTTP session; it never raises, and the URL (a
secret) is never logged (docs/notifications.md, "Heartbeat").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from monitor.config.urls import describe_url, url_problems

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.http import HttpClient

log = structlog.get_logger("monitor.notify")


def ping_heartbeat(config: Config, *, client: HttpClient | None = None) -> bool | None:
    """Ping ``[alerts] heartbeat_url``; return True on a 2xx answer, False on any failure,
    None when no heartbeat URL is configured."""
    secret = config.alerts.heartbeat_url
    if secret is None:
        return None
    url = secret.reveal()
    shown = describe_url(url)
    if url_problems(url, what="heartbeat"):
        log.error("heartbeat URL refused", url=shown)
        return False
    import requests

    from monitor.http import MonitorSession

    session = MonitorSession(config.network) if client is None else None
    try:
        response = session.get(url) if session is not None else client.get(url)  # type: ignore[union-attr]
    except requests.RequestException as exc:
        log.warning("heartbeat ping failed", url=shown, error=type(exc).__name__)
        return False
    finally:
        if session is not None:
            session.close()
    if not 200 <= response.status_code < 300:
        log.warning("heartbeat ping refused", url=shown, http_status=response.status_code)
        return False
    log.debug("heartbeat pinged", url=shown)
    return True
