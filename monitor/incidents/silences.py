"""Whether a silence holds back the notices of an incident (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.config.model import Config
from monitor.model.incidents import IncidentRecord, SilenceRecord
from monitor.notify.routing import incident_tags


def silenced_by(
    incident: IncidentRecord, silences: Sequence[SilenceRecord], config: Config, now: datetime
) -> SilenceRecord | None:
    """Return the first active silence that covers *incident*, or None.

    A silence covers the incidents of its identity, of every identity carrying its tag, or of
    its tenant (including the tenant-wide ones). A tag silence covers a tenant-wide incident only
    if every identity of the tenant carries the tag.
    """
    tags = incident_tags(incident, config)
    if incident.identity is None:
        members = [i for i in config.identities.values() if i.tenant == incident.tenant]
        tags = {tag for tag in tags if members and all(tag in i.tags for i in members)}
    for silence in silences:
        if not silence.active(now):
            continue
        if silence.identity is not None and silence.identity == incident.identity:
            return silence
        if silence.tag is not None and silence.tag in tags:
            return silence
        if silence.tenant is not None and silence.tenant == incident.tenant:
            return silence
    return None
