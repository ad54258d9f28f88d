"""The ``[directory]`` section and the identity keys of posture reads.

``[directory]``: how often Graph and Dataverse metadata are read per tenant (``interval_hours``,
default 6), when an expiry becomes a warning or critical (``expiry_warning_days`` 30,
``expiry_critical_days`` 7) and when reads that fail for a passing reason make a fact "not
observed" (``not_observed_after_failures`` 3 in a row over ``not_observed_after_minutes`` 30).
Per identity: ``credential_expires`` (a TOML date or date-time), with
``credential_expires_source`` saying where the date comes from, for apps whose registration
Graph cannot show (another tenant, a missing permission); ``credential_key_id`` pins the
registered secret or certificate the integration uses when Graph's hint is ambiguous.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from monitor.config.model import DirectoryConfig
from monitor.config.problems import KeyPath
from monitor.config.schema import (
    MAX_DAYS,
    MAX_HOURS,
    MAX_MINUTES,
    Context,
    Field,
    Guid,
    Number,
    Table,
    Text,
    ValueType,
)

_HOURS = Number(maximum=MAX_HOURS, unit="hours")
_DAYS = Number(maximum=MAX_DAYS, unit="days")
_MINUTES = Number(maximum=MAX_MINUTES, unit="minutes")
_COUNT = Number(integer=True, maximum=1_000)


class Moment(ValueType):
    """A TOML date (midnight UTC) or an offset date-time; returned as an aware UTC datetime."""

    expected = "a date such as 2027-03-01 or a date-time with an offset (2027-03-01T00:00:00Z)"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                hint = "; ".join(h for h in (hint, "add Z (UTC) or an offset like +01:00") if h)
                return self.wrong(value, path, ctx, hint)
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime.combine(value, time(0, 0), tzinfo=UTC)
        return self.wrong(value, path, ctx, hint)


DIRECTORY = Table(
    {
        "interval_hours": Field(
            _HOURS,
            hint="read Graph and Dataverse metadata of each tenant this often; default 6",
        ),
        "expiry_warning_days": Field(_DAYS, hint="an expiry this close is a warning; default 30"),
        "expiry_critical_days": Field(_DAYS, hint="an expiry this close is critical; default 7"),
        "not_observed_after_failures": Field(
            _COUNT,
            hint="reads failing for a passing reason (throttled, unreachable, 5xx) in a row "
            'before a fact is "not observed"; default 3',
        ),
        "not_observed_after_minutes": Field(
            _MINUTES, hint="... and spanning at least this many minutes; default 30"
        ),
    }
)

IDENTITY_FIELDS: dict[str, Field] = {
    "credential_expires": Field(
        Moment(),
        hint="when the credential expires, for apps whose registration Graph cannot show",
    ),
    "credential_expires_source": Field(
        Text('where the declared date comes from, e.g. "vendor portal, ticket 4711"'),
        hint="shown beside the date in reports and alerts",
    ),
    "credential_key_id": Field(
        Guid(),
        hint="the Secret ID / certificate key id (Graph keyId) of the credential the integration "
        "uses, when several registered secrets share the configured one's first characters",
    ),
}


def build_directory(table: dict[str, object]) -> DirectoryConfig:
    """Return ``[directory]`` with defaults for what it leaves out (a checked table)."""
    defaults = DirectoryConfig()

    def number(key: str, default: float) -> float:
        value = table.get(key, default)
        return float(value) if isinstance(value, int | float) else default

    return DirectoryConfig(
        interval_hours=number("interval_hours", defaults.interval_hours),
        expiry_warning_days=number("expiry_warning_days", defaults.expiry_warning_days),
        expiry_critical_days=number("expiry_critical_days", defaults.expiry_critical_days),
        not_observed_after_failures=int(
            number("not_observed_after_failures", defaults.not_observed_after_failures)
        ),
        not_observed_after_minutes=number(
            "not_observed_after_minutes", defaults.not_observed_after_minutes
        ),
    )


def check_directory(table: dict[str, object], ctx: Context) -> None:
    """Report a critical window longer than the warning window."""
    warning = table.get("expiry_warning_days", DirectoryConfig().expiry_warning_days)
    critical = table.get("expiry_critical_days", DirectoryConfig().expiry_critical_days)
    if (
        isinstance(warning, int | float)
        and isinstance(critical, int | float)
        and critical > warning
    ):
        ctx.report(
            ("directory", "expiry_critical_days"),
            f"at most expiry_warning_days ({warning:g})",
            f"{critical:g}",
            "an expiry becomes a warning before it becomes critical",
        )


def check_identity(path: KeyPath, identity: dict[str, object], ctx: Context) -> None:
    """Report posture keys that do not fit the identity."""
    if "credential_expires_source" in identity and "credential_expires" not in identity:
        ctx.report(
            (*path, "credential_expires_source"),
            "credential_expires_source only together with credential_expires",
            "a source without a date",
            "add credential_expires = YYYY-MM-DD, or remove credential_expires_source",
        )
    if "credential_key_id" in identity and identity.get("kind") == "user":
        ctx.report(
            (*path, "credential_key_id"),
            'no credential_key_id for kind = "user"',
            "a credential_key_id",
            "credential_key_id names an app registration's secret or certificate",
        )
