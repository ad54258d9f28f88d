"""The ``[usage]`` section and the identity keys ``licences`` / ``object_id``.

``[usage]`` holds the thresholds of the usage findings, ``[usage.entitlements]`` overrides or adds
Power Platform request entitlements per SKU (:mod:`monitor.model.entitlements` has the defaults),
and ``[usage.tenants.NAME]`` describes a tenant's non-licensed pool. On an identity,
``licences = ["SKU", ...]`` declares its licences (an empty list: none, a non-interactive user)
and ``object_id`` its Entra object id, which the Power Platform admin center reports call
"Caller ID" (see :mod:`monitor.usage.matching`).
"""

from __future__ import annotations

import difflib
import re

from monitor.config.model import UsageConfig, UsageTenantConfig
from monitor.config.problems import KeyPath, describe
from monitor.config.schema import (
    INVALID,
    MAX_HOURS,
    MAX_SECONDS,
    Context,
    Field,
    Guid,
    ListOf,
    NamedTables,
    Number,
    Table,
    Text,
    ValueType,
)
from monitor.model.entitlements import known_skus, normalise_sku

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}$"
_SKU = re.compile(SKU_PATTERN)


class Count(ValueType):
    """A whole number within bounds (0 allowed when ``minimum`` is 0); booleans are not."""

    def __init__(self, *, minimum: int = 0, maximum: int = 10**12, what: str = "") -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.expected = f"a whole number from {minimum} to {maximum:,}" + (
            f" ({what})" if what else ""
        )

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.wrong(value, path, ctx, hint)
        if not self.minimum <= value <= self.maximum:
            return self.wrong(value, path, ctx, hint)
        return value


class Percent(ValueType):
    """A share in percent, above 0 and at most 1000."""

    expected = "a percentage above 0 (e.g. 80)"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.wrong(value, path, ctx, hint)
        if not 0 < value <= 1000:
            return self.wrong(value, path, ctx, hint)
        return float(value)


class SkuRequests(ValueType):
    """``SKU_PART_NUMBER = requests`` pairs: a table with free keys."""

    expected = "a table of SKU part numbers and requests per 24 hours, e.g. { CRMPLAN2 = 6000 }"

    def __init__(self) -> None:
        self.requests = Count(maximum=10**9, what="requests per 24 hours")

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, dict):
            return self.wrong(value, path, ctx, hint)
        result: dict[str, int] = {}
        for key, item in value.items():
            if not _SKU.match(key):
                ctx.report(
                    (*path, key),
                    "a SKU part number such as DYN365_ENTERPRISE_SALES",
                    describe(key, show=True),
                    "use skuPartNumber as Graph's licenseDetails shows it",
                )
                continue
            converted = self.requests.convert(item, (*path, key), ctx, hint)
            if converted is not INVALID:
                assert isinstance(converted, int)
                result[normalise_sku(key)] = converted
        return result


USAGE_TENANT = Table(
    {
        "dynamics_licences": Field(
            Count(what="Dynamics 365 Enterprise / Professional licences in the tenant"),
            hint="the pool is 500,000 + 5,000 per licence (at most 10,000,000); 0 for a Power "
            "Apps / Power Automate tenant (25,000)",
        ),
        "pool_size": Field(
            Count(minimum=1, what="requests per 24 hours"),
            hint="the tenant's non-licensed pool, if you know it better (a custom agreement)",
        ),
    }
)

USAGE = Table(
    {
        "warning_percent": Field(
            Percent(), hint="warn when usage or its projection reaches this share; default 80"
        ),
        "critical_percent": Field(
            Percent(), hint="critical when a day's usage reaches this share; default 100"
        ),
        "burst_warning_percent": Field(
            Percent(),
            hint="warn when less than this share of the service-protection budget is left at "
            "probe time; default 20",
        ),
        "throttled_critical_count": Field(
            Count(minimum=1, maximum=10_000),
            hint="throttled (429) answers within throttle_window_hours that make it critical; "
            "default 2",
        ),
        "throttle_window_hours": Field(Number(maximum=MAX_HOURS, unit="hours"), hint="default 24"),
        "trend_days": Field(
            Count(minimum=1, maximum=90), hint="complete days the trend is fitted to; default 7"
        ),
        "projection_days": Field(
            Count(minimum=0, maximum=90), hint="how far ahead the trend is judged; default 7"
        ),
        "burst_limit": Field(
            Count(minimum=1, what="requests per 5 minutes"),
            hint="Dataverse's request limit per user per web server; default 6000",
        ),
        "execution_time_limit_ms": Field(
            Count(minimum=1, what="milliseconds per 5 minutes"), hint="default 1200000"
        ),
        "default_retry_after_seconds": Field(
            Number(maximum=MAX_SECONDS),
            hint="how long to wait after a throttled answer without Retry-After; default 60",
        ),
        "entitlements": Field(
            SkuRequests(),
            hint="overrides or adds the requests a licence grants per 24 hours",
        ),
        "tenants": Field(
            NamedTables(USAGE_TENANT, section="usage.tenants", noun="tenant"),
            hint="the non-licensed pool of a tenant, e.g. [usage.tenants.contoso]",
        ),
    }
)

