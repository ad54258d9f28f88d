"""The probe result of a configured identity, for all that records one: the probe flow, and
the ``Retry-After`` gate that holds a probe back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.config.model import IdentityConfig
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, Stage


def identity_result(
    identity: IdentityConfig,
    environment: str,
    started_at: datetime,
    outcome: Outcome,
    stage: Stage,
    **fields: Any,
) -> ProbeResult:
    """Return a result of *identity* in *environment* (``duration_ms`` 0 unless given)."""
    fields.setdefault("duration_ms", 0)
    return ProbeResult(
        identity=identity.name,
        environment=environment,
        tenant=identity.tenant,
        credential_type=identity.credential_type,
        started_at=started_at,
        outcome=outcome,
        stage=stage,
        **fields,
    )
