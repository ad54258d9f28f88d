"""What ``monitor discover`` prints: a table, JSON, or configuration stanzas (TOML).

The TOML form is ready ``[identities.NAME]`` stanzas for the application users that are not
configured yet, the secret as a reference to a systemd credential (never a value); a
non-interactive user's stanza is printed commented out, since the public client app it signs
in through cannot be discovered (docs/discovery.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.exits import EXIT_OK, EXIT_UNKNOWN
from monitor.model.clock import in_days_words
from monitor.model.discovery import DiscoveredIdentity, DiscoveryResult

EXIT_WARNING = 1  # Nagios WARNING
_SLUG = re.compile(r"[^a-z0-9]+")


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "-"


def _roles(identity: DiscoveredIdentity) -> str:
    names: list[str] = []
    for presence in identity.environments:
        if presence.roles is None:
            names.append(f"{presence.environment}: not observed")
            continue
        for role in presence.roles:
            flag = "!" if role.is_system_administrator or role.is_system_customizer else ""
            via = f" via {role.team}" if role.team else ""
            names.append(f"{flag}{role.name}{via}")
    return ", ".join(dict.fromkeys(names)) or "none"


def _status(identity: DiscoveredIdentity) -> str:
    if identity.observer:
        return "observer"
    if identity.configured_as:
        return f"configured ({identity.configured_as})"
    return "NOT CONFIGURED"


def _nearest(identity: DiscoveredIdentity, now: datetime) -> str:
    nearest = identity.nearest
    if nearest is None:
        return "-" if identity.credentials is not None or identity.account_enabled else "?"
    return f"{_date(nearest.at)} ({in_days_words(nearest.at, now)}) {nearest.what}"


def render_discovery_text(result: DiscoveryResult) -> str:
    """Return the table: one block per tenant, one row per identity, then what was not read."""
    lines: list[str] = []
    now = result.at
    for tenant in result.tenants:
        envs = ", ".join(tenant.read) or "none"
        lines.append(f"Tenant {tenant.tenant} (environments read: {envs})")
        rows = [("STATUS", "KIND", "NAME", "ID", "ENVIRONMENTS", "ROLES", "NEAREST DEADLINE", "")]
        for identity in tenant.identities:
            flags = []
            if identity.disabled:
                flags.append("DISABLED")
            if identity.privileged:
                flags.append("PRIVILEGED")
            if identity.not_observed:
                flags.append(f"{len(identity.not_observed)} not observed")
            rows.append(
                (
                    _status(identity),
                    identity.kind,
                    identity.display_name,
                    identity.client_id or identity.user_principal_name or identity.key,
                    ", ".join(identity.environment_names),
                    _roles(identity),
                    _nearest(identity, now),
                    " ".join(flags),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append(
                "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
            )
        for identity in tenant.identities:
            for missing in identity.not_observed:
                lines.append(f"  {identity.display_name}: not observed: {missing}")
        for problem in tenant.problems:
            lines.append(f"  {problem}")
        unconfigured = sum(1 for i in tenant.identities if not i.configured and not i.observer)
        lines.append(
            f"  {len(tenant.identities)} integration identities, {unconfigured} not configured "
            "('!': System Administrator / Customizer)"
        )
        lines.append("")
    lines += _named_users_text(result)
    return "\n".join(lines).rstrip() + "\n"


def _named_users_text(result: DiscoveryResult) -> list[str]:
    if result.usage_note:
        return [f"Named users acting as integrations: not judged ({result.usage_note})"]
    if not result.named_users:
        return ["Named users acting as integrations: none in the imported usage reports"]
    lines = ["Named users that probably run an integration (from imported usage reports):"]
    for user in result.named_users:
        who = user.user_principal_name or f"Entra object {user.caller_id}"
        name = f" ({user.display_name})" if user.display_name else ""
        configured = f", configured as {user.configured_as}" if user.configured_as else ""
        unnamed = f" [not named: {user.lookup_problem}]" if user.lookup_problem else ""
        allocation = f"{user.entitled:,}" if user.entitled else "?"
        lines.append(
            f"  {user.tenant}: {who}{name}{configured}: above its allocation share on "
            f"{user.days_above} of {user.days} days, highest {user.highest_percent:g}% of "
            f"{allocation}, {user.average_requests:,} requests a day on average{unnamed}"
        )
    lines.append("  move each to an application user or a non-interactive user (README, Posture)")
    return lines


def identity_to_dict(identity: DiscoveredIdentity) -> dict[str, Any]:
    """Return the JSON form of one discovered identity."""
    return {
        "tenant": identity.tenant,
        "kind": identity.kind,
        "key": identity.key,
        "display_name": identity.display_name,
        "configured_as": identity.configured_as,
        "observer": identity.observer,
        "disabled": identity.disabled,
        "client_id": identity.client_id,
        "owners": list(identity.owners) if identity.owners is not None else None,
        "service_principal_enabled": identity.service_principal_enabled,
        "credentials": None
        if identity.credentials is None
        else [
            {
                "key_id": end.credential.key_id,
                "type": end.credential.type,
                "display_name": end.credential.display_name,
                "start": _iso(end.credential.start),
                "end": _iso(end.credential.end),
                "has_successor": end.has_successor,
            }
            for end in identity.credentials
        ],
        "user_principal_name": identity.user_principal_name,
        "account_enabled": identity.account_enabled,
        "last_password_change": _iso(identity.last_password_change),
        "password_expires": _iso(identity.password_expires),
        "password_note": identity.password_note or None,
        "licences": list(identity.licences) if identity.licences is not None else None,
        "environments": [
            {
                "environment": p.environment,
                "systemuser_id": p.systemuser_id,
                "domain_name": p.domain_name,
                "access_mode": p.access_mode,
                "disabled": p.disabled,
                "roles": None
                if p.roles is None
                else [
                    {
                        "name": role.name,
                        "team": role.team,
                        "system_administrator": role.is_system_administrator,
                        "system_customizer": role.is_system_customizer,
                    }
                    for role in p.roles
                ],
            }
            for p in identity.environments
        ],
        "nearest_deadline": None
        if identity.nearest is None
        else {"at": _iso(identity.nearest.at), "what": identity.nearest.what},
        "not_observed": list(identity.not_observed),
    }


def discovery_to_dict(result: DiscoveryResult) -> dict[str, Any]:
    return {
        "at": _iso(result.at),
        "named_users": [
            {
                "tenant": user.tenant,
                "caller_id": user.caller_id,
                "user_principal_name": user.user_principal_name,
                "display_name": user.display_name or None,
                "configured_as": user.configured_as,
                "days": user.days,
                "days_above": user.days_above,
                "highest_percent": user.highest_percent,
                "average_requests": user.average_requests,
                "entitled": user.entitled,
                "lookup_problem": user.lookup_problem or None,
            }
            for user in result.named_users
        ],
        "named_users_not_judged": result.usage_note or None,
        "tenants": [
            {
                "tenant": tenant.tenant,
                "environments_read": list(tenant.read),
                "problems": list(tenant.problems),
                "identities": [identity_to_dict(i) for i in tenant.identities],
            }
            for tenant in result.tenants
        ],
    }


def render_discovery_json(result: DiscoveryResult) -> str:
    return json.dumps(discovery_to_dict(result), indent=2) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def stanza_name(identity: DiscoveredIdentity, taken: set[str]) -> str:
    """Return a free identity name for *identity* (from its display name)."""
    base = _SLUG.sub("-", identity.display_name.lower()).strip("-")[:50] or "integration"
    if not base[0].isalnum():
        base = "id-" + base
    name, counter = base, 2
    while name in taken:
        name = f"{base}-{counter}"
        counter += 1
    taken.add(name)
    return name


def render_discovery_toml(result: DiscoveryResult, configured: Iterable[str]) -> str:
    """Return ``[identities.NAME]`` stanzas for the identities not configured yet."""
    taken = set(configured)
    lines = [
        f"# Integration identities discovered {_date(result.at)} and not in the configuration.",
        "# Put each secret into the systemd credential it names (LoadCredential=NAME:/path), or",
        '# change the reference to { file = "PATH" } or to certificate = { file = "PATH" }.',
    ]
    for identity in result.identities:
        if identity.configured or identity.observer:
            continue
        name = stanza_name(identity, taken)
        envs = ", ".join(_quote(env) for env in identity.environment_names)
        owner = (identity.owners or ())[:1]
        lines.append("")
        if identity.kind == "application user":
            lines.append(f"# application user {_quote(identity.display_name)} ({identity.key})")
            lines += [
                f"[identities.{name}]",
                'kind = "application"',
                f"tenant = {_quote(identity.tenant)}",
                f"client_id = {_quote(identity.client_id or identity.key)}",
                f'secret = {{ credential = "{name}-secret" }}',
                f"environments = [{envs}]",
            ]
            if owner:
                lines.append(f"owner = {_quote(owner[0])}")
        else:
            upn = identity.user_principal_name or identity.key
            lines += [
                f"# non-interactive user {_quote(identity.display_name)} ({upn}): set client_id",
                "# to the public client app its integration signs in through, then uncomment.",
                f"# [identities.{name}]",
                '# kind = "user"',
                f"# tenant = {_quote(identity.tenant)}",
                '# client_id = "<public client app id>"',
                f"# username = {_quote(upn)}",
                f'# password = {{ credential = "{name}-password" }}',
                f"# environments = [{envs}]",
            ]
    return "\n".join(lines) + "\n"


def discovery_exit_code(result: DiscoveryResult) -> int:
    """0: everything read; 1: some facts not observed; 3: no environment could be listed."""
    if not any(tenant.read for tenant in result.tenants):
        return EXIT_UNKNOWN
    if any(tenant.problems for tenant in result.tenants) or any(
        identity.not_observed for identity in result.identities
    ):
        return EXIT_WARNING
    return EXIT_OK
