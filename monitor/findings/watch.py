"""The configuration the posture rules judge, with the watched discovered identities added.

Pure: given the configuration and the current observations, :func:`with_discovered` returns the
configuration with one identity per discovered application user or non-interactive user that is
not configured (``[discovery] watch = "posture"``), marked ``discovered``. The cycle, ``monitor
posture`` and the report all judge through it, so they agree (docs/discovery.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from monitor.config.model import Config, IdentityConfig
from monitor.model.discovery import watch_name
from monitor.model.observations import DiscoveredIdentityFact, Observation


def with_discovered(config: Config, observations: Sequence[Observation]) -> Config:
    """Return *config* with every watched discovered identity the stored *observations* hold
    (``[discovery] watch = "posture"``; else *config* itself): one per tenant and key, in the
    environments it is listed in, marked ``discovered`` and tagged ``discovered``. One that the
    configuration has now (by client id or user name) is left out: it appears once."""
    if config.discovery.watch != "posture":
        return config
    configured_apps = {
        (i.tenant, i.client_id.lower())
        for i in config.identities.values()
        if i.kind == "application"
    }
    configured_users = {
        (i.tenant, (i.username or "").lower())
        for i in config.identities.values()
        if i.kind == "user"
    }
    found: dict[tuple[str, str], tuple[DiscoveredIdentityFact, set[str]]] = {}
    for observation in observations:
        fact = observation.fact
        if not isinstance(fact, DiscoveredIdentityFact):
            continue
        if (
            fact.gone is not None
            or fact.configured_as
            or fact.observer
            or observation.tenant not in config.tenants
            or observation.environment not in config.environments
        ):
            continue
        if fact.identity_kind == "application user":
            if (observation.tenant, (fact.client_id or "").lower()) in configured_apps:
                continue
        elif (observation.tenant, (fact.user_principal_name or "").lower()) in configured_users:
            continue
        entry = found.setdefault((observation.tenant, fact.key), (fact, set()))
        entry[1].add(str(observation.environment))
    extra: dict[str, IdentityConfig] = {}
    for (tenant, key), (fact, environments) in sorted(found.items()):
        application = fact.identity_kind == "application user"
        name = watch_name(fact.identity_kind, fact.display_name, key)
        extra[name] = IdentityConfig(
            name=name,
            kind="application" if application else "user",
            tenant=tenant,
            client_id=(fact.client_id or key) if application else "",
            environments=tuple(sorted(environments)),
            tags=("discovered",),
            username=None if application else fact.user_principal_name,
            discovered=True,
        )
    if not extra:
        return config
    return replace(config, identities={**config.identities, **extra})
