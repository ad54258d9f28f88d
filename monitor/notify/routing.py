"""Which channels hear about an incident, and the outbox rows of a notice (pure).

A channel takes an incident when the incident's level is one of its ``severities`` and, if the
channel lists ``tags``, the incident's identity has one of them. An incident of a whole tenant
(no identity) carries the tags of every identity of that tenant. Notices about a failing channel
go to its ``fallback`` channel whatever that channel's routing says.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.config.model import ChannelConfig, Config
from monitor.model.incidents import IncidentRecord
from monitor.model.outbox import NewOutbox
from monitor.notify.notice import Notice


def incident_tags(incident: IncidentRecord, config: Config) -> set[str]:
    """Return the tags routing and silences see for *incident*."""
    if incident.identity is not None:
        identity = config.identities.get(incident.identity)
        return set(identity.tags) if identity is not None else set()
    return {
        tag
        for identity in config.identities.values()
        if identity.tenant == incident.tenant
        for tag in identity.tags
    }


def channels_for(level: str, tags: set[str], config: Config) -> list[ChannelConfig]:
    """Return the channels that take a notice of *level* about an incident with *tags*."""
    return [
        channel
        for channel in config.channels
        if level in channel.severities and (not channel.tags or tags & set(channel.tags))
    ]


def dedup_key(incident_id: int, event: str, discriminator: str = "") -> str:
    """Return the outbox key that makes writing the same notice twice a no-op."""
    return f"incident:{incident_id}:{event}:{discriminator}"


def outbox_rows(
    notice: Notice,
    incident: IncidentRecord,
    config: Config,
    now: datetime,
    *,
    discriminator: str = "",
) -> list[NewOutbox]:
    """Return one outbox row per channel that takes *notice*. Critical notices are due at once;
    others wait ``group_wait_seconds`` so that what opens together goes out together."""
    assert incident.id is not None
    wait = config.alerts.delivery.group_wait_seconds
    not_before = now if notice.level == "critical" else now + timedelta(seconds=wait)
    return [
        NewOutbox(
            dedup_key=dedup_key(incident.id, notice.event, discriminator),
            channel=channel.name,
            incident_id=incident.id,
            event=notice.event,
            level=notice.level,
            notice=notice.to_json(),
            not_before=not_before,
        )
        for channel in channels_for(notice.level, incident_tags(incident, config), config)
    ]
