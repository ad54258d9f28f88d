"""Named users acting as integrations: licensed users whose daily request counts look like
machine traffic in the imported Licensed User reports.

Pure: given each caller's daily usage (:class:`~monitor.model.usage.ReportUsage` of the
``licensed`` report) and ``[discovery]``'s thresholds, return the callers above
``named_user_allocation_percent`` of their stated allocation on at least
``named_user_days_percent`` of their reported days (docs/discovery.md, "Named users").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from monitor.config.model import DiscoveryConfig
from monitor.model.discovery import NamedUserSuspect
from monitor.model.usage import ReportUsage

LICENSED_REPORT = "licensed"


def named_user_suspects(
    rows: Sequence[ReportUsage],
    settings: DiscoveryConfig,
    configured: Mapping[tuple[str, str], str] | None = None,
) -> list[NamedUserSuspect]:
    """Return the licensed callers whose usage looks like an integration's, busiest first.

    *configured* maps (tenant, Entra object id) to the configured identity's name. A day
    without a stated allocation is reported but not judged.
    """
    by_caller: dict[tuple[str, str], list[ReportUsage]] = defaultdict(list)
    for row in rows:
        if row.report == LICENSED_REPORT and row.caller_id:
            by_caller[(row.tenant, row.caller_id.lower())].append(row)
    found = []
    for (tenant, caller), days in by_caller.items():
        judged = [row for row in days if row.entitled]
        if len(judged) < settings.named_user_min_days:
            continue
        shares = [100.0 * row.consumed / row.entitled for row in judged if row.entitled]
        above = sum(1 for share in shares if share >= settings.named_user_allocation_percent)
        if 100.0 * above / len(judged) < settings.named_user_days_percent:
            continue
        found.append(
            NamedUserSuspect(
                tenant=tenant,
                caller_id=caller,
                days=len(judged),
                days_above=above,
                highest_percent=round(max(shares), 1),
                average_requests=round(sum(row.consumed for row in days) / len(days)),
                entitled=max(row.entitled or 0 for row in days) or None,
                configured_as=(configured or {}).get((tenant, caller)),
            )
        )
    return sorted(found, key=lambda s: (-s.days_above, -s.highest_percent, s.caller_id))
