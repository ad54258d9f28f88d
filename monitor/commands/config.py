"""``monitor config validate`` and ``monitor config show``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import TYPE_CHECKING, Any

from monitor.exits import EXIT_CONFIG

if TYPE_CHECKING:
    from monitor.config.model import CertificateCredential, Config
    from monitor.secrets import Secret


def add_parser(subparsers: Any) -> None:
    """Register ``config`` and its subcommands on the top-level *subparsers*."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config",
        help="check or show the configuration",
        description="Check the configuration file without probing anything, or show it resolved.",
    )
    commands = parser.add_subparsers(dest="config_command")
    commands.required = True
    validate = commands.add_parser(
        "validate",
        help="check the configuration and every secret it refers to; exit 78 if unusable",
        description="Load the configuration as the daemon would (reading every secret and "
        "certificate) and report every problem at once. Nothing is probed. Exit status 0 when "
        "usable, 78 (EX_CONFIG) when not.",
    )
    validate.set_defaults(run=run)
    show = commands.add_parser(
        "show",
        help="print the configuration with defaults filled in (secrets shown by source only)",
        description="Print the resolved configuration: defaults filled in, relative paths made "
        "absolute, cloud endpoints spelled out, and each secret shown only as where it comes "
        "from.",
    )
    show.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``config validate`` or ``config show``; return the exit status."""
    from pathlib import Path

    from monitor.config import ConfigError, load_config

    try:
        config = load_config(Path(args.config))
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_CONFIG
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


def _certificate_lines(certificate: CertificateCredential) -> list[str]:
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
    from monitor.config.problems import dotted

    network = config.network
    probing = config.probing
    lines = [
        f"# {config.source}, with defaults filled in; secrets are shown by source only",
        "",
        "[network]",
        f"ca_bundle = {_quote(network.ca_bundle)}"
        if network.ca_bundle
        else "# ca_bundle not set: the system trust store",
        f"proxy = {_quote(_mask_userinfo(network.proxy))}"
        if network.proxy
        else "# proxy not set: direct connections",
        f"connect_timeout_seconds = {_quote(network.connect_timeout_seconds)}",
        f"read_timeout_seconds = {_quote(network.read_timeout_seconds)}",
        f"probe_deadline_seconds = {_quote(network.probe_deadline_seconds)}",
        "",
        "[probing]",
        f"concurrency = {_quote(probing.concurrency)}",
        f"per_tenant_concurrency = {_quote(probing.per_tenant_concurrency)}",
        f"lockout_cooldown_seconds = {_quote(probing.lockout_cooldown_seconds)}",
        "",
        "[database]",
        f"path = {_quote(config.database.path)}",
        f"fingerprint_key = {_quote(secret_label(config.database.fingerprint_key))}"
        if config.database.fingerprint_key is not None
        else "# fingerprint_key not set: a key file beside the database",
        "",
        "[logging]",
        f"level = {_quote(config.log_level)}",
    ]
    for tenant in config.tenants.values():
        lines += [
            "",
            f"[{dotted(('tenants', tenant.name))}]",
            f"tenant_id = {_quote(tenant.tenant_id)}",
            f"cloud = {_quote(tenant.cloud)}",
            f"authority_host = {_quote(tenant.authority_host)}",
            f"graph_url = {_quote(tenant.graph_url)}",
        ]
        observer = tenant.observer
        if observer is not None:
            lines += [
                "",
                f"[{dotted(('tenants', tenant.name, 'observer'))}]",
                f"client_id = {_quote(observer.client_id)}",
            ]
            if observer.secret is not None:
                lines.append(f"secret = {_quote(secret_label(observer.secret))}")
            if observer.certificate is not None:
                lines += _certificate_lines(observer.certificate)
    for environment in config.environments.values():
        lines += [
            "",
            f"[{dotted(('environments', environment.name))}]",
            f"tenant = {_quote(environment.tenant)}",
            f"url = {_quote(environment.url)}",
        ]
    for identity in config.identities.values():
        lines += [
            "",
            f"[{dotted(('identities', identity.name))}]",
            f"kind = {_quote(identity.kind)}",
            f"tenant = {_quote(identity.tenant)}",
            f"client_id = {_quote(identity.client_id)}",
            f"environments = {_quote(identity.environments)}",
        ]
        if identity.owner is not None:
            lines.append(f"owner = {_quote(identity.owner)}")
        lines.append(f"tags = {_quote(identity.tags)}")
        if identity.secret is not None:
            lines.append(f"secret = {_quote(secret_label(identity.secret))}")
        if identity.certificate is not None:
            lines += _certificate_lines(identity.certificate)
        if identity.username is not None:
            lines.append(f"username = {_quote(identity.username)}")
        if identity.password is not None:
            lines.append(f"password = {_quote(secret_label(identity.password))}")
    return "\n".join(lines) + "\n"
