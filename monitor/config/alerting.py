"""The ``[[channels]]`` and ``[alerts]`` sections: where notices go, and when incidents notify.

A channel is a list of apprise URLs (each one a secret reference) with routing by severity and
tag and an optional fallback channel. ``[alerts]`` holds the incident rules (lead-time ladder,
reminders, the "cannot verify" threshold, resolution), overridable per identity and per tag, the
delivery settings (``[alerts.delivery]``) and the heartbeat URL. URLs are checked here with the
standard library only (:mod:`monitor.config.urls`); apprise is not imported by configuration
loading.
"""

from __future__ import annotations

from typing import cast

from monitor.config.model import (
    ALERT_LEVELS,
    AlertRules,
    AlertsConfig,
    ChannelConfig,
    DeliveryConfig,
)
from monitor.config.problems import KeyPath, describe
from monitor.config.schema import (
    MAX_DAYS,
    MAX_HOURS,
    MAX_MINUTES,
    MAX_SECONDS,
    ArrayOfTables,
    Choice,
    Context,
    Field,
    ListOf,
    NamedTables,
    Number,
    SecretReference,
    Table,
    Text,
)
from monitor.config.urls import secret_parts, url_problems
from monitor.secrets import Secret, register_secret_value

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_HOURS = Number(maximum=MAX_HOURS, unit="hours")
_MINUTES = Number(maximum=MAX_MINUTES, unit="minutes")
_SECONDS = Number(maximum=MAX_SECONDS)
_LADDER_DAYS = Number(integer=True, maximum=MAX_DAYS)
_COUNT = Number(integer=True, maximum=10_000)
_DEFAULT_RULES = AlertRules()
_DEFAULT_DELIVERY = DeliveryConfig()

CHANNEL = Table(
    {
        "name": Field(
            Text("a channel name (letters, digits, '-', '_', '.')", pattern=_NAME_PATTERN),
            required=True,
        ),
        "urls": Field(
            ListOf(SecretReference(), min_items=1),
            required=True,
            hint='apprise URLs, each a secret reference: [{ credential = "teams-workflow-url" }]',
        ),
        "severities": Field(
            ListOf(Choice(ALERT_LEVELS), min_items=1),
            hint='incident levels sent here; default ["critical", "warning"]',
        ),
        "tags": Field(
            ListOf(Text("a tag")),
            hint="only incidents of identities with one of these tags; default: all incidents",
        ),
        "fallback": Field(
            Text("the name of another channel"),
            hint="the channel told (with the undelivered notice) when this one keeps failing",
        ),
    },
    expected="a channel table",
)

RULE_FIELDS: dict[str, Field] = {
    "expiry_ladder_days": Field(
        ListOf(_LADDER_DAYS, min_items=1),
        hint="days before a deadline when a notice goes out; default [60, 30, 14, 7, 3, 1]",
    ),
    "expired_repeat_hours": Field(
        _HOURS, hint="an expired deadline is repeated this often; default 24"
    ),
    "critical_reminder_hours": Field(
        _HOURS, hint="reminder interval for open critical incidents; default 4"
    ),
    "warning_reminder_hours": Field(
        _HOURS, hint="reminder interval for open warning incidents; default 24"
    ),
    "cannot_verify_after_failures": Field(
        _COUNT, hint='transient failures in a row before "cannot verify"; default 3'
    ),
    "cannot_verify_after_minutes": Field(
        _MINUTES, hint="... and spanning at least this many minutes; default 10"
    ),
    "resolve_after_successes": Field(
        _COUNT, hint="successful probes in a row before a probe incident resolves; default 2"
    ),
}

