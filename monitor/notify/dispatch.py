"""Delivering the outbox: claim, send outside a transaction, record; retry, dead-letter, fall back.

One call of :func:`dispatch` recovers rows whose sender died, dead-letters what is too old (the
fallback channel is told), then per channel claims the due rows, sends them as one message to
each URL that does not have them yet and records the outcome, with exponential backoff and
jitter for what failed. Delivery is at least once. The steps, the row states and the settings:
docs/notifications.md ("The outbox").
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from monitor.config.model import ChannelConfig, Config, DeliveryConfig
from monitor.config.urls import describe_url
from monitor.model.clock import utcnow
from monitor.model.outbox import NewOutbox, OutboxOutcome, OutboxRecord, UrlAttempt
from monitor.notify.channels import AppriseSender, ChannelSender
from monitor.notify.notice import Notice, channel_failing_notice
from monitor.notify.render import render
from monitor.store import Store

log = structlog.get_logger("monitor.notify")

_ROUNDS = 3  # a fallback notice queued by step 2 goes out in the same call


@dataclass(frozen=True)
class ChannelDelivery:
    """One message sent (or tried) to one channel: which incidents, and the result per URL."""

    channel: str
    labels: tuple[str, ...]
    rows: int
    attempts: tuple[UrlAttempt, ...]
    delivered: bool
    retry_at: datetime | None


@dataclass(frozen=True)
class DispatchResult:
    """What one :func:`dispatch` did."""

    recovered: int
    dead: int
    deliveries: tuple[ChannelDelivery, ...]

    @property
    def sent_rows(self) -> int:
        return sum(d.rows for d in self.deliveries if d.delivered)

    @property
    def failed_rows(self) -> int:
        return sum(d.rows for d in self.deliveries if not d.delivered)


def retry_delay(attempts: int, delivery: DeliveryConfig, rng: random.Random) -> timedelta:
    """Return how long to wait after the *attempts*-th failed try: the exponential step
    (initial, doubling, capped) with "equal jitter" (half fixed, half random)."""
    step = delivery.retry_initial_seconds * (2 ** max(0, attempts - 1))
    capped = min(step, delivery.retry_max_seconds)
    return timedelta(seconds=capped / 2 + rng.uniform(0, capped / 2))


def dispatch(
    store: Store,
    config: Config,
    now: datetime | None = None,
    *,
    sender: ChannelSender | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] | None = None,
    channels: Collection[str] | None = None,
) -> DispatchResult:
    """Deliver what is due in the outbox (see the module docstring) and return what happened.

    *now* is the time the outbox is judged at (due rows, leases, ages); by default the clock.
    *channels* limits sending to those channels. Never raises for a delivery failure.
    """
    now = now or (clock or utcnow)()
    sender = sender or AppriseSender()
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    delivery = config.alerts.delivery
    cutoff = now - timedelta(minutes=delivery.give_up_after_minutes)
    known = {channel.name for channel in config.channels}
    # One cheap read decides which write transactions are needed: an idle dispatch writes nothing.
    work = store.alerting.outbox_work(now, cutoff)
    recovered = store.alerting.recover_outbox_leases(now) if work.recoverable else 0
    if recovered:
        log.warning("outbox rows recovered after a sender stopped", rows=recovered)
        work = store.alerting.outbox_work(now, cutoff)
    dead = 0
    if work.expired or work.pending_channels - known:
        dead = _dead_letter(store, config, now)
    deliveries: list[ChannelDelivery] = []
    for round_number in range(_ROUNDS):
        if round_number or dead:
            work = store.alerting.outbox_work(now, cutoff)
        progressed = False
        for channel in config.channels:
            if channels is not None and channel.name not in channels:
                continue
            if channel.name not in work.due_channels:
                continue
            rows = store.alerting.claim_outbox(
                channel.name,
                now,
                now + timedelta(seconds=delivery.lease_seconds),
                limit=delivery.digest_limit,
            )
            if not rows:
                continue
            progressed = True
            deliveries.extend(_deliver(store, channel, rows, sender, delivery, now, rng))
        if not progressed:
            break
    return DispatchResult(recovered=recovered, dead=dead, deliveries=tuple(deliveries))


def _deliver(
    store: Store,
    channel: ChannelConfig,
    rows: Sequence[OutboxRecord],
    sender: ChannelSender,
    delivery: DeliveryConfig,
    now: datetime,
    rng: random.Random,
) -> list[ChannelDelivery]:
    full = (1 << len(channel.urls)) - 1
    groups: dict[int, list[tuple[OutboxRecord, Notice]]] = {}
    outcomes: list[OutboxOutcome] = []
    for row in rows:
        try:
            notice = Notice.from_json(row.notice)
        except (ValueError, TypeError, KeyError):
            outcomes.append(_failed(row, "unreadable notice", delivery, now, rng))
            continue
        groups.setdefault(row.delivered_urls & full, []).append((row, notice))
    results: list[ChannelDelivery] = []
    for mask, members in groups.items():
        indexes = [i for i in range(len(channel.urls)) if not mask & (1 << i)]
        message = render([notice for _, notice in members])
        attempts = (
            sender.send(channel, message, indexes, timeout=delivery.send_timeout_seconds)
            if indexes
            else []
        )
        delivered_mask = mask
        for attempt in attempts:
            if attempt.ok:
                delivered_mask |= 1 << attempt.url_index
        all_delivered = delivered_mask == full
        retry_at = None
        if not all_delivered:
            worst = max(row.attempts for row, _ in members)
            retry_at = now + retry_delay(worst, delivery, rng)
        for row, _ in members:
            outcomes.append(
                OutboxOutcome(
                    outbox_id=row.id,
                    attempts=tuple(attempts),
                    all_delivered=all_delivered,
                    retry_at=retry_at,
                )
            )
        labels = message.labels
        failures = [a for a in attempts if not a.ok]
        for attempt in failures:
            log.warning(
                "notice not delivered",
                channel=channel.name,
                url=describe_url(channel.urls[attempt.url_index].reveal()),
                incidents=list(labels),
                error=attempt.error,
                retry_at=retry_at.isoformat() if retry_at else None,
            )
        if not failures:
            log.info(
                "notice delivered", channel=channel.name, incidents=list(labels), rows=len(members)
            )
        results.append(
            ChannelDelivery(
                channel=channel.name,
                labels=labels,
                rows=len(members),
                attempts=tuple(attempts),
                delivered=all_delivered,
                retry_at=retry_at,
            )
        )
    store.alerting.finish_outbox(outcomes, now)
    return results


def _failed(
    row: OutboxRecord, error: str, delivery: DeliveryConfig, now: datetime, rng: random.Random
) -> OutboxOutcome:
    return OutboxOutcome(
        outbox_id=row.id,
        attempts=(UrlAttempt(url_index=0, ok=False, error=error, duration_ms=0),),
        all_delivered=False,
        retry_at=now + retry_delay(row.attempts, delivery, rng),
    )


def _dead_letter(store: Store, config: Config, now: datetime) -> int:
    """Dead-letter rows past the maximum age (and rows of removed channels); queue one notice
    per failing channel for its fallback. Return how many rows died."""
    delivery = config.alerts.delivery
    known = {channel.name: channel for channel in config.channels}
    cutoff = now - timedelta(minutes=delivery.give_up_after_minutes)
    died = 0
    with store.alerting.unit() as unit:
        orphaned = [name for name in unit.channels_with_pending() if name not in known]
        for name in orphaned:
            rows = unit.pending_rows(name)
            unit.mark_dead([row.id for row in rows], now, "the channel is no longer configured")
            died += len(rows)
            log.error("notices dropped: channel no longer configured", channel=name, rows=len(rows))
        expired: dict[str, list[OutboxRecord]] = {}
        for row in unit.expired_rows(cutoff):
            if row.channel in known:
                expired.setdefault(row.channel, []).append(row)
        for name, rows in expired.items():
            last_error = next((r.last_error for r in reversed(rows) if r.last_error), None)
            unit.mark_dead([row.id for row in rows], now, last_error or "never delivered")
            died += len(rows)
            labels = _labels(rows)
            channel = known[name]
            fallback = known.get(channel.fallback or "")
            log.error(
                "notices dead-lettered",
                channel=name,
                incidents=labels,
                rows=len(rows),
                error=last_error,
                fallback=fallback.name if fallback else None,
            )
            forward = [row for row in rows if row.event != "channel_failing"]
            if fallback is None or fallback.name == name or not forward:
                continue
            lost = []
            for row in forward:
                try:
                    lost.append(Notice.from_json(row.notice))
                except (ValueError, TypeError, KeyError):
                    continue
            notice = channel_failing_notice(
                name, lost, last_error, now, minutes=delivery.give_up_after_minutes
            )
            unit.enqueue(
                [
                    NewOutbox(
                        dedup_key=f"channel:{name}:failing:{min(row.id for row in rows)}",
                        channel=fallback.name,
                        incident_id=None,
                        event="channel_failing",
                        level="critical",
                        notice=notice.to_json(),
                        not_before=now,
                    )
                ],
                now,
            )
    return died


def _labels(rows: Sequence[OutboxRecord]) -> list[str]:
    return [f"CM-{row.incident_id}" for row in rows if row.incident_id is not None]
