"""``monitor notify test``: send a test notice straight to every URL of a channel, bypassing the
outbox, and report delivery per URL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.config.model import Config
from monitor.config.urls import describe_url, url_problems
from monitor.model.outbox import UrlAttempt
from monitor.notify.channels import AppriseSender, ChannelSender
from monitor.notify.notice import make_test_notice
from monitor.notify.render import render


@dataclass(frozen=True)
class UrlTestResult:
    """The outcome of the test notice on one URL (``url`` is the safe description)."""

    channel: str
    url_index: int
    url: str
    delivered: bool
    error: str | None
    duration_ms: int


def send_test(
    config: Config,
    channel_names: Sequence[str],
    now: datetime,
    *,
    sender: ChannelSender | None = None,
) -> list[UrlTestResult]:
    """Send a test notice to each URL of the named channels (all channels if none are named).
    Raise KeyError naming the unknown channels first."""
    known = {channel.name: channel for channel in config.channels}
    unknown = [name for name in channel_names if name not in known]
    if unknown:
        raise KeyError(", ".join(unknown))
    channels = [known[name] for name in channel_names] if channel_names else list(known.values())
    sender = sender or AppriseSender()
    results: list[UrlTestResult] = []
    timeout = config.alerts.delivery.send_timeout_seconds
    for channel in channels:
        message = render([make_test_notice(channel.name, now)])
        for index, url in enumerate(channel.urls):
            problems = url_problems(url.reveal())
            if problems:  # refused before any connection
                refused = f"refused: expected {problems[0].expected}"
                attempt = UrlAttempt(url_index=index, ok=False, error=refused, duration_ms=0)
            else:
                attempt = sender.send(channel, message, [index], timeout=timeout)[0]
            shown = describe_url(url.reveal())
            results.append(
                UrlTestResult(
                    channel.name, index, shown, attempt.ok, attempt.error, attempt.duration_ms
                )
            )
    return results