DELIVERY = Table(
    {
        "retry_initial_seconds": Field(_SECONDS, hint="first retry delay; default 10"),
        "retry_max_seconds": Field(_SECONDS, hint="longest retry delay; default 900"),
        "give_up_after_minutes": Field(
            _MINUTES,
            hint="then the notice is dead-lettered and the fallback channel gets it; default 60",
        ),
        "lease_seconds": Field(
            _SECONDS, hint="a notice being sent returns to the queue after this; default 120"
        ),
        "send_timeout_seconds": Field(_SECONDS, hint="one delivery attempt; default 30"),
        "digest_limit": Field(_COUNT, hint="incidents in one message at most; default 50"),
        "group_wait_seconds": Field(
            _SECONDS, hint="hold warning notices this long so they group; default 0"
        ),
    }
)

ALERTS = Table(
    {
        **RULE_FIELDS,
        "heartbeat_url": Field(
            SecretReference(),
            hint="a Healthchecks / Uptime Kuma push URL pinged after every successful cycle",
        ),
        "delivery": Field(DELIVERY),
        "identities": Field(
            NamedTables(Table(RULE_FIELDS), section="alerts.identities", noun="identity"),
            hint="rules for one identity, e.g. [alerts.identities.sales-sync]",
        ),
        "tags": Field(
            NamedTables(Table(RULE_FIELDS), section="alerts.tags", noun="tag"),
            hint="rules for identities with a tag, e.g. [alerts.tags.tier-1]",
        ),
    }
)

CHANNELS = ArrayOfTables(CHANNEL)


