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

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.config.model import Config
from monitor.logsetup import get_logger
from monitor.metrics.database import MetricsDatabase, PairRow, RawPair, Snapshot, pair_row
from monitor.metrics.exposition import Family, Kind, Sample
from monitor.metrics.live import LiveMetrics, LiveSnapshot
from monitor.metrics.posture import PostureValues, posture_values
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
        # Each pair's samples by its stored state (rebuilt only when the state changed).
        self._pairs: dict[tuple[str, str], tuple[RawPair, list[tuple[int, Sample]]]] = {}
        self._pairs_config = 0
        self._posture_built: tuple[object, list[Family]] = (None, [])
        self._throttled: dict[tuple[str, str, str], tuple[int, Sample]] = {}
        # Each pair's histogram samples, by its count (rebuilt only after a new probe).
        self._histograms: dict[tuple[str, str, str], tuple[int, list[Sample]]] = {}
        self._usage: (
            tuple[object, list[tuple[tuple[str, str], float | None, float | None]]] | None
        ) = None

    def describe(self) -> list[Metric]:
        return []  # built at scrape time: the registry must not collect at registration

    def collect(self) -> Iterator[Metric]:
        """The families as ``prometheus_client`` metrics (the library's encoders, tests)."""
        for family in self.families():
            yield family.metric()

    def families(self) -> list[Family]:
        """Return every family as of now (what :class:`~monitor.metrics.exposition.
        Exposition` writes)."""
        return list(self._families())

    def _families(self) -> Iterator[Family]:
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
            yield _single("monitor_database_read_success", "1 if this scrape read the database", 0)
            return
        if self._read_failing:
            log.info("metrics: the database is readable again")
            self._read_failing = False
        yield _single("monitor_database_read_success", "1 if this scrape read the database", 1)
        yield from self._pair_families(config, snapshot)
        if self._posture_built[0] is not posture:  # rebuilt only when the facts changed
            self._posture_built = (posture, list(self._posture_families(posture)))
        yield from self._posture_built[1]
        yield from self._alerting_families(config, snapshot)
        yield from self._usage_families(config, snapshot, now)

    # -- the monitor itself ---------------------------------------------------------------

    def _self_families(self, config: Config, vitals: Vitals) -> Iterator[Family]:
        build = Family(
            "monitor_build_info",
            "gauge",
            "The monitor's version and Python version (always 1)",
            ("version", "python_version"),
        )
        build.add((__version__, platform.python_version()), 1)
        yield build
        yield _single(
            "monitor_scheduler_healthy",
            "1 while the scheduler's heartbeat is fresh (the systemd watchdog's condition)",
            int(vitals.scheduler_healthy),
        )
        yield _single(
            "monitor_database_writable",
            "1 unless the daemon's last write to its database failed",
            int(vitals.database_writable),
        )
        yield _single(
            "monitor_start_time_seconds",
            "When the daemon started (seconds since the epoch)",
            vitals.started_at.timestamp(),
        )
        last = vitals.last_pass_at or vitals.started_at
        yield _single(
            "monitor_probe_pass_last_timestamp_seconds",
            "When the newest probe pass finished (the daemon's start before the first one)",
            last.timestamp(),
        )
        if vitals.probe_interval_seconds is not None:
            yield _single(
                "monitor_probe_interval_seconds",
                "The longest configured probe interval",
                vitals.probe_interval_seconds,
            )
        yield _single(
            "monitor_identities", "Identities configured and scheduled", len(config.identities)
        )

    def _live_families(self, config: Config, live: LiveSnapshot) -> Iterator[Family]:
        durations = Family(
            "monitor_probe_duration_seconds",
            "histogram",
            "Duration of attempted probes (sign-in and WhoAmI) since the daemon started",
            _PAIR,
        )
        cache: dict[tuple[str, str, str], tuple[int, list[Sample]]] = {}
        for key, histogram in sorted(live.durations.items()):
            if key[0] not in config.identities:
                continue
            known = self._histograms.get(key)
            if known is None or known[0] != histogram.count:
                one = Family(durations.name, "histogram", "", _PAIR)
                one.add_histogram(key, histogram.cumulative(), histogram.total)
                known = (histogram.count, one.samples)
            cache[key] = known
            durations.samples += known[1]
        self._histograms = cache
        yield durations
        throttled = Family(
            "monitor_dataverse_throttled",
            "counter",
            "Probe answers that were throttled (429, service protection) since the daemon started",
            _PAIR,
        )
        counted: dict[tuple[str, str, str], tuple[int, Sample]] = {}
        for key, count in sorted(live.throttled.items()):
            if key[0] in config.identities:
                seen = self._throttled.get(key)
                if seen is None or seen[0] != count:
                    seen = (count, ("monitor_dataverse_throttled_total", key, count))
                counted[key] = seen
                throttled.samples.append(seen[1])
        self._throttled = counted
        yield throttled
        channels = sorted({channel.name for channel in config.channels} | set(live.sent))
        sent = Family(
            "monitor_notifications_sent",
            "counter",
            "Notices delivered to a channel since the daemon started",
            ("channel",),
        )
        failed = Family(
            "monitor_notifications_failed",
            "counter",
            "Notices whose delivery to a channel failed (retried later) since the daemon started",
            ("channel",),
        )
        for channel in channels:
            sent.add((channel,), live.sent.get(channel, 0))
        for channel in sorted(set(channels) | set(live.failed)):
            failed.add((channel,), live.failed.get(channel, 0))
        yield sent
        yield failed
        yield _single(
            "monitor_notifications_dead_lettered",
            "Notices given up on (dead-lettered) since the daemon started",
            live.dead,
            "counter",
        )
        last = Family(
            "monitor_job_last_run_timestamp_seconds",
            "gauge",
            "When the newest run of each scheduled job started",
            ("job",),
        )
        took = Family(
            "monitor_job_last_duration_seconds",
            "gauge",
            "How long the newest run of each scheduled job took",
            ("job",),
        )
        runs = Family(
            "monitor_job_runs",
            "counter",
            "Runs of each scheduled job since the daemon started",
            ("job",),
        )
        failures = Family(
            "monitor_job_failures",
            "counter",
            "Runs of each scheduled job that raised an error since the daemon started",
            ("job",),
        )
        for job, run in sorted(live.jobs.items()):
            last.add((job,), run.started)
            took.add((job,), run.seconds)
            runs.add((job,), run.runs)
            failures.add((job,), run.failures)
        yield from (last, took, runs, failures)

    # -- probes ---------------------------------------------------------------------------

    def _pair_families(self, config: Config, snapshot: Snapshot) -> Iterator[Family]:
        success = Family(
            "monitor_probe_success",
            "gauge",
            "1 if the newest probe of the identity in the environment was ok, else 0",
            (*_PAIR, "credential_kind"),
        )
        outcome = Family(
            "monitor_probe_outcome",
            "gauge",
            "The outcome class of the newest probe (always 1; the class is the label)",
            (*_PAIR, "outcome"),
        )
        last = Family(
            "monitor_probe_last_timestamp_seconds",
            "gauge",
            "When the newest probe started",
            _PAIR,
        )
        last_ok = Family(
            "monitor_probe_last_success_timestamp_seconds",
            "gauge",
            "When the newest ok probe started (no series before the first)",
            _PAIR,
        )
        failures = Family(
            "monitor_probe_consecutive_failures",
            "gauge",
            "Attempted probes in a row that were not ok",
            _PAIR,
        )
        burst = Family(
            "monitor_dataverse_requests_remaining",
            "gauge",
            "Service-protection requests left in the 5-minute window at the newest probe "
            "(x-ms-ratelimit-burst-remaining-xrm-requests)",
            _PAIR,
        )
        headroom = Family(
            "monitor_dataverse_headroom_ratio",
            "gauge",
            "Share of the service-protection budget left at the newest probe, per resource "
            "(requests, execution_time)",
            (*_PAIR, "resource"),
        )
        families = (success, outcome, last, last_ok, failures, burst, headroom)
        cache: dict[tuple[str, str], tuple[RawPair, list[tuple[int, Sample]]]] = {}
        before = self._pairs if self._pairs_config == id(config) else {}
        identities = config.identities
        for raw in snapshot.pairs:
            key = (raw[0], raw[1])
            known = before.get(key)
            if known is None or known[0] != raw:
                identity = identities.get(raw[0])
                if identity is None or raw[1] not in identity.environments:
                    continue  # no longer configured
                known = (raw, _pair_samples(pair_row(raw), identity.credential_type, config))
            cache[key] = known
            for index, sample in known[1]:
                families[index].samples.append(sample)
        self._pairs, self._pairs_config = cache, id(config)
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

    def _posture_families(self, posture: PostureValues) -> Iterator[Family]:
        who = ("identity", "tenant")
        expiry = Family(
            "monitor_credential_expiry_timestamp_seconds",
            "gauge",
            "When the client secret or certificate in use expires (the earliest date known, "
            "and where it comes from: graph, certificate file, configuration)",
            (*who, "credential_kind", "source"),
        )
        successor = Family(
            "monitor_credential_successor_registered",
            "gauge",
            "1 if another credential of the same type that outlives the one in use is "
            "registered on the app (Graph)",
            (*who, "credential_kind"),
        )
        password = Family(
            "monitor_password_expiry_timestamp_seconds",
            "gauge",
            "When the identity's password is predicted to expire (last change + the domain's "
            "validity); no series when it never expires or cannot be predicted",
            who,
        )
        enabled = Family(
            "monitor_account_enabled",
            "gauge",
            "1 if the identity's Entra ID account (user or service principal) is enabled",
            who,
        )
        entra_licensed = Family(
            "monitor_entra_user_licensed",
            "gauge",
            "1 if Entra ID lists a licence for the user whose subscription is active and carries "
            "a Dataverse service plan (0 is normal for a non-interactive user); user identities "
            "only",
            who,
        )
        dataverse_enabled = Family(
            "monitor_dataverse_user_enabled",
            "gauge",
            "1 if the identity's systemuser in the environment is enabled",
            ("identity", "environment", "tenant"),
        )
        licensed = Family(
            "monitor_dataverse_user_licensed",
            "gauge",
            "1 if Dataverse says the identity's systemuser is licensed",
            ("identity", "environment", "tenant"),
        )
        privileged = Family(
            "monitor_overprivileged_role_held",
            "gauge",
            "1 if the identity holds System Administrator or System Customizer in the "
            "environment (directly or through a team)",
            ("identity", "environment", "tenant"),
        )
        for values in posture.identities:
            labels = (values.identity, values.tenant)
            if values.expiry is not None:
                expiry.add((*labels, values.kind, values.expiry_source), values.expiry)
            if values.successor is not None:
                successor.add((*labels, values.kind), int(values.successor))
            if values.password_expiry is not None:
                password.add(labels, values.password_expiry)
            if values.account_enabled is not None:
                enabled.add(labels, int(values.account_enabled))
            if values.entra_licensed is not None:
                entra_licensed.add(labels, int(values.entra_licensed))
            for environment, flag in sorted(values.dataverse_enabled.items()):
                dataverse_enabled.add((values.identity, environment, values.tenant), flag)
            for environment, flag in sorted(values.licensed.items()):
                licensed.add((values.identity, environment, values.tenant), flag)
            for environment, flag in sorted(values.over_privileged.items()):
                privileged.add((values.identity, environment, values.tenant), flag)
        yield from (
            expiry,
            successor,
            password,
            enabled,
            entra_licensed,
            dataverse_enabled,
            licensed,
            privileged,
        )
        read_ok = Family(
            "monitor_directory_read_success",
            "gauge",
            "1 if no fact of the tenant failed its newest directory read (no series without "
            "an observer)",
            ("tenant",),
        )
        last_read = Family(
            "monitor_directory_last_read_timestamp_seconds",
            "gauge",
            "When a directory read last observed a fact of the tenant",
            ("tenant",),
        )
        spare = Family(
            "monitor_tenant_spare_licences",
            "gauge",
            "Enabled minus consumed units of each subscribed SKU",
            ("tenant", "sku"),
        )
        for tenant in posture.tenants:
            if tenant.read_ok is not None:
                read_ok.add((tenant.tenant,), int(tenant.read_ok))
            if tenant.last_read is not None:
                last_read.add((tenant.tenant,), tenant.last_read)
            for sku, count in sorted(tenant.spare.items()):
                spare.add((tenant.tenant, sku), count)
        yield from (read_ok, last_read, spare)
        users = Family(
            "monitor_dataverse_noninteractive_users",
            "gauge",
            "Non-interactive users of the environment (disabled ones included)",
            ("tenant", "environment"),
        )
        for tenant_name, environment, count in posture.non_interactive:
            users.add((tenant_name, environment), count)
        yield users
        yield _single(
            "monitor_dataverse_noninteractive_users_limit",
            "Non-interactive users an environment may have",
            posture.non_interactive_limit,
        )

    # -- incidents and the outbox ---------------------------------------------------------

    def _alerting_families(self, config: Config, snapshot: Snapshot) -> Iterator[Family]:
        incidents = Family(
            "monitor_incidents_open",
            "gauge",
            "Open incidents by level and kind",
            ("level", "kind"),
        )
        for kind, level, count in sorted(snapshot.incidents):
            incidents.add((level, kind), count)
        yield incidents
        outbox = Family(
            "monitor_outbox_notices",
            "gauge",
            "Notices in the outbox not sent (yet), by channel and status (pending, sending, dead)",
            ("channel", "status"),
        )
        counts = {(channel, status): count for channel, status, count in snapshot.outbox}
        for channel in {channel.name for channel in config.channels}:
            for status in _OUTBOX_STATUSES:
                counts.setdefault((channel, status), 0)
        for (channel, status), count in sorted(counts.items()):
            outbox.add((channel, status), count)
        yield outbox

    # -- usage ------------------------------------------------------------------------------

    def _usage_families(
        self, config: Config, snapshot: Snapshot, now: datetime
    ) -> Iterator[Family]:
        ratio = Family(
            "monitor_usage_allocation_ratio",
            "gauge",
            "Power Platform requests of the newest day with data against the identity's "
            "24-hour allocation",
            ("identity", "tenant"),
        )
        exhaustion = Family(
            "monitor_usage_projected_exhaustion_timestamp_seconds",
            "gauge",
            "The start of the UTC day on which the usage trend reaches the allocation (no "
            "series when it does not within a year)",
            ("identity", "tenant"),
        )
        today = now.astimezone(UTC).date()
        key = (id(config), today, tuple(snapshot.usage))
        cached = self._usage
        if cached is None or cached[0] != key:
            cached = self._usage = (key, _usage_values(config, snapshot, today))
        for labels, share, day in cached[1]:
            if share is not None:
                ratio.add(labels, share)
            if day is not None:
                exhaustion.add(labels, day)
        yield from (ratio, exhaustion)


