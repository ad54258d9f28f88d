"""Probes: sign in as an identity and call Dataverse with its token.

The engine calls a probe as::

    context = ProbeContext.from_config(config, fingerprint_key=key, clock=clock)  # once
    probe = PROBE_KINDS[identity.credential_type](identity, config, context)
    results = probe.run(list(identity.environments))  # one ProbeResult per environment

``run()`` never raises and returns within ``network.probe_deadline_seconds`` (plus DNS time).
"""

from __future__ import annotations

from monitor.model.lockout import LOCKOUT_TRIGGERS, LockoutHold, LockoutTrigger, lockout_trigger
from monitor.model.probes import ProbeResult, RateLimit
from monitor.probes.certificate import ApplicationCertificateProbe
from monitor.probes.client_secret import ApplicationSecretProbe
from monitor.probes.context import ProbeContext, SessionPool
from monitor.probes.password import UserPasswordProbe
from monitor.probes.runner import MsalProbe

PROBE_KINDS: dict[str, type[MsalProbe]] = {
    "client_secret": ApplicationSecretProbe,
    "certificate": ApplicationCertificateProbe,
    "password": UserPasswordProbe,
}

__all__ = [
    "LOCKOUT_TRIGGERS",
    "PROBE_KINDS",
    "ApplicationCertificateProbe",
    "ApplicationSecretProbe",
    "LockoutHold",
    "LockoutTrigger",
    "MsalProbe",
    "ProbeContext",
    "ProbeResult",
    "RateLimit",
    "SessionPool",
    "UserPasswordProbe",
    "lockout_trigger",
]
