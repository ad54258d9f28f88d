"""``monitor config validate`` and ``monitor config show``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.commands._args import Action, add_actions

if TYPE_CHECKING:
    from monitor.config.model import CertificateCredential, ChannelConfig, Config
    from monitor.secrets import Secret

HELP = "check or show the configuration"
DESCRIPTION = "Check the configuration file without probing anything, or show it resolved."
ACTIONS = (
    Action(
        "validate",
        "check the configuration and every secret it refers to; exit 78 if unusable",
        "Load the configuration as the daemon would (reading every secret and certificate) and "
        "report every problem at once. Nothing is probed. Exit status 0 when usable, 78 "
        "(EX_CONFIG) when not.",
    ),
    Action(
        "show",
        "print every section of the configuration, defaults filled in (secrets by source only)",
        "Print the resolved configuration, every section (network, database, schedule, "
        "retention, directory, usage, tenants, environments, identities, alerts, channels): "
        "defaults filled in, relative paths made absolute, cloud endpoints spelled out, and "
        "each secret (channel URLs included) shown only as where it comes from.",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_actions(parser, "config_command", ACTIONS, metavar=None)


def run(args: argparse.Namespace) -> int:
    """Run ``config validate`` or ``config show``; return the exit status."""
    from monitor.commands._common import load_or_report

    config = load_or_report(args)
    if isinstance(config, int):
        return config
    if args.config_command == "show":
        sys.stdout.write(render_config(config))
        return 0
    print(
        f"OK: {len(config.tenants)} tenants, {len(config.environments)} environments, "
        f"{len(config.identities)} identities"
    )
    return 0


def secret_label(secret: Secret) -> str:
    """Return how ``config show`` displays a secret: where it comes from, never its value."""
    if secret.source == "inline":
        return "<secret written inline>"
    return f"<secret from {secret.source}>"


def _quote(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_quote(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _mask_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:********@{host}"))


def _entries(record: object, *names: str) -> list[str]:
    """Return ``name = value`` for each of *names* the *record* sets (not None); a secret is
    shown by :func:`secret_label`."""
    from monitor.secrets import Secret

    lines = []
    for name in names:
        value = getattr(record, name)
        if isinstance(value, Secret):
            value = secret_label(value)
        if value is not None:
            lines.append(f"{name} = {_quote(value)}")
    return lines


def _table(path: tuple[str, ...], *lines: str) -> list[str]:
    """Return a TOML table: a blank line, its header, its *lines*."""
    from monitor.config.problems import dotted

    return ["", f"[{dotted(path)}]", *lines]


def _certificate_lines(certificate: CertificateCredential | None) -> list[str]:
    if certificate is None:
        return []
    lines = [f"certificate = {_quote(secret_label(certificate.data))}"]
    if certificate.thumbprint_sha1 is not None:
        lines.append(f"# certificate SHA-1 thumbprint {certificate.thumbprint_sha1}")
    if certificate.not_after is not None:
        lines.append(f"# certificate not valid after {certificate.not_after.isoformat()}")
    if certificate.passphrase is not None:
        lines.append(f"certificate_passphrase = {_quote(secret_label(certificate.passphrase))}")
    return lines


def render_config(config: Config) -> str:
    """Return *config* as TOML-like text, with every secret replaced by :func:`secret_label`."""
    network = config.network
    lines = [f"# {config.source}, with defaults filled in; secrets are shown by source only"]
    lines += _table(
        ("network",),
        *_entries(network, "ca_bundle") or ["# ca_bundle not set: the system trust store"],
        f"proxy = {_quote(_mask_userinfo(network.proxy))}"
        if network.proxy
        else "# proxy not set: direct connections",
        *_entries(
            network, "connect_timeout_seconds", "read_timeout_seconds", "probe_deadline_seconds"
        ),
    )
    lines += _table(
        ("probing",),
        *_entries(
            config.probing, "concurrency", "per_tenant_concurrency", "lockout_cooldown_seconds"
        ),
    )
    lines += _table(
        ("database",),
        *_entries(config.database, "path"),
        *_entries(config.database, "fingerprint_key")
        or ["# fingerprint_key not set: a key file beside the database"],
        f"group_access = {_quote('read-write' if config.database.shared_with_group else 'none')}",
    )
    lines += _table(("logging",), f"level = {_quote(config.log_level)}")
    lines += _schedule_lines(config)
    lines += _table(("retention",), *_all_entries(config.retention))
    lines += _table(("directory",), *_all_entries(config.directory))
    lines += _table(("discovery",), *_all_entries(config.discovery))
    lines += _table(
        ("metrics",),
        f"listen = {_quote(config.metrics.listen or '')}"
        + ("" if config.metrics.listen else "  # not served"),
    )
    lines += _usage_lines(config)
    for tenant in config.tenants.values():
        path = ("tenants", tenant.name)
        lines += _table(
            path, *_entries(tenant, "tenant_id", "cloud", "authority_host", "graph_url")
        )
        observer = tenant.observer
        if observer is not None:
            lines += _table(
                (*path, "observer"),
                *_entries(observer, "client_id", "secret"),
                *_certificate_lines(observer.certificate),
            )
    for environment in config.environments.values():
        lines += _table(("environments", environment.name), *_entries(environment, "tenant", "url"))
    for identity in config.identities.values():
        lines += _table(
            ("identities", identity.name),
            *_entries(
                identity, "kind", "tenant", "client_id", "environments", "owner", "tags", "secret"
            ),
            *_certificate_lines(identity.certificate),
            *_entries(identity, "username", "password"),
            *_entries(
                identity,
                "credential_expires",
                "credential_expires_source",
                "credential_key_id",
                "licences",
                "object_id",
            ),
        )
    lines += _alerts_lines(config)
    for channel in config.channels:
        lines += _channel_lines(channel)
    if not config.channels:
        lines += ["", "# no [[channels]]: incidents are recorded and reported, not sent"]
    return "\n".join(lines) + "\n"


def _all_entries(record: object) -> list[str]:
    """Return ``name = value`` for every field of the dataclass *record* (secrets as labels)."""
    return _entries(record, *(item.name for item in fields(record)))  # type: ignore[arg-type]


def _values(values: dict[str, object]) -> list[str]:
    return [f"{_key(name)} = {_quote(value)}" for name, value in values.items()]


def _key(name: str) -> str:
    from monitor.config.problems import dotted

    return dotted((name,))


def _schedule_lines(config: Config) -> list[str]:
    """``[schedule]``: every job's interval and jitter (set or default), then the rest."""
    from monitor.config.model import JOB_TIMINGS

    schedule = config.schedule
    jobs = []
    for name, timing in JOB_TIMINGS.items():
        interval = schedule.intervals.get(name, timing.interval_seconds)
        jitter = schedule.jitters.get(name, timing.jitter_seconds)
        jobs += [
            f"{name}_interval_seconds = {_quote(float(interval))}",
            f"{name}_jitter_seconds = {_quote(float(jitter))}",
        ]
    lines = _table(
        ("schedule",),
        *jobs,
        *_entries(
            schedule,
            "password_probe_interval_seconds",
            "stop_timeout_seconds",
            "full_evaluation_interval_seconds",
        ),
    )
    for identity, intervals in schedule.identity_intervals.items():
        lines += _table(
            ("schedule", "identities", identity),
            *(f"{job}_interval_seconds = {_quote(value)}" for job, value in intervals.items()),
        )
    return lines