def _table(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _tables(value: object) -> dict[str, dict[str, object]]:
    return {
        name: table
        for name, table in _table(value).items()
        if isinstance(name, str) and isinstance(table, dict)
    }


def _identity_tags(document: dict[str, object]) -> set[str]:
    tags: set[str] = set()
    for identity in _tables(document.get("identities")).values():
        listed = identity.get("tags")
        if isinstance(listed, list):
            tags.update(tag for tag in listed if isinstance(tag, str))
    return tags


def check_alerting(document: dict[str, object], ctx: Context) -> None:
    """Report problems of ``[[channels]]`` and ``[alerts]`` that span keys or sections."""
    tags_known = _identity_tags(document)
    identities = _tables(document.get("identities"))
    channels = document.get("channels")
    names: dict[str, int] = {}
    entries = (
        [(i, c) for i, c in enumerate(channels) if isinstance(c, dict)]
        if isinstance(channels, list)
        else []
    )
    for i, channel in entries:
        name = channel.get("name")
        if isinstance(name, str):
            if name.lower() in names:
                ctx.report(
                    ("channels", i, "name"),
                    "a name no other channel has",
                    f"the name of channels[{names[name.lower()]}]",
                    "rename one of the two channels",
                )
            names.setdefault(name.lower(), i)
    for i, channel in entries:
        path: KeyPath = ("channels", i)
        urls = channel.get("urls")
        if isinstance(urls, list):
            for j, url in enumerate(urls):
                if isinstance(url, Secret):
                    _check_url((*path, "urls", j), url, ctx, what="channel")
        fallback = channel.get("fallback")
        if isinstance(fallback, str):
            exact = {str(c.get("name")) for _, c in entries}
            if fallback not in exact:
                known = ", ".join(str(c.get("name")) for _, c in entries) or "none"
                ctx.report(
                    (*path, "fallback"),
                    f"the name of another channel ({known})",
                    describe(fallback, show=True),
                    "name a [[channels]] entry, or remove fallback",
                )
            elif fallback == channel.get("name"):
                ctx.report(
                    (*path, "fallback"),
                    "another channel",
                    "the channel itself",
                    "a channel that fails cannot carry the news that it fails",
                )
        listed = channel.get("tags")
        if isinstance(listed, list):
            _check_tags((*path, "tags"), listed, tags_known, ctx)
    alerts = _table(document.get("alerts"))
    heartbeat = alerts.get("heartbeat_url")
    if isinstance(heartbeat, Secret):
        _check_url(("alerts", "heartbeat_url"), heartbeat, ctx, what="heartbeat")
    for name in _tables(alerts.get("identities")):
        if name not in identities:
            ctx.report(
                ("alerts", "identities", name),
                "the name of a configured identity",
                describe(name, show=True),
                "name an [identities.NAME] table",
            )
    for tag in _tables(alerts.get("tags")):
        if tag not in tags_known:
            ctx.report(
                ("alerts", "tags", tag),
                "a tag some identity has",
                describe(tag, show=True),
                "add the tag to an identity's tags, or check the spelling",
            )


def _check_tags(path: KeyPath, listed: list[object], known: set[str], ctx: Context) -> None:
    for k, tag in enumerate(listed):
        if isinstance(tag, str) and tag not in known:
            ctx.report(
                (*path, k),
                "a tag some identity has",
                describe(tag, show=True),
                "add the tag to an identity's tags, or check the spelling",
            )


def _check_url(path: KeyPath, url: Secret, ctx: Context, *, what: str) -> None:
    for problem in url_problems(url.reveal(), what=what):
        ctx.report(path, problem.expected, problem.found, problem.hint)


# --- building ------------------------------------------------------------------------------


def _rule_values(table: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for key in RULE_FIELDS:
        if key not in table:
            continue
        value = table[key]
        if key == "expiry_ladder_days" and isinstance(value, list):
            values[key] = tuple(sorted({int(cast(int, day)) for day in value}, reverse=True))
        elif key in ("cannot_verify_after_failures", "resolve_after_successes"):
            values[key] = int(cast(int, value))
        else:
            values[key] = float(cast(float, value))
    return values


def build_alerts(table: dict[str, object]) -> AlertsConfig:
    """Turn a checked ``[alerts]`` table into :class:`AlertsConfig`."""
    rules = AlertRules(**_rule_values(table))  # type: ignore[arg-type]
    delivery_table = _table(table.get("delivery"))
    delivery_values: dict[str, object] = {}
    for key in ("retry_initial_seconds", "retry_max_seconds", "give_up_after_minutes"):
        if key in delivery_table:
            delivery_values[key] = float(cast(float, delivery_table[key]))
    for key in ("lease_seconds", "send_timeout_seconds", "group_wait_seconds"):
        if key in delivery_table:
            delivery_values[key] = float(cast(float, delivery_table[key]))
    if "digest_limit" in delivery_table:
        delivery_values["digest_limit"] = int(cast(int, delivery_table["digest_limit"]))
    heartbeat = table.get("heartbeat_url")
    if isinstance(heartbeat, Secret):
        _register_parts(heartbeat)
    return AlertsConfig(
        rules=rules,
        identity_rules={
            name: _rule_values(rules_table)
            for name, rules_table in _tables(table.get("identities")).items()
        },
        tag_rules={
            tag: _rule_values(rules_table)
            for tag, rules_table in _tables(table.get("tags")).items()
        },
        delivery=DeliveryConfig(**delivery_values),  # type: ignore[arg-type]
        heartbeat_url=heartbeat if isinstance(heartbeat, Secret) else None,
    )


def build_channels(value: object) -> tuple[ChannelConfig, ...]:
    """Turn checked ``[[channels]]`` entries into :class:`ChannelConfig` objects, registering
    the secret pieces of every URL for log scrubbing."""
    channels: list[ChannelConfig] = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        urls = tuple(url for url in entry.get("urls", []) if isinstance(url, Secret))
        for url in urls:
            _register_parts(url)
        severities = entry.get("severities")
        tags = entry.get("tags")
        fallback = entry.get("fallback")
        channels.append(
            ChannelConfig(
                name=str(entry["name"]),
                urls=urls,
                severities=(
                    tuple(str(s) for s in severities)
                    if isinstance(severities, list)
                    else ChannelConfig.severities
                ),
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                fallback=fallback if isinstance(fallback, str) else None,
            )
        )
    return tuple(channels)


def _register_parts(url: Secret) -> None:
    for part in secret_parts(url.reveal()):
        register_secret_value(part)
