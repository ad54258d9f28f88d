"""Posture-only watching of discovered identities (``[discovery] watch = "posture"``).

The directory pass discovers every application user and non-interactive user of a tenant's
environments with the observer (never signing in as them) and records, per environment, a
``discovered_identity`` fact for each, and for each one not configured the same facts a
configured identity has (service principal and app credentials, or Entra account and licences;
systemuser and roles per environment), under the name :func:`~monitor.model.discovery.watch_name`
gives it. :func:`monitor.findings.watch.with_discovered` adds those identities to the
configuration the posture rules see, marked ``discovered``, so their expiries, disabled state,
roles and licences give the same findings as a configured identity's; the probe pass never sees
them (docs/discovery.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

from monitor.findings.posture import NOTE_WINDOW
from monitor.model.discovery import DiscoveredIdentity, TenantDiscovery, watch_name
from monitor.model.observations import (
    AppCredentials,
    DiscoveredIdentityFact,
    Fact,
    NotObservedCause,
    Observation,
    SecurityRoles,
    ServicePrincipal,
    Source,
    SystemUser,
)

_GRAPH_KINDS = {
    "application user": ("service_principal", "app_credentials"),
    "non-interactive user": ("user_account", "user_licences"),
}
_DATAVERSE_KINDS = ("systemuser", "security_roles")


def _fact_of(observation: Observation) -> DiscoveredIdentityFact | None:
    fact = observation.fact
    return fact if isinstance(fact, DiscoveredIdentityFact) else None


def watch_observations(
    found: TenantDiscovery, stored: Sequence[Observation], now: datetime
) -> list[Observation]:
    """Return the observations posture watching records for one tenant's discovery *found*,
    given the tenant's *stored* facts: the ``discovered_identity`` facts (new ones since the
    environment's first discovery marked ``appeared``, vanished ones kept a while as ``gone``,
    those of environments not read now kept as they were) and the facts of every identity not
    configured."""
    tenant = found.tenant
    previous = {
        (o.environment, o.subject): (o, fact)
        for o in stored
        if o.kind == DiscoveredIdentityFact.kind and (fact := _fact_of(o)) is not None
    }
    known_environments = {environment for environment, _ in previous}
    unread = {environment: (cause, reason) for environment, cause, reason in found.unread}
    observations: list[Observation] = []
    seen: set[tuple[str | None, str]] = set()

    def note(fact: DiscoveredIdentityFact, environment: str | None) -> None:
        observations.append(
            Observation.of(
                fact,
                tenant=tenant,
                source="dataverse",
                observed_at=now,
                environment=environment,
                subject=fact.key,
            )
        )

    for identity in found.identities:
        for presence in identity.environments:
            environment = presence.environment
            before = previous.get((environment, identity.key))
            if before is not None and before[1].gone is None:
                appeared = before[1].appeared
            else:
                appeared = now if environment in known_environments else None
            note(
                DiscoveredIdentityFact(
                    identity_kind=identity.kind,
                    key=identity.key,
                    display_name=identity.display_name,
                    client_id=identity.client_id,
                    user_principal_name=identity.user_principal_name,
                    configured_as=identity.configured_as,
                    observer=identity.observer,
                    appeared=appeared,
                ),
                environment,
            )
            seen.add((environment, identity.key))
        if not identity.configured and not identity.observer:
            observations += identity_observations(identity, now)
    listed = {
        watch_name(i.kind, i.display_name, i.key) for i in found.identities if not i.configured
    }
    for (where, key), (_, fact) in previous.items():
        if (where, key) in seen or where is None:
            continue
        environment = where
        if environment in unread or environment not in found.read:
            note(fact, environment)  # not listed now: unknown, not gone
            if not fact.configured_as and not fact.observer and fact.gone is None:
                cause, reason = unread.get(
                    environment, ("not_read", f"environment {environment} was not listed")
                )
                name = watch_name(fact.identity_kind, fact.display_name, key)
                observations += _missing(
                    tenant, name, environment, _DATAVERSE_KINDS, "dataverse", cause, reason, now
                )
                if name not in listed:  # its Graph facts are said once
                    listed.add(name)
                    kinds = _GRAPH_KINDS.get(fact.identity_kind, ())
                    observations += _missing(tenant, name, None, kinds, "graph", cause, reason, now)
            continue
        gone = fact.gone or now
        if now - gone < NOTE_WINDOW:
            note(replace(fact, gone=gone, appeared=None), environment)
    return observations


def _missing(
    tenant: str,
    name: str,
    environment: str | None,
    kinds: Sequence[str],
    source: Source,
    cause: NotObservedCause,
    reason: str,
    now: datetime,
) -> list[Observation]:
    return [
        Observation.missing(
            kind,
            tenant=tenant,
            source=source,
            observed_at=now,
            cause=cause,
            reason=reason,
            identity=name,
            environment=environment,
        )
        for kind in kinds
    ]


def identity_observations(identity: DiscoveredIdentity, now: datetime) -> list[Observation]:
    """Return the posture facts of a discovered identity, under its watch name."""
    name = watch_name(identity.kind, identity.display_name, identity.key)
    tenant = identity.tenant
    unread = {kind: (cause, reason) for kind, cause, reason in identity.unread}
    found: list[Observation] = []

    def add(kind: str, fact: Fact | None, source: Source, environment: str | None = None) -> None:
        if kind in unread:
            cause, reason = unread[kind]
            kinds = [kind.split(":")[0]]
            found.extend(_missing(tenant, name, environment, kinds, source, cause, reason, now))
        elif fact is not None:
            found.append(
                Observation.of(
                    fact,
                    tenant=tenant,
                    source=source,
                    observed_at=now,
                    identity=name,
                    environment=environment,
                )
            )

    if identity.kind == "application user":
        principal = (
            None
            if identity.service_principal_found is None
            else ServicePrincipal(
                found=identity.service_principal_found,
                account_enabled=identity.service_principal_enabled,
                display_name=identity.display_name,
            )
        )
        add("service_principal", principal, "graph")
        credentials = None
        if identity.credentials is not None:
            registered = tuple(end.credential for end in identity.credentials)
            configured: Literal["client_secret", "certificate"] = (
                "client_secret"
                if any(c.type == "client_secret" for c in registered) or not registered
                else "certificate"
            )
            credentials = AppCredentials(
                client_id=identity.client_id or identity.key,
                display_name=identity.display_name,
                configured=configured,
                matched_by="none",
                credentials=registered,
            )
        add("app_credentials", credentials, "graph")
    else:
        add("user_account", identity.account, "graph")
        add("user_licences", identity.licence_fact, "graph")
    for presence in identity.environments:
        user = SystemUser(
            found=True,
            systemuser_id=presence.systemuser_id,
            full_name=presence.full_name,
            domain_name=presence.domain_name,
            application_id=identity.client_id,
            access_mode=presence.access_mode,
            is_disabled=presence.disabled,
        )
        add("systemuser", user, "dataverse", presence.environment)
        roles = None if presence.roles is None else SecurityRoles(presence.roles)
        add(f"security_roles:{presence.environment}", roles, "dataverse", presence.environment)
    return found
