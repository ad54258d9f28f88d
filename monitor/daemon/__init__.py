"""The daemon behind ``monitor run``: scheduling, systemd notification, signals, reload.

:class:`~monitor.daemon.service.Daemon` schedules the jobs of :data:`monitor.daemon.jobs.JOBS`;
:mod:`monitor.daemon.notify` speaks sd_notify; :mod:`monitor.daemon.plan` decides intervals and
first runs; :mod:`monitor.daemon.status` keeps the one-line summary systemd shows and the
daemon's status row in the database (what ``monitor report`` reads to tell whether the daemon is
alive).
"""

from monitor.daemon.notify import Notifier, watchdog_interval_seconds
from monitor.daemon.service import Daemon

__all__ = ["Daemon", "Notifier", "watchdog_interval_seconds"]