def _usage_lines(config: Config) -> list[str]:
    """``[usage]``, ``[usage.entitlements]`` and ``[usage.tenants.NAME]``."""
    usage = config.usage
    flat = [item.name for item in fields(usage) if item.name not in ("entitlements", "tenants")]
    lines = _table(("usage",), *_entries(usage, *flat))
    lines += _table(
        ("usage", "entitlements"),
        *_values(dict(usage.entitlements)) or ["# none set: the built-in table of entitlements"],
    )
    for name, tenant in usage.tenants.items():
        lines += _table(("usage", "tenants", name), *_all_entries(tenant))
    return lines


def _alerts_lines(config: Config) -> list[str]:
    """``[alerts]`` (rules and heartbeat), ``[alerts.delivery]``, per-tag and per-identity."""
    alerts = config.alerts
    lines = _table(
        ("alerts",),
        *_all_entries(alerts.rules),
        *_entries(alerts, "heartbeat_url") or ["# heartbeat_url not set: no heartbeat ping"],
    )
    lines += _table(("alerts", "delivery"), *_all_entries(alerts.delivery))
    for tag, values in alerts.tag_rules.items():
        lines += _table(("alerts", "tags", tag), *_values(values))
    for identity, values in alerts.identity_rules.items():
        lines += _table(("alerts", "identities", identity), *_values(values))
    return lines


def _channel_lines(channel: ChannelConfig) -> list[str]:
    """A ``[[channels]]`` entry: each URL by its source, with its safe name in a comment."""
    from monitor.config.urls import describe_url

    urls = ", ".join(_quote(secret_label(url)) for url in channel.urls)
    shown = ", ".join(describe_url(url.reveal()) for url in channel.urls)
    return [
        "",
        "[[channels]]",
        f"name = {_quote(channel.name)}",
        f"urls = [{urls}]  # {shown}",
        f"severities = {_quote(channel.severities)}",
        f"tags = {_quote(channel.tags)}",
        *_entries(channel, "fallback"),
    ]
