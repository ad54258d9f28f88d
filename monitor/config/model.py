"""The validated configuration, as frozen dataclasses.

Only :mod:`monitor.config.load` builds these; everything else reads them. Secrets are already
resolved into :class:`monitor.secrets.Secret` objects, so a loaded configuration can be used
without touching the filesystem again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from monitor.cloud import CloudName
from monitor.secrets import Secret

__all__ = [
    "AlertRules",
    "AlertsConfig",
    "CertificateCredential",
    "ChannelConfig",
    "CloudName",
    "Config",
    "DatabaseConfig",
    "DeliveryConfig",
    "DirectoryConfig",
    "DiscoveryConfig",
    "EnvironmentConfig",
    "IdentityConfig",
    "IdentityKind",
    "NetworkConfig",
    "ObserverConfig",
    "ProbingConfig",
    "RetentionConfig",
    "ScheduleConfig",
    "TenantConfig",
    "UsageConfig",
    "UsageTenantConfig",
]

IdentityKind = Literal["application", "user"]


@dataclass(frozen=True)
class NetworkConfig:
    """How the monitor talks to Entra ID, Graph and Dataverse."""

    ca_bundle: Path | None = None  # None: the system trust store (certifi is never consulted)
    proxy: str | None = None  # one proxy URL for all HTTPS traffic, or None for a direct connection
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 20.0
    probe_deadline_seconds: float = 30.0  # a whole probe (all its requests) ends by then


@dataclass(frozen=True)
class ProbingConfig:
    concurrency: int = 8  # probes in flight at once
    per_tenant_concurrency: int = 4  # probes in flight at once against one tenant
    lockout_cooldown_seconds: float = 3600.0  # first pause after an "account locked" answer


@dataclass(frozen=True)
class ScheduleConfig:
    """How often the daemon runs each job of :data:`JOB_TIMINGS` (``[schedule]``).

    ``intervals`` / ``jitters`` hold only what the file sets (job name -> seconds;
    :data:`JOB_TIMINGS` has the defaults); ``identity_intervals`` maps identity -> job ->
    seconds.
    """

    intervals: dict[str, float] = field(default_factory=dict)
    jitters: dict[str, float] = field(default_factory=dict)
    identity_intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    password_probe_interval_seconds: float = 3600.0  # lockout risk: never probe a password faster
    stop_timeout_seconds: float = 20.0  # wait for running probes on SIGTERM, then abandon them
    # The evaluate job re-reads everything at least this often (monitor.daemon.evaluation).
    full_evaluation_interval_seconds: float = 900.0


JobScope = Literal["identity", "global"]


@dataclass(frozen=True)
class JobTiming:
    """A job of the daemon as ``[schedule]`` knows it: what it does (the hint of its keys),
    whether it runs once per identity, and its default interval and jitter in seconds."""

    description: str
    scope: JobScope
    interval_seconds: float
    jitter_seconds: float


# Every job ``monitor run`` schedules, by name: ``[schedule]`` has ``NAME_interval_seconds`` and
# ``NAME_jitter_seconds`` for each (and ``[schedule.identities.ID]`` the per-identity ones). The
# daemon's job registry (monitor.daemon.jobs.JOBS) names the step each one runs.
JOB_TIMINGS: Mapping[str, JobTiming] = MappingProxyType(
    {
        "probe": JobTiming(
            "sign in as the identity and call Dataverse WhoAmI", "identity", 15 * 60, 60
        ),
        "retention": JobTiming(
            "delete raw history past [retention], vacuum incrementally", "global", 24 * 3600, 900
        ),
        # How often due-ness is checked (one database read when nothing is due); [directory]
        # interval_hours sets the read interval, and a failed read is retried after 5 minutes.
        "directory": JobTiming(
            "read Graph / Dataverse metadata of due tenants (posture)", "global", 5 * 60, 30
        ),
        "evaluate": JobTiming("turn findings into incidents and outbox rows", "global", 60, 0),
        "dispatch": JobTiming("deliver due notifications from the outbox", "global", 30, 0),
        "usage": JobTiming("refresh daily API usage against allocations", "global", 3600, 120),
        "heartbeat": JobTiming(
            "prove the scheduler is dispatching jobs (systemd watchdog)", "global", 5, 0
        ),
    }
)


@dataclass(frozen=True)
class RetentionConfig:
    """How long the database keeps raw history (``[retention]``)."""

    probe_results_days: int = 90
    daily_stats_days: int = 730
    batch_rows: int = 500


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path
    fingerprint_key: Secret | None = None  # None: a key file beside the database
    # group_access = "read-write": files 0660, so the service's group can read and annotate.
    shared_with_group: bool = False


@dataclass(frozen=True)
class ObserverConfig:
    """The monitor's own app registration in a tenant, for read-only Graph / Dataverse lookups.

    Exactly one of ``secret`` / ``certificate`` is set.
    """

    client_id: str
    secret: Secret | None = None
    certificate: CertificateCredential | None = None


@dataclass(frozen=True)
class TenantConfig:
    name: str
    tenant_id: str  # a GUID, lower case
    cloud: CloudName
    authority_host: str  # e.g. "https://login.microsoftonline.com" (no trailing slash)
    graph_url: str  # e.g. "https://graph.microsoft.com"
    observer: ObserverConfig | None = None


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    tenant: str
    url: str  # e.g. "https://contoso.crm.dynamics.com" (no trailing slash)


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate with its private key: PEM (key + certificate) or PKCS#12 (PFX) bytes.

    ``data`` is the file as configured (its fingerprint identifies the credential). The loader
    checks it and fills in the rest, so probes need not parse the key again: ``private_key_pem``
    is the key as unencrypted PKCS#8 PEM (msal's ``private_key``), ``certificate_pem`` the
    certificate that belongs to the key, and the thumbprints are upper-case hex (msal's
    ``thumbprint`` is the SHA-1 one). ``not_after`` is aware UTC; a past date is not a config
    error (monitoring reports it).
    """

    data: Secret
    passphrase: Secret | None = None
    private_key_pem: Secret | None = None
    certificate_pem: str | None = None
    thumbprint_sha1: str | None = None
    thumbprint_sha256: str | None = None
    not_after: datetime | None = None


