"""The database schema as every reader of the database knows it: its revisions and its tables.

:data:`SCHEMA_REVISIONS` lists every Alembic revision in ``migrations/versions``, oldest first;
:data:`TABLES` every table and its columns at the newest one. Tests keep both equal to the
migration scripts and to the SQLAlchemy models (:mod:`monitor.store.models`). The writer
(:mod:`monitor.store`) and the report's own read path (:mod:`monitor.report.database`, plain
``sqlite3`` for a fast start) both check a database against them, so neither needs Alembic to
tell an older or a newer schema from the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

SCHEMA_REVISIONS: tuple[str, ...] = (
    "0001",
    "0002_alerting",
    "0005_usage",
    "0003_posture",
    "0004_daemon",
    "0006_failed_reads",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]


@dataclass(frozen=True)
class SchemaStatus:
    """The schema revision of a database against the newest revision this monitor knows.

    ``current`` is None when the database has no schema yet. ``known`` is False when the
    database carries a revision this monitor does not know (written by a newer version).
    """

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        return not self.known


@dataclass(frozen=True)
class Upgrade:
    """What :func:`monitor.store.migrate` did: the revision before and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


# Every table and its columns at the newest revision, as the migrations create them (a test
# checks this against a migrated database and the ORM models). Readers that do not use the ORM
# (the report) name the columns they read through :func:`columns`, so a migration that renames
# or drops one fails the tests instead of a report in production.
# What every posture table says of a fact: its key, kind, scope and source.
_FACT_SCOPE = ("fact_key", "kind", "tenant", "identity", "environment", "subject", "source")
TABLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "daemon_status": frozenset(
            {
                "instance",
                "state",
                "pid",
                "hostname",
                "monitor_version",
                "config_path",
                "started_at",
                "last_beat_at",
                "write_interval_seconds",
                "last_probe_at",
                "probes_since_start",
                "identities",
                "failing_pairs",
                "stopped_at",
                "stop_reason",
            }
        ),
        "delivery_attempt": frozenset(
            {"id", "outbox_id", "at", "url_index", "ok", "error", "duration_ms"}
        ),
        "identity_state": frozenset(
            {
                "identity",
                "environment",
                "tenant",
                "credential_type",
                "outcome",
                "since",
                "last_probe_at",
                "last_attempt_at",
                "last_success_at",
                "consecutive_failures",
                "consecutive_successes",
                "credential_fingerprint",
                "last_result_id",
            }
        ),
        "incident": frozenset(
            {
                "id",
                "key",
                "kind",
                "level",
                "tenant",
                "identity",
                "environment",
                "subject",
                "summary",
                "remedy",
                "source",
                "details",
                "deadline",
                "opened_at",
                "observed_at",
                "resolved_at",
                "acknowledged_at",
                "acknowledged_by",
                "acknowledgement_note",
                "notified_at",
                "notified_level",
                "ladder_rung",
                "next_notice_at",
                "owed",
            }
        ),
        "incident_transition": frozenset(
            {"id", "incident_id", "at", "event", "level", "rung", "notified", "note"}
        ),
        "lockout_guard": frozenset(
            {
                "identity",
                "credential_fingerprint",
                "outcome",
                "aadsts_code",
                "since",
                "hold_until",
                "cooldown_seconds",
                "blocked_attempts",
                "last_blocked_at",
                "forced_at",
            }
        ),
        "outbox": frozenset(
            {
                "id",
                "dedup_key",
                "channel",
                "incident_id",
                "event",
                "level",
                "notice",
                "created_at",
                "not_before",
                "attempts",
                "status",
                "lease_until",
                "last_error",
                "delivered_urls",
                "sent_at",
                "finished_at",
            }
        ),
        "posture_change": frozenset(
            {
                "id",
                *_FACT_SCOPE,
                "at",
                "from_observed",
                "to_observed",
                "from_value",
                "to_value",
                "to_cause",
                "observation_id",
            }
        ),
        "posture_fact": frozenset(
            {
                *_FACT_SCOPE,
                "observed",
                "cause",
                "reason",
                "value",
                "since",
                "last_observed_at",
                "failed_reads",
                "failing_since",
                "last_observation_id",
            }
        ),
        "posture_observation": frozenset(
            {
                "id",
                "run_id",
                *_FACT_SCOPE,
                "observed_at",
                "observed",
                "cause",
                "reason",
                "value",
            }
        ),
        "probe_result": frozenset(
            {
                "id",
                "run_id",
                "identity",
                "environment",
                "tenant",
                "credential_type",
                "started_at",
                "duration_ms",
                "outcome",
                "stage",
                "attempted",
                "message",
                "aadsts_code",
                "oauth_error",
                "http_status",
                "dataverse_error_code",
                "correlation_id",
                "trace_id",
                "token_source",
                "ratelimit_burst_remaining",
                "ratelimit_time_remaining",
                "retry_after_seconds",
                "credential_fingerprint",
                "user_id",
                "organization_id",
            }
        ),
        "probe_stats_daily": frozenset(
            {
                "id",
                "identity",
                "environment",
                "day",
                "ok",
                "definitive",
                "transient",
                "local",
                "held",
                "total",
                "duration_ms_sum",
                "duration_ms_max",
            }
        ),
        "run": frozenset(
            {
                "id",
                "run_id",
                "kind",
                "started_at",
                "finished_at",
                "probes",
                "ok",
                "failed",
                "monitor_version",
            }
        ),
        "silence": frozenset(
            {
                "id",
                "identity",
                "tag",
                "tenant",
                "starts_at",
                "until",
                "reason",
                "created_at",
                "created_by",
                "removed_at",
            }
        ),
        "state_change": frozenset(
            {"id", "identity", "environment", "at", "from_outcome", "to_outcome", "result_id"}
        ),
        "usage_daily": frozenset(
            {"id", "identity", "environment", "day", "requests", "allocation", "source"}
        ),
        "usage_import": frozenset(
            {
                "id",
                "sha256",
                "file_name",
                "report",
                "tenant",
                "imported_at",
                "rows",
                "new_rows",
                "updated_rows",
                "first_day",
                "last_day",
            }
        ),
        "usage_recorded": frozenset(
            {"id", "identity", "environment", "tenant", "day", "requests", "recorded_at"}
        ),
        "usage_report_row": frozenset(
            {
                "id",
                "import_id",
                "tenant",
                "report",
                "environment_id",
                "environment_name",
                "caller_id",
                "caller_type",
                "day",
                "resource_type",
                "resource_id",
                "meter_category",
                "meter_subcategory",
                "consumed",
                "entitled",
                "dataverse_requests",
                "power_automate_requests",
                "power_apps_requests",
            }
        ),
    }
)


def columns(table: str, *names: str) -> tuple[str, ...]:
    """Return *names*, in order, as the columns of *table* a reader relies on; raise KeyError
    naming the table or the columns the schema does not have."""
    known = TABLES.get(table)
    if known is None:
        raise KeyError(f"the schema has no table {table!r}")
    missing = sorted(set(names) - known)
    if missing:
        raise KeyError(f"the table {table} has no column {', '.join(missing)}")
    return names
