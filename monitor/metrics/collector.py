"""The Prometheus collector: the daemon's memory and its database, read at scrape time.

:class:`MonitorCollector` builds every family on each scrape from three places: the daemon's
vitals (:class:`Vitals`: scheduler beat, database writes, probe passes), its in-memory counters
(:class:`~monitor.metrics.live.LiveMetrics`) and one short read-only snapshot of the database
(:class:`~monitor.metrics.database.MetricsDatabase`). What is derived from the directory facts
is cached until the facts change (at most :data:`POSTURE_MAX_AGE_SECONDS`). A scrape never
signs in, never writes and never waits for a probe.

Labels are names from the configuration (identity, environment, tenant, channel), outcome
classes, levels, kinds, job names and SKU part numbers: bounded, never free text or secrets.
The metric list and what each means: ``docs/metrics.md``.
"""

from __future__ import annotations

import platform
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.config.model import Config
from monitor.logsetup import get_logger
from monitor.metrics.database import MetricsDatabase, Snapshot
from monitor.metrics.live import LiveMetrics, LiveSnapshot
from monitor.metrics.posture import PostureValues, credential_kind, posture_values
from monitor.model.outcomes import Outcome
from monitor.pipeline.posture import merged_observations
from monitor.usage.projection import DailyUsage, project

log = get_logger("monitor.metrics")

# What is derived from the directory facts is recomputed when they change, or this often
# (the credential in use depends on the time).
POSTURE_MAX_AGE_SECONDS = 300.0
_PAIR = ("identity", "environment", "tenant")
_OUTBOX_STATUSES = ("pending", "dead")


@dataclass(frozen=True)
class Vitals:
    """What the daemon knows about its own health at this moment.

    ``last_pass_at`` is when the newest probe pass finished (the daemon's start before the
    first one); ``probe_interval_seconds`` the longest configured probe interval (None: no
    identity to probe).
    """

    scheduler_healthy: bool
    seconds_since_beat: float
    database_writable: bool
    probing: bool
    started_at: datetime
    last_pass_at: datetime | None
    probe_interval_seconds: float | None

    def problem(self) -> str | None:
        """Return why the daemon is not healthy (one line), or None."""
        if not self.scheduler_healthy:
            return (
                f"scheduler stalled: no heartbeat for {self.seconds_since_beat:.0f} s "
                "(or not running)"
            )
        if not self.database_writable:
            return "database not writable: the last write failed (see the log)"
        if not self.probing:
            since = self.last_pass_at or self.started_at
            return f"no probe pass finished since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        return None


