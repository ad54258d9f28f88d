"""The ``[discovery]`` section: watching discovered identities, and telling named users that
run integrations.

``watch``: ``"off"`` (default) or ``"posture"``: the daemon's directory job also discovers every
application user and non-interactive user of the configured environments and keeps the ones not
configured under posture watch without signing in as them (docs/discovery.md). The
``named_user_*`` keys say when an interactive licensed user's imported usage looks like an
integration: above ``named_user_allocation_percent`` of its allocation on at least
``named_user_days_percent`` of its days (and at least ``named_user_min_days`` days reported).
"""

from __future__ import annotations

from monitor.config.model import DiscoveryConfig
from monitor.config.schema import Choice, Field, Number, Table

WATCH_MODES = ("off", "posture")

DISCOVERY = Table(
    {
        "watch": Field(
            Choice(WATCH_MODES),
            hint='"posture": keep every discovered identity under posture watch (no sign-in); '
            'default "off"',
        ),
        "named_user_allocation_percent": Field(
            Number(maximum=1000, unit="percent"),
            hint="a named user above this share of its daily allocation ...; default 80",
        ),
        "named_user_days_percent": Field(
            Number(maximum=100, unit="percent"),
            hint="... on at least this share of its days looks like an integration; default 50",
        ),
        "named_user_min_days": Field(
            Number(maximum=366, integer=True, unit="days"),
            hint="judge a named user only on at least this many reported days; default 3",
        ),
    }
)


def build_discovery(table: dict[str, object]) -> DiscoveryConfig:
    """Return ``[discovery]`` with defaults for what it leaves out (a checked table)."""
    defaults = DiscoveryConfig()

    def number(key: str, default: float) -> float:
        value = table.get(key, default)
        return float(value) if isinstance(value, int | float) else default

    watch = table.get("watch")
    return DiscoveryConfig(
        watch="posture" if watch == "posture" else "off",
        named_user_allocation_percent=number(
            "named_user_allocation_percent", defaults.named_user_allocation_percent
        ),
        named_user_days_percent=number("named_user_days_percent", defaults.named_user_days_percent),
        named_user_min_days=int(number("named_user_min_days", defaults.named_user_min_days)),
    )