def _pair_samples(pair: PairRow, kind: str, config: Config) -> list[tuple[int, Sample]]:
    """Return the samples of one pair, each with the index of its family in
    ``MonitorCollector._pair_families``."""
    labels = (pair.identity, pair.environment, pair.tenant)
    limits = config.usage
    found: list[tuple[int, Sample]] = [
        (0, ("monitor_probe_success", (*labels, kind), int(pair.outcome == Outcome.OK.value))),
        (1, ("monitor_probe_outcome", (*labels, pair.outcome), 1)),
    ]
    if pair.last_probe_at is not None:
        found.append((2, ("monitor_probe_last_timestamp_seconds", labels, pair.last_probe_at)))
    if pair.last_success_at is not None:
        found.append(
            (3, ("monitor_probe_last_success_timestamp_seconds", labels, pair.last_success_at))
        )
    found.append((4, ("monitor_probe_consecutive_failures", labels, pair.consecutive_failures)))
    if pair.burst_remaining is not None:
        found.append((5, ("monitor_dataverse_requests_remaining", labels, pair.burst_remaining)))
        share = min(1.0, pair.burst_remaining / limits.burst_limit)
        found.append((6, ("monitor_dataverse_headroom_ratio", (*labels, "requests"), share)))
    if pair.time_remaining_ms is not None:
        share = min(1.0, pair.time_remaining_ms / limits.execution_time_limit_ms)
        found.append((6, ("monitor_dataverse_headroom_ratio", (*labels, "execution_time"), share)))
    return found


def _usage_values(
    config: Config, snapshot: Snapshot, today: date
) -> list[tuple[tuple[str, str], float | None, float | None]]:
    """Return (identity and tenant, share of the allocation, start of the exhaustion day) of
    every configured identity with usage against an allocation."""
    series: dict[str, list[DailyUsage]] = {}
    allocations: dict[str, int] = {}
    for row in sorted(snapshot.usage, key=lambda row: (row.identity, row.day)):
        if row.allocation is None or row.allocation <= 0:
            continue
        series.setdefault(row.identity, []).append(DailyUsage(row.day, row.requests, ""))
        allocations[row.identity] = row.allocation  # the newest day's: rows are by day
    found: list[tuple[tuple[str, str], float | None, float | None]] = []
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
        share = None if projection.latest_share is None else float(projection.latest_share)
        day = None if projection.exhaustion_day is None else _day_start(projection.exhaustion_day)
        found.append(((name, identity.tenant), share, day))
    return found


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _single(name: str, documentation: str, value: float, kind: Kind = "gauge") -> Family:
    family = Family(name, kind, documentation)
    family.add((), value)
    return family