class MonitorCollector(Collector):
    """Every ``monitor_`` family, built at scrape time (see the module docstring)."""

    def __init__(
        self,
        database: MetricsDatabase,
        config: Callable[[], Config],
        live: LiveMetrics,
        vitals: Callable[[], Vitals],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._config = config
        self._live = live
        self._vitals = vitals
        self._clock = clock
        self._posture_lock = threading.Lock()
        self._posture: tuple[tuple[object, ...], float, PostureValues] | None = None
        self._read_failing = False

    def describe(self) -> list[Metric]:
        return []  # built at scrape time: the registry must not collect at registration

    def collect(self) -> Iterator[Metric]:
        config = self._config()
        now = self._clock()
        vitals = self._vitals()
        live = self._live.snapshot()
        yield from self._self_families(config, vitals)
        yield from self._live_families(config, live)
        try:
            snapshot = self._database.read(usage_since=now.date() - timedelta(days=8))
            posture = self._posture_values(snapshot, config, now)
        except sqlite3.Error as error:
            if not self._read_failing:
                log.warning("metrics: cannot read the database", error=str(error))
            self._read_failing = True
            yield _gauge("monitor_database_read_success", "1 if this scrape read the database", 0)
            return
        if self._read_failing:
            log.info("metrics: the database is readable again")
            self._read_failing = False
        yield _gauge("monitor_database_read_success", "1 if this scrape read the database", 1)
        yield from self._pair_families(config, snapshot)
        yield from self._posture_families(posture)
        yield from self._alerting_families(config, snapshot)
        yield from self._usage_families(config, snapshot, now)

    # -- the monitor itself ---------------------------------------------------------------

    def _self_families(self, config: Config, vitals: Vitals) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            "monitor_build_info",
            "The monitor's version and Python version (always 1)",
            labels=("version", "python_version"),
        )
        build.add_metric((__version__, platform.python_version()), 1)
        yield build
        yield _gauge(
            "monitor_scheduler_healthy",
            "1 while the scheduler's heartbeat is fresh (the systemd watchdog's condition)",
            int(vitals.scheduler_healthy),
        )
        yield _gauge(
            "monitor_database_writable",
            "1 unless the daemon's last write to its database failed",
            int(vitals.database_writable),
        )
        yield _gauge(
            "monitor_start_time_seconds",
            "When the daemon started (seconds since the epoch)",
            vitals.started_at.timestamp(),
        )
        last = vitals.last_pass_at or vitals.started_at
        yield _gauge(
            "monitor_probe_pass_last_timestamp_seconds",
            "When the newest probe pass finished (the daemon's start before the first one)",
            last.timestamp(),
        )
        if vitals.probe_interval_seconds is not None:
            yield _gauge(
                "monitor_probe_interval_seconds",
                "The longest configured probe interval",
                vitals.probe_interval_seconds,
            )
        yield _gauge(
            "monitor_identities", "Identities configured and scheduled", len(config.identities)
        )

    def _live_families(self, config: Config, live: LiveSnapshot) -> Iterator[Metric]:
        durations = HistogramMetricFamily(
            "monitor_probe_duration_seconds",
            "Duration of attempted probes (sign-in and WhoAmI) since the daemon started",
            labels=_PAIR,
        )
        for key, histogram in sorted(live.durations.items()):
            if key[0] in config.identities:
                durations.add_metric(key, histogram.cumulative(), histogram.total)
        yield durations
        throttled = CounterMetricFamily(
            "monitor_dataverse_throttled",
            "Probe answers that were throttled (429, service protection) since the daemon started",
            labels=_PAIR,
        )
        for key, count in sorted(live.throttled.items()):
            if key[0] in config.identities:
                throttled.add_metric(key, count)
        yield throttled
        channels = sorted({channel.name for channel in config.channels} | set(live.sent))
        sent = CounterMetricFamily(
            "monitor_notifications_sent",
            "Notices delivered to a channel since the daemon started",
            labels=("channel",),
        )
        failed = CounterMetricFamily(
            "monitor_notifications_failed",
            "Notices whose delivery to a channel failed (retried later) since the daemon started",
            labels=("channel",),
        )
        for channel in channels:
            sent.add_metric((channel,), live.sent.get(channel, 0))
        for channel in sorted(set(channels) | set(live.failed)):
            failed.add_metric((channel,), live.failed.get(channel, 0))
        yield sent
        yield failed
        yield CounterMetricFamily(
            "monitor_notifications_dead_lettered",
            "Notices given up on (dead-lettered) since the daemon started",
            value=live.dead,
        )
        last = GaugeMetricFamily(
            "monitor_job_last_run_timestamp_seconds",
            "When the newest run of each scheduled job started",
            labels=("job",),
        )
        took = GaugeMetricFamily(
            "monitor_job_last_duration_seconds",
            "How long the newest run of each scheduled job took",
            labels=("job",),
        )
        runs = CounterMetricFamily(
            "monitor_job_runs",
            "Runs of each scheduled job since the daemon started",
            labels=("job",),
        )
        failures = CounterMetricFamily(
            "monitor_job_failures",
            "Runs of each scheduled job that raised an error since the daemon started",
            labels=("job",),
        )
        for job, run in sorted(live.jobs.items()):
            last.add_metric((job,), run.started)
            took.add_metric((job,), run.seconds)
            runs.add_metric((job,), run.runs)
            failures.add_metric((job,), run.failures)
        yield from (last, took, runs, failures)

    # -- probes ---------------------------------------------------------------------------

    def _pair_families(self, config: Config, snapshot: Snapshot) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "monitor_probe_success",
            "1 if the newest probe of the identity in the environment was ok, else 0",
            labels=(*_PAIR, "credential_kind"),
        )
        outcome = GaugeMetricFamily(
            "monitor_probe_outcome",
            "The outcome class of the newest probe (always 1; the class is the label)",
            labels=(*_PAIR, "outcome"),
        )
        last = GaugeMetricFamily(
            "monitor_probe_last_timestamp_seconds",
            "When the newest probe started",
            labels=_PAIR,
        )
        last_ok = GaugeMetricFamily(
            "monitor_probe_last_success_timestamp_seconds",
            "When the newest ok probe started (no series before the first)",
            labels=_PAIR,
        )
        failures = GaugeMetricFamily(
            "monitor_probe_consecutive_failures",
            "Attempted probes in a row that were not ok",
            labels=_PAIR,
        )
        burst = GaugeMetricFamily(
            "monitor_dataverse_requests_remaining",
            "Service-protection requests left in the 5-minute window at the newest probe "
            "(x-ms-ratelimit-burst-remaining-xrm-requests)",
            labels=_PAIR,
        )
        headroom = GaugeMetricFamily(
            "monitor_dataverse_headroom_ratio",
            "Share of the service-protection budget left at the newest probe, per resource "
            "(requests, execution_time)",
            labels=(*_PAIR, "resource"),
        )
        limits = config.usage
        for pair in sorted(snapshot.pairs, key=lambda p: (p.identity, p.environment)):
            identity = config.identities.get(pair.identity)
            if identity is None or pair.environment not in identity.environments:
                continue  # no longer configured
            labels = (pair.identity, pair.environment, pair.tenant)
            success.add_metric(
                (*labels, credential_kind(identity)), int(pair.outcome == Outcome.OK.value)
            )
            outcome.add_metric((*labels, pair.outcome), 1)
            if pair.last_probe_at is not None:
                last.add_metric(labels, pair.last_probe_at)
            if pair.last_success_at is not None:
                last_ok.add_metric(labels, pair.last_success_at)
            failures.add_metric(labels, pair.consecutive_failures)
            if pair.burst_remaining is not None:
                burst.add_metric(labels, pair.burst_remaining)
                headroom.add_metric(
                    (*labels, "requests"), min(1.0, pair.burst_remaining / limits.burst_limit)
                )
            if pair.time_remaining_ms is not None:
                headroom.add_metric(
                    (*labels, "execution_time"),
                    min(1.0, pair.time_remaining_ms / limits.execution_time_limit_ms),
                )
        yield from (success, outcome, last, last_ok, failures, burst, headroom)

    # -- directory facts ------------------------------------------------------------------

    def _posture_values(self, snapshot: Snapshot, config: Config, now: datetime) -> PostureValues:
        with self._posture_lock:
            cached = self._posture
            version = (id(config), *snapshot.facts_version)
            fresh = time.monotonic()
            if (
                cached is not None
                and cached[0] == version
                and fresh - cached[1] < POSTURE_MAX_AGE_SECONDS
            ):
                return cached[2]
            observations = merged_observations(self._database.facts(), config, now)
            values = posture_values(observations, config, now)
            self._posture = (version, fresh, values)
            return values

    def _posture_families(self, posture: PostureValues) -> Iterator[Metric]:
        who = ("identity", "tenant")
        expiry = GaugeMetricFamily(
            "monitor_credential_expiry_timestamp_seconds",
            "When the client secret or certificate in use expires (the earliest date known, "
            "and where it comes from: graph, certificate file, configuration)",
            labels=(*who, "credential_kind", "source"),
        )
        successor = GaugeMetricFamily(
            "monitor_credential_successor_registered",
            "1 if another credential of the same type that outlives the one in use is "
            "registered on the app (Graph)",
            labels=(*who, "credential_kind"),
        )
        password = GaugeMetricFamily(
            "monitor_password_expiry_timestamp_seconds",
            "When the identity's password is predicted to expire (last change + the domain's "
            "validity); no series when it never expires or cannot be predicted",
            labels=who,
        )
        enabled = GaugeMetricFamily(
            "monitor_account_enabled",
            "1 if the identity's Entra ID account (user or service principal) is enabled",
            labels=who,
        )
        dataverse_enabled = GaugeMetricFamily(
            "monitor_dataverse_user_enabled",
            "1 if the identity's systemuser in the environment is enabled",
            labels=("identity", "environment", "tenant"),
        )
        licensed = GaugeMetricFamily(
            "monitor_dataverse_user_licensed",
            "1 if Dataverse says the identity's systemuser is licensed",
            labels=("identity", "environment", "tenant"),
        )
        privileged = GaugeMetricFamily(
            "monitor_overprivileged_role_held",
            "1 if the identity holds System Administrator or System Customizer in the "
            "environment (directly or through a team)",
            labels=("identity", "environment", "tenant"),
        )
        for values in posture.identities:
            labels = (values.identity, values.tenant)
            if values.expiry is not None:
                expiry.add_metric((*labels, values.kind, values.expiry_source), values.expiry)
            if values.successor is not None:
                successor.add_metric((*labels, values.kind), int(values.successor))
            if values.password_expiry is not None:
                password.add_metric(labels, values.password_expiry)
            if values.account_enabled is not None:
                enabled.add_metric(labels, int(values.account_enabled))
            for environment, flag in sorted(values.dataverse_enabled.items()):
                dataverse_enabled.add_metric((values.identity, environment, values.tenant), flag)
            for environment, flag in sorted(values.licensed.items()):
                licensed.add_metric((values.identity, environment, values.tenant), flag)
            for environment, flag in sorted(values.over_privileged.items()):
                privileged.add_metric((values.identity, environment, values.tenant), flag)
        yield from (expiry, successor, password, enabled, dataverse_enabled, licensed, privileged)
        read_ok = GaugeMetricFamily(
            "monitor_directory_read_success",
            "1 if no fact of the tenant failed its newest directory read (no series without "
            "an observer)",
            labels=("tenant",),
        )
        last_read = GaugeMetricFamily(
            "monitor_directory_last_read_timestamp_seconds",
            "When a directory read last observed a fact of the tenant",
            labels=("tenant",),
        )
        spare = GaugeMetricFamily(
            "monitor_tenant_spare_licences",
            "Enabled minus consumed units of each subscribed SKU",
            labels=("tenant", "sku"),
        )
        for tenant in posture.tenants:
            if tenant.read_ok is not None:
                read_ok.add_metric((tenant.tenant,), int(tenant.read_ok))
            if tenant.last_read is not None:
                last_read.add_metric((tenant.tenant,), tenant.last_read)
            for sku, count in sorted(tenant.spare.items()):
                spare.add_metric((tenant.tenant, sku), count)
        yield from (read_ok, last_read, spare)
        users = GaugeMetricFamily(
            "monitor_dataverse_noninteractive_users",
            "Non-interactive users of the environment (disabled ones included)",
            labels=("tenant", "environment"),
        )
        for tenant_name, environment, count in posture.non_interactive:
            users.add_metric((tenant_name, environment), count)
        yield users
        yield _gauge(
            "monitor_dataverse_noninteractive_users_limit",
            "Non-interactive users an environment may have",
            posture.non_interactive_limit,
        )

    # -- incidents and the outbox ---------------------------------------------------------

    def _alerting_families(self, config: Config, snapshot: Snapshot) -> Iterator[Metric]:
        incidents = GaugeMetricFamily(
            "monitor_incidents_open",
            "Open incidents by level and kind",
            labels=("level", "kind"),
        )
        for kind, level, count in sorted(snapshot.incidents):
            incidents.add_metric((level, kind), count)
        yield incidents
        outbox = GaugeMetricFamily(
            "monitor_outbox_notices",
            "Notices in the outbox not sent (yet), by channel and status (pending, sending, dead)",
            labels=("channel", "status"),
        )
        counts = {(channel, status): count for channel, status, count in snapshot.outbox}
        for channel in {channel.name for channel in config.channels}:
            for status in _OUTBOX_STATUSES:
                counts.setdefault((channel, status), 0)
        for (channel, status), count in sorted(counts.items()):
            outbox.add_metric((channel, status), count)
        yield outbox

    # -- usage ------------------------------------------------------------------------------

    def _usage_families(
        self, config: Config, snapshot: Snapshot, now: datetime
    ) -> Iterator[Metric]:
        ratio = GaugeMetricFamily(
            "monitor_usage_allocation_ratio",
            "Power Platform requests of the newest day with data against the identity's "
            "24-hour allocation",
            labels=("identity", "tenant"),
        )
        exhaustion = GaugeMetricFamily(
            "monitor_usage_projected_exhaustion_timestamp_seconds",
            "The start of the UTC day on which the usage trend reaches the allocation (no "
            "series when it does not within a year)",
            labels=("identity", "tenant"),
        )
        series: dict[str, list[DailyUsage]] = {}
        allocations: dict[str, int] = {}
        for row in sorted(snapshot.usage, key=lambda row: (row.identity, row.day)):
            if row.allocation is None or row.allocation <= 0:
                continue
            series.setdefault(row.identity, []).append(DailyUsage(row.day, row.requests, ""))
            allocations[row.identity] = row.allocation  # the newest day's, rows are by day
        today = now.astimezone(UTC).date()
        for name, days in sorted(series.items()):
            identity = config.identities.get(name)
            if identity is None:
                continue
            projection = project(
                days,
                allocations[name],
                today,
                trend_days=config.usage.trend_days,
                horizon_days=config.usage.projection_days,
            )
            labels = (name, identity.tenant)
            if projection.latest_share is not None:
                ratio.add_metric(labels, float(projection.latest_share))
            if projection.exhaustion_day is not None:
                exhaustion.add_metric(labels, _day_start(projection.exhaustion_day))
        yield from (ratio, exhaustion)


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