@dataclass(frozen=True)
class IdentityConfig:
    """What an integration signs in as.

    ``kind == "application"``: exactly one of ``secret`` / ``certificate`` is set.
    ``kind == "user"``: ``username`` and ``password`` are set; ``client_id`` is the public client
    app registration the integration signs in through.
    """

    name: str
    kind: IdentityKind
    tenant: str
    client_id: str
    environments: tuple[str, ...]
    owner: str | None = None
    tags: tuple[str, ...] = ()
    secret: Secret | None = None
    certificate: CertificateCredential | None = None
    username: str | None = None
    password: Secret | None = None
    # Posture: an operator-declared expiry (aware UTC) for an app Graph cannot show, where that
    # date comes from, and the Graph keyId of the credential in use (when hints are ambiguous).
    credential_expires: datetime | None = None
    credential_expires_source: str | None = None
    credential_key_id: str | None = None
    # Usage: licences (SKU part numbers; None: not declared, (): none, a non-interactive user)
    # and the Entra object id, the "Caller ID" of the Power Platform admin center reports.
    licences: tuple[str, ...] | None = None
    object_id: str | None = None
    # Discovery: an identity discovered in the directory, watched without signing in as it
    # ([discovery] watch = "posture"); never in the configuration file.
    discovered: bool = False

    @property
    def credential_type(self) -> Literal["client_secret", "certificate", "password"]:
        if self.kind == "user":
            return "password"
        return "certificate" if self.certificate is not None else "client_secret"

    def credential(self) -> Secret:
        """Return the secret whose fingerprint identifies the credential in use."""
        if self.password is not None:
            return self.password
        if self.certificate is not None:
            return self.certificate.data
        assert self.secret is not None
        return self.secret


ALERT_LEVELS = ("critical", "warning", "info")


@dataclass(frozen=True)
class ChannelConfig:
    """A ``[[channels]]`` entry: apprise URLs (secrets) and which incidents they hear about.

    ``severities``: the incident levels routed here. ``tags``: only incidents of identities with
    one of these tags (empty: all). ``fallback``: the channel told when this one keeps failing.
    """

    name: str
    urls: tuple[Secret, ...]
    severities: tuple[str, ...] = ("critical", "warning")
    tags: tuple[str, ...] = ()
    fallback: str | None = None


@dataclass(frozen=True)
class AlertRules:
    """When incidents open, notify, remind and resolve (``[alerts]``, per identity or tag)."""

    expiry_ladder_days: tuple[int, ...] = (60, 30, 14, 7, 3, 1)  # lead-time rungs, descending
    expired_repeat_hours: float = 24.0  # "already expired" notice repeats this often
    critical_reminder_hours: float = 4.0
    warning_reminder_hours: float = 24.0
    cannot_verify_after_failures: int = 3  # transient failures in a row before "cannot verify"
    cannot_verify_after_minutes: float = 10.0  # ... spanning at least this long
    resolve_after_successes: int = 2  # successes in a row before a probe incident resolves


@dataclass(frozen=True)
class DeliveryConfig:
    """How the outbox retries (``[alerts.delivery]``)."""

    retry_initial_seconds: float = 10.0
    retry_max_seconds: float = 900.0
    give_up_after_minutes: float = 60.0  # then dead-letter and tell the fallback channel
    lease_seconds: float = 120.0  # a claimed row returns to the queue if its sender dies
    send_timeout_seconds: float = 30.0  # one apprise call
    digest_limit: int = 50  # notices per message at most
    group_wait_seconds: float = 0.0  # hold warning notices this long to group them


