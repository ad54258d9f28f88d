"""The ``[schedule]`` and ``[retention]`` sections: how often the daemon runs each job, and how
long the database keeps raw history.

The keys of ``[schedule]`` follow :data:`monitor.config.model.JOB_TIMINGS`: every job NAME has
``NAME_interval_seconds`` and ``NAME_jitter_seconds``; every per-identity job also has
``NAME_interval_seconds`` in ``[schedule.identities.IDENTITY]``.
"""

from __future__ import annotations

from monitor.config.model import JOB_TIMINGS, RetentionConfig, ScheduleConfig
from monitor.config.problems import KeyPath, describe
from monitor.config.schema import (
    MAX_DAYS,
    MAX_SECONDS,
    Context,
    Field,
    NamedTables,
    Number,
    Table,
    ValueType,
    suggest,
)


class _Jitter(ValueType):
    """Seconds, zero allowed (no jitter)."""

    expected = f"a number of seconds from 0 to {MAX_SECONDS:,}"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.wrong(value, path, ctx, hint)
        if not 0 <= value <= MAX_SECONDS:  # also false for NaN
            return self.wrong(value, path, ctx, hint)
        return float(value)


_SECONDS = Number(maximum=MAX_SECONDS)
_JITTER = _Jitter()
_DAYS = Number(integer=True, maximum=MAX_DAYS)
_COUNT = Number(integer=True, maximum=1_000_000)

PASSWORD_FLOOR_KEY = "password_probe_interval_seconds"  # noqa: S105 - a key name
FULL_EVALUATION_KEY = "full_evaluation_interval_seconds"


def _job_fields() -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for name, spec in JOB_TIMINGS.items():
        fields[f"{name}_interval_seconds"] = Field(
            _SECONDS, hint=f"{spec.description}; default {spec.interval_seconds:g}"
        )
        fields[f"{name}_jitter_seconds"] = Field(
            _JITTER,
            hint=f"each run is delayed by a random 0..this many seconds; default "
            f"{spec.jitter_seconds:g}",
        )
    return fields


def _identity_fields() -> dict[str, Field]:
    return {
        f"{name}_interval_seconds": Field(_SECONDS, hint=f"{spec.description}, this identity")
        for name, spec in JOB_TIMINGS.items()
        if spec.scope == "identity"
    }


SCHEDULE = Table(
    {
        **_job_fields(),
        PASSWORD_FLOOR_KEY: Field(
            _SECONDS,
            hint="password identities are never probed more often than this (lockout risk); "
            "default 3600",
        ),
        "stop_timeout_seconds": Field(
            _SECONDS,
            hint="how long a stopping daemon waits for running probes; keep it below the "
            "unit's TimeoutStopSec=; default 20",
        ),
        FULL_EVALUATION_KEY: Field(
            _SECONDS,
            hint="the evaluate job skips minutes in which no result failed or recovered and "
            "nothing was refreshed, but evaluates everything at least this often (clock-driven "
            "notices, usage imports by other commands); default 900",
        ),
        "identities": Field(
            NamedTables(Table(_identity_fields()), section="schedule.identities", noun="identity"),
            hint="per-identity intervals, e.g. [schedule.identities.sales-sync]",
        ),
    }
)

RETENTION = Table(
    {
        "probe_results_days": Field(
            _DAYS, hint="raw probe results kept this many days; default 90"
        ),
        "daily_stats_days": Field(
            _DAYS, hint="daily per-identity rollups kept this many days; default 730"
        ),
        "batch_rows": Field(_COUNT, hint="rows deleted per transaction; default 500"),
    }
)


def _table(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def check_schedule(document: dict[str, object], ctx: Context) -> None:
    """Report per-identity schedules of unknown identities, and password identities asked to be
    probed more often than ``password_probe_interval_seconds``."""
    schedule = _table(document.get("schedule"))
    identities_known = isinstance(document.get("identities"), dict)
    identities = _table(document.get("identities"))
    floor = schedule.get(PASSWORD_FLOOR_KEY, ScheduleConfig().password_probe_interval_seconds)
    for name, overrides in _table(schedule.get("identities")).items():
        path = ("schedule", "identities", name)
        if identities_known and name not in identities:
            known = ", ".join(identities) or "none are defined"
            ctx.report(
                path,
                f"the name of one of the [identities.NAME] tables ({known})",
                describe(name, show=True),
                _identity_hint(name, list(identities)),
            )
            continue
        identity = _table(identities.get(name))
        probe_interval = _table(overrides).get("probe_interval_seconds")
        if (
            identity.get("kind") == "user"
            and isinstance(probe_interval, int | float)
            and isinstance(floor, int | float)
            and probe_interval < floor
        ):
            ctx.report(
                (*path, "probe_interval_seconds"),
                f"at least {floor:g} seconds for a password identity",
                f"{probe_interval:g}",
                "every sign-in with a wrong password counts towards the account's lockout; "
                f"lower schedule.{PASSWORD_FLOOR_KEY} only if you accept that",
            )


def _identity_hint(name: str, known: list[str]) -> str:
    hint = suggest(name, known) if known else ""
    return hint if hint.startswith("did you mean") else "remove the table, or correct the name"


def build_schedule(table: dict[str, object]) -> ScheduleConfig:
    """Build the schedule from a checked ``[schedule]`` table (no problems reported)."""
    defaults = ScheduleConfig()
    intervals: dict[str, float] = {}
    jitters: dict[str, float] = {}
    for name in JOB_TIMINGS:
        interval = table.get(f"{name}_interval_seconds")
        if isinstance(interval, int | float):
            intervals[name] = float(interval)
        jitter = table.get(f"{name}_jitter_seconds")
        if isinstance(jitter, int | float):
            jitters[name] = float(jitter)
    per_identity: dict[str, dict[str, float]] = {}
    for identity, overrides in _table(table.get("identities")).items():
        values = {
            key.removesuffix("_interval_seconds"): float(value)
            for key, value in _table(overrides).items()
            if isinstance(value, int | float)
        }
        if values:
            per_identity[identity] = values
    floor = table.get(PASSWORD_FLOOR_KEY)
    stop = table.get("stop_timeout_seconds")
    full = table.get(FULL_EVALUATION_KEY)
    return ScheduleConfig(
        intervals=intervals,
        jitters=jitters,
        identity_intervals=per_identity,
        password_probe_interval_seconds=(
            float(floor)
            if isinstance(floor, int | float)
            else defaults.password_probe_interval_seconds
        ),
        stop_timeout_seconds=(
            float(stop) if isinstance(stop, int | float) else defaults.stop_timeout_seconds
        ),
        full_evaluation_interval_seconds=(
            float(full)
            if isinstance(full, int | float)
            else defaults.full_evaluation_interval_seconds
        ),
    )


def build_retention(table: dict[str, object]) -> RetentionConfig:
    """Build the retention policy from a checked ``[retention]`` table."""
    defaults = RetentionConfig()

    def integer(key: str, default: int) -> int:
        value = table.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    return RetentionConfig(
        probe_results_days=integer("probe_results_days", defaults.probe_results_days),
        daily_stats_days=integer("daily_stats_days", defaults.daily_stats_days),
        batch_rows=integer("batch_rows", defaults.batch_rows),
    )
