"""Posture as the cycle evaluates it: the stored directory facts, with the configuration's own
facts (certificate files, declared expiries) taken fresh, judged by the posture rules.

A replaced certificate file therefore counts at once, without waiting for the next directory
read; a stored certificate-file or declared date the configuration no longer has is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from monitor.config.model import Config
from monitor.findings.posture import OBSERVER_SUBJECT, Posture, evaluate_posture
from monitor.findings.watch import with_discovered
from monitor.model.observations import CertificateFile, DeclaredExpiry, Observation
from monitor.store import Store

_LOCAL_SOURCES = ("certificate file", "configuration")


def local_observations(config: Config, now: datetime) -> list[Observation]:
    """Return what the configuration alone says: certificate files' ``notAfter`` (identities
    and observers) and declared expiries. No I/O: the loader already parsed the files."""
    found: list[Observation] = []
    for identity in config.identities.values():
        certificate = identity.certificate
        if certificate is not None and certificate.not_after is not None:
            found.append(
                Observation.of(
                    CertificateFile(certificate.not_after, certificate.thumbprint_sha1),
                    tenant=identity.tenant,
                    identity=identity.name,
                    source="certificate file",
                    observed_at=now,
                )
            )
        if identity.credential_expires is not None:
            found.append(
                Observation.of(
                    DeclaredExpiry(
                        identity.credential_expires, identity.credential_expires_source or ""
                    ),
                    tenant=identity.tenant,
                    identity=identity.name,
                    source="configuration",
                    observed_at=now,
                )
            )
    for tenant in config.tenants.values():
        observer = tenant.observer
        if observer is None or observer.certificate is None:
            continue
        if observer.certificate.not_after is not None:
            found.append(
                Observation.of(
                    CertificateFile(
                        observer.certificate.not_after, observer.certificate.thumbprint_sha1
                    ),
                    tenant=tenant.name,
                    subject=OBSERVER_SUBJECT,
                    source="certificate file",
                    observed_at=now,
                )
            )
    return found


def merged_observations(
    stored: Iterable[Observation], config: Config, now: datetime
) -> list[Observation]:
    """Return the stored observations with the configuration's own facts replaced by fresh
    ones (a stored certificate-file or declared date the configuration no longer has is
    dropped; an unchanged one keeps its ``since``)."""
    merged = {o.key: o for o in stored if o.source not in _LOCAL_SOURCES}
    previous = {o.key: o for o in stored if o.source in _LOCAL_SOURCES}
    for observation in local_observations(config, now):
        before = previous.get(observation.key)
        since = before.first_seen if before is not None and before.fact == observation.fact else now
        merged[observation.key] = replace(observation, since=since)
    return list(merged.values())


def posture_from_store(store: Store, config: Config, now: datetime) -> Posture:
    """Return the posture of every configured identity (and, with ``[discovery] watch =
    "posture"``, every watched discovered one) from the store's current facts."""
    observations = merged_observations(store.posture.current(), config, now)
    return evaluate_posture(observations, with_discovered(config, observations), now)