@dataclass(frozen=True)
class AlertsConfig:
    """``[alerts]``: global rules, overrides per identity and per tag, delivery, heartbeat."""

    rules: AlertRules = field(default_factory=AlertRules)
    identity_rules: dict[str, dict[str, object]] = field(default_factory=dict)
    tag_rules: dict[str, dict[str, object]] = field(default_factory=dict)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    heartbeat_url: Secret | None = None

    def rules_for(self, identity: IdentityConfig | None) -> AlertRules:
        """Return the rules for *identity*: its own overrides, else those of its first tag that
        has some, else the global rules (each key separately)."""
        if identity is None:
            return self.rules
        values: dict[str, object] = {}
        for tag in reversed(identity.tags):
            values.update(self.tag_rules.get(tag, {}))
        values.update(self.identity_rules.get(identity.name, {}))
        return replace(self.rules, **values) if values else self.rules  # type: ignore[arg-type]


@dataclass(frozen=True)
class DirectoryConfig:
    """``[directory]``: posture reads of Graph and Dataverse metadata (see config/directory.py)."""

    interval_hours: float = 6.0  # each tenant's directory is read this often
    expiry_warning_days: float = 30.0  # an expiry this close is a warning
    expiry_critical_days: float = 7.0  # ... and this close critical
    # Reads of a fact that failed for a reason that may pass (throttled, unreachable, 5xx) in a
    # row before it is "not observed", and the time they must span (the probe rule for
    # "cannot verify", applied to the directory).
    not_observed_after_failures: int = 3
    not_observed_after_minutes: float = 30.0


@dataclass(frozen=True)
class DiscoveryConfig:
    """``[discovery]``: posture-only watching of discovered identities, and the figures that
    make a named user look like an integration (see config/discovery.py)."""

    watch: Literal["off", "posture"] = "off"
    named_user_allocation_percent: float = 80.0
    named_user_days_percent: float = 50.0
    named_user_min_days: int = 3


@dataclass(frozen=True)
class UsageTenantConfig:
    """``[usage.tenants.NAME]``: what the monitor cannot observe about a tenant's pool."""

    dynamics_licences: int | None = None  # Dynamics 365 Enterprise / Professional USLs
    pool_size: int | None = None  # the non-licensed pool per 24 hours, overriding the rule


@dataclass(frozen=True)
class UsageConfig:
    """``[usage]``: thresholds of the usage findings, entitlement overrides, tenant pools."""

    warning_percent: float = 80.0  # usage or its projection at this share of the allocation
    critical_percent: float = 100.0  # a day's usage at this share
    burst_warning_percent: float = 20.0  # service-protection budget left at probe time
    throttled_critical_count: int = 2  # throttled answers within the window: critical
    throttle_window_hours: float = 24.0
    trend_days: int = 7  # complete days the usage trend is fitted to
    projection_days: int = 7  # how far ahead the trend is judged
    burst_limit: int = 6000  # Dataverse requests per 5 minutes per user per web server
    execution_time_limit_ms: int = 1_200_000  # combined execution time per 5 minutes
    default_retry_after_seconds: float = 60.0  # wait after a 429 without Retry-After
    entitlements: dict[str, int] = field(default_factory=dict)  # SKU (upper case) -> requests
    tenants: dict[str, UsageTenantConfig] = field(default_factory=dict)


DEFAULT_METRICS_LISTEN = "127.0.0.1:8479"


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: where ``monitor run`` serves /metrics and /healthz (config/metrics.py);
    ``listen`` None: not served."""

    listen: str | None = DEFAULT_METRICS_LISTEN
    host: str = "127.0.0.1"
    port: int = 8479


@dataclass(frozen=True)
class Config:
    source: Path  # the file this was loaded from
    network: NetworkConfig
    probing: ProbingConfig
    database: DatabaseConfig
    tenants: dict[str, TenantConfig]
    environments: dict[str, EnvironmentConfig]
    identities: dict[str, IdentityConfig]
    log_level: str = "info"
    extra: dict[str, object] = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    channels: tuple[ChannelConfig, ...] = ()
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    # False when loaded without secrets (``load_config(..., secrets=False)``): every secret,
    # certificate and channel URL is then left out, and nothing may sign in or send with it.
    secrets_read: bool = True


def job_interval(
    config: Config,
    name: str,
    identity: IdentityConfig | None = None,
    *,
    timing: JobTiming | None = None,
) -> tuple[float, float]:
    """Return (interval, jitter) in seconds of the daemon's job *name* (for *identity*, if it
    runs per identity): ``[schedule.identities.ID]`` first, then ``[schedule]``, then the
    default of *timing* (default: the job's entry in :data:`JOB_TIMINGS`). A password identity
    is never probed more often than ``password_probe_interval_seconds``. Jitter delays each run
    by a random 0..jitter seconds and is capped at a quarter of the interval so that a short
    interval stays meaningful."""
    schedule = config.schedule
    defaults = timing or JOB_TIMINGS[name]
    interval = schedule.intervals.get(name, defaults.interval_seconds)
    if identity is not None:
        interval = schedule.identity_intervals.get(identity.name, {}).get(name, interval)
        if name == "probe" and identity.kind == "user":
            interval = max(interval, schedule.password_probe_interval_seconds)
    jitter = min(schedule.jitters.get(name, defaults.jitter_seconds), interval / 4)
    return float(interval), float(jitter)
