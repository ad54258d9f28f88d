"""Posture for callers: findings from the store, and the text / JSON that ``monitor check`` and
``monitor posture`` print.

:func:`posture_from_store` evaluates the current facts of the store together with what the
configuration says right now (certificate files, declared expiries — so a replaced certificate
file counts at once, without waiting for the next directory read). :func:`render_posture_text`
prints the nearest deadline per identity (what expires first, when, and where that date comes
from, or "not observed: <why>") and the findings with their remedies;
:func:`posture_to_dict` carries all of it for ``--json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.config.model import Config
from monitor.findings.posture import (
    NON_INTERACTIVE_LIMIT,
    SEAT_DATAVERSE,
    Deadline,
    IdentityPosture,
    Posture,
)
from monitor.model.clock import days_left, in_days_words
from monitor.model.findings import Finding, Level
from monitor.output.terminal import DEFAULT_WIDTH

_LOCAL_SOURCES = ("certificate file", "configuration")
_DETAIL_WIDTH = 72


def posture_exit_code(posture: Posture) -> int:
    """Return 2 if a finding is critical, 1 if one is a warning, else 0 (Nagios style)."""
    levels = {finding.level for finding in posture.findings}
    if Level.CRITICAL in levels:
        return 2
    if Level.WARNING in levels:
        return 1
    return 0


# --- text ---------------------------------------------------------------------------------------


def _deadline_text(deadline: Deadline, now: datetime) -> str:
    # The source before the description: a clipped line still says where the date is from.
    return (
        f"{deadline.at:%Y-%m-%d} ({in_days_words(deadline.at, now)}) [{deadline.source}]: "
        f"{deadline.what}"
    )


def nearest_text(posture: IdentityPosture, now: datetime) -> str:
    """Return the one-line "nearest deadline" of an identity."""
    nearest = posture.nearest
    if nearest is not None:
        text = _deadline_text(nearest, now)
        if posture.not_observed:
            count = len(posture.not_observed)
            text += f" (+{count} fact{'s' if count != 1 else ''} not observed)"
        return text
    if posture.not_observed:
        return "not observed: " + posture.not_observed[0].split(": ", 1)[-1]
    return "none known"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _names(posture: Posture, config: Config, identities: Sequence[str] | None) -> list[str]:
    """The configured identities (those asked for), then the watched discovered ones."""
    if identities is not None:
        return [n for n in config.identities if n in identities]
    return [*config.identities, *(n for n in posture.identities if n not in config.identities)]


def render_posture_text(
    posture: Posture,
    config: Config,
    now: datetime,
    *,
    identities: Sequence[str] | None = None,
    width: int = _DETAIL_WIDTH,
    line_width: int | None = None,
) -> str:
    """Return the posture section: nearest deadline per identity, licences, non-interactive
    users, then every finding (worst first) with its remedy. The nearest deadline is clipped
    at *width* characters, or on a terminal wider than 100 columns (*line_width*) at what the
    line leaves it."""
    names = _names(posture, config, identities)
    rows = [
        (name, posture.identities[name].classification, nearest_text(posture.identities[name], now))
        for name in names
        if name in posture.identities
    ]
    headers = ("IDENTITY", "CLASSIFICATION", "NEAREST DEADLINE")
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(2)]
    if line_width is not None and line_width > DEFAULT_WIDTH:
        width = max(width, line_width - widths[0] - widths[1] - 4)
    lines = ["POSTURE (directory reads: what will stop an identity working)", ""]
    lines.append(f"{headers[0]:<{widths[0]}}  {headers[1]:<{widths[1]}}  {headers[2]}")
    for name, classification, nearest in rows:
        lines.append(
            f"{name:<{widths[0]}}  {classification:<{widths[1]}}  {_clip(nearest, width)}".rstrip()
        )
    sku_lines = [
        f"  {tenant}: "
        + ", ".join(
            f"{sku.part_number} {sku.consumed}/{sku.enabled} used ({sku.spare} spare"
            + ("" if sku.seat in ("", SEAT_DATAVERSE) else f"; {sku.seat}")
            + ")"
            + ("" if sku.capability_status == "Enabled" else f", {sku.capability_status}")
            for sku in skus
        )
        for tenant, skus in posture.skus.items()
        if skus
    ]
    if sku_lines:
        lines += ["", "Licences (subscribed SKUs):", *sku_lines]
    if posture.non_interactive:
        lines += ["", "Non-interactive users per environment (limit 7):"]
        lines += [
            f"  {name}: {count} of {NON_INTERACTIVE_LIMIT}"
            for name, count in posture.non_interactive.items()
        ]
    findings = [
        f
        for f in posture.findings
        if identities is None or f.identity is None or f.identity in identities
    ]
    counts = Counter(f.level for f in findings)
    lines += [""]
    if not findings:
        lines.append("No posture findings.")
        return "\n".join(lines)
    summary = ", ".join(
        f"{counts[level]} {level.value}"
        for level in (Level.CRITICAL, Level.WARNING, Level.INFO)
        if counts[level]
    )
    lines.append(f"Posture findings ({summary}):")
    for finding in findings:
        scope = finding.identity or finding.environment or finding.tenant
        where = f" in {finding.environment}" if finding.identity and finding.environment else ""
        lines.append(f"  [{finding.level.value.upper()}] {scope}{where}: {finding.summary}")
        lines.append(f"      fix: {finding.remedy}")
    return "\n".join(lines)


# --- JSON ---------------------------------------------------------------------------------------


def _deadline_dict(deadline: Deadline, now: datetime) -> dict[str, Any]:
    return {
        "at": deadline.at.isoformat(),
        "in_days": round((deadline.at - now).total_seconds() / 86400, 2),
        "days_left": days_left(deadline.at, now),
        "what": deadline.what,
        "source": deadline.source,
        "kind": deadline.kind.value,
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """Return a finding as JSON-able data."""
    return {
        "key": finding.key,
        "kind": finding.kind.value,
        "level": finding.level.value,
        "tenant": finding.tenant,
        "identity": finding.identity,
        "environment": finding.environment,
        "subject": finding.subject,
        "summary": finding.summary,
        "remedy": finding.remedy,
        "deadline": finding.deadline.isoformat() if finding.deadline else None,
        "observed_at": finding.observed_at.isoformat(),
        "source": finding.source,
        "details": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in finding.details.items()
        },
    }


def posture_to_dict(
    posture: Posture, config: Config, now: datetime, *, identities: Sequence[str] | None = None
) -> dict[str, Any]:
    """Return the posture as JSON-able data (``monitor check --json``'s ``posture`` member)."""
    names = _names(posture, config, identities)
    return {
        "evaluated_at": now.isoformat(),
        "identities": {
            name: {
                "tenant": item.tenant,
                "classification": item.classification,
                "nearest_deadline": _deadline_dict(item.nearest, now) if item.nearest else None,
                "deadlines": [_deadline_dict(d, now) for d in item.deadlines],
                "not_observed": list(item.not_observed),
                "licences": list(item.licences) if item.licences is not None else None,
            }
            for name in names
            if (item := posture.identities.get(name)) is not None
        },
        "tenants": {
            tenant: {
                "skus": [
                    {
                        "part_number": sku.part_number,
                        "enabled": sku.enabled,
                        "consumed": sku.consumed,
                        "spare": sku.spare,
                        "capability_status": sku.capability_status,
                        "seat": sku.seat,
                    }
                    for sku in skus
                ]
            }
            for tenant, skus in posture.skus.items()
        },
        "environments": {
            name: {"non_interactive_users": count, "limit": NON_INTERACTIVE_LIMIT}
            for name, count in posture.non_interactive.items()
        },
        "findings": [
            finding_to_dict(f)
            for f in posture.findings
            if identities is None or f.identity is None or f.identity in identities
        ],
    }