# Keys of [identities.NAME] (added to the identity table in sections.py).
IDENTITY_FIELDS = {
    "licences": Field(
        ListOf(Text("a SKU part number such as DYN365_ENTERPRISE_SALES", pattern=SKU_PATTERN)),
        hint="the identity's licences (SKU part numbers) for its request allocation; [] for a "
        "non-interactive user without licence",
    ),
    "object_id": Field(
        Guid(),
        hint="the Entra object id of the user (or the app's service principal): the Caller ID "
        "of the Power Platform admin center reports",
    ),
}


def _table(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def check_usage(document: dict[str, object], ctx: Context) -> None:
    """Report usage settings that contradict each other or the rest of the configuration:
    thresholds in the wrong order, pools of unknown tenants, unknown or misplaced licences."""
    usage = _table(document.get("usage"))
    warning = usage.get("warning_percent", UsageConfig.warning_percent)
    critical = usage.get("critical_percent", UsageConfig.critical_percent)
    if (
        isinstance(warning, float | int)
        and isinstance(critical, float | int)
        and (warning > critical)
    ):
        ctx.report(
            ("usage", "warning_percent"),
            f"at most critical_percent ({critical:g})",
            f"{warning:g}",
            "the warning comes before the critical level",
        )
    tenants = document.get("tenants")
    for name in _table(usage.get("tenants")):
        if isinstance(tenants, dict) and name not in tenants:
            known = ", ".join(tenants) or "none are defined"
            ctx.report(
                ("usage", "tenants", name),
                f"the name of one of the [tenants.NAME] tables ({known})",
                describe(name, show=True),
                "remove the table, or correct the tenant name",
            )
    overrides = usage.get("entitlements")
    skus = known_skus(overrides if isinstance(overrides, dict) else None)
    for name, identity in _table(document.get("identities")).items():
        table = _table(identity)
        licences = table.get("licences")
        if not isinstance(licences, list):
            continue
        if table.get("kind") == "application" and licences:
            ctx.report(
                ("identities", name, "licences"),
                "no licences on an application identity",
                f"{len(licences)} licences",
                "application users need no licence and draw from the tenant's pool",
            )
            continue
        for position, sku in enumerate(licences):
            if not isinstance(sku, str) or normalise_sku(sku) in skus:
                continue
            close = difflib.get_close_matches(normalise_sku(sku), sorted(skus), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            ctx.report(
                ("identities", name, "licences", position),
                "a SKU part number the entitlement table knows",
                describe(sku, show=True),
                hint + "or add it to [usage.entitlements] with its requests per 24 hours "
                "(0 if it grants none)",
            )


def build_usage(table: dict[str, object]) -> UsageConfig:
    """Build the usage settings from a checked ``[usage]`` table (no problems reported)."""
    defaults = UsageConfig()

    def number(key: str, default: float) -> float:
        value = table.get(key)
        return float(value) if isinstance(value, int | float) else default

    def whole(key: str, default: int) -> int:
        value = table.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    tenants: dict[str, UsageTenantConfig] = {}
    for name, tenant in _table(table.get("tenants")).items():
        values = _table(tenant)
        licences = values.get("dynamics_licences")
        size = values.get("pool_size")
        tenants[name] = UsageTenantConfig(
            dynamics_licences=licences if isinstance(licences, int) else None,
            pool_size=size if isinstance(size, int) else None,
        )
    entitlements = table.get("entitlements")
    return UsageConfig(
        warning_percent=number("warning_percent", defaults.warning_percent),
        critical_percent=number("critical_percent", defaults.critical_percent),
        burst_warning_percent=number("burst_warning_percent", defaults.burst_warning_percent),
        throttled_critical_count=whole(
            "throttled_critical_count", defaults.throttled_critical_count
        ),
        throttle_window_hours=number("throttle_window_hours", defaults.throttle_window_hours),
        trend_days=whole("trend_days", defaults.trend_days),
        projection_days=whole("projection_days", defaults.projection_days),
        burst_limit=whole("burst_limit", defaults.burst_limit),
        execution_time_limit_ms=whole("execution_time_limit_ms", defaults.execution_time_limit_ms),
        default_retry_after_seconds=number(
            "default_retry_after_seconds", defaults.default_retry_after_seconds
        ),
        entitlements=dict(entitlements) if isinstance(entitlements, dict) else {},
        tenants=tenants,
    )
