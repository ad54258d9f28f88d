"""A tarpit SMTP server (accepts, then answers a byte at a time) against real apprise: the whole
send is bounded by ``send_timeout_seconds``, the attempt is recorded as timed out, and repeated
attempts neither wait again nor add a thread each."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.notify.alerting import T0, finding, write_deployment
from support.notify.receivers import TarpitServer

from monitor.config.model import ChannelConfig
from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import FindingKind, Level
from monitor.notify.channels import SEND_POOL_SIZE, AppriseSender
from monitor.notify.deadline import DeadlinePool
from monitor.notify.dispatch import dispatch
from monitor.notify.notice import make_test_notice
from monitor.notify.render import render
from monitor.secrets import Secret

ALERTS = """
[alerts.delivery]
send_timeout_seconds = 1
retry_initial_seconds = 10
retry_max_seconds = 60
give_up_after_minutes = 10000
"""


@pytest.fixture
def tarpit() -> Iterator[TarpitServer]:
    server = TarpitServer(interval=0.5).start()
    try:
        yield server
    finally:
        server.stop()


def test_repeated_dispatches_to_a_tarpit_cost_one_timeout_and_one_thread(
    tmp_path: Path, tarpit: TarpitServer
) -> None:
    """Five dispatches, as the daemon makes them, to an e-mail channel whose server is a tarpit:
    the first waits the send timeout (1 s) and is recorded as timed out; the next four fail at
    once because that send still hangs; the process has one thread more than before, not five."""
    deployment = write_deployment(
        tmp_path, alerts=ALERTS, channels=[{"name": "ops-email", "urls": [tarpit.url()]}]
    )
    config = deployment.load()
    incident = finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL)
    # A pool of the default size of its own, so that other tests' idle threads do not count.
    sender = AppriseSender(pool=DeadlinePool(SEND_POOL_SIZE, name="test-send"))
    durations: list[float] = []
    with deployment.open_store() as store:
        evaluate_findings(store, config, [incident], T0)
        baseline = threading.active_count()
        for round_number in range(5):
            started = time.monotonic()
            dispatch(store, config, T0 + timedelta(minutes=2 * round_number), sender=sender)
            durations.append(time.monotonic() - started)
        threads = threading.active_count() - baseline
        (row,) = store.alerting.outbox()
        attempts = store.alerting.delivery_attempts(row.id)

    assert 1 == threads
    assert 1 <= durations[0] < 2.5
    assert all(duration < 0.5 for duration in durations[1:]), durations
    assert [False] * 5 == [attempt.ok for attempt in attempts]
    assert "timed out after 1 s" == attempts[0].error
    assert {"timed out: the previous send to this URL still hangs"} == {
        attempt.error for attempt in attempts[1:]
    }
    assert ("pending", 5) == (row.status, row.attempts)
    assert 1 == tarpit.accepted


def test_the_sender_pool_stays_bounded_whatever_the_number_of_hanging_urls(
    tarpit: TarpitServer,
) -> None:
    """Five URLs on the tarpit and a pool of two: two sends start and hang, three never find a
    free thread before their deadline and are dropped; a second round adds no thread either."""
    urls = tuple(Secret(tarpit.url(to=f"ops{i}@example.com"), "inline") for i in range(5))
    channel = ChannelConfig(name="ops-email", urls=urls)
    sender = AppriseSender(pool=DeadlinePool(2, name="test-send"))
    message = render([make_test_notice("ops-email", T0)])
    baseline = threading.active_count()

    first = sender.send(channel, message, range(5), timeout=0.5)
    second = sender.send(channel, message, range(5), timeout=0.5)

    assert 2 == threading.active_count() - baseline
    assert not any(attempt.ok for attempt in first + second)
    assert [
        "timed out after 0.5 s",
        "timed out after 0.5 s",
        "timed out after 0.5 s waiting for a free sender",
        "timed out after 0.5 s waiting for a free sender",
        "timed out after 0.5 s waiting for a free sender",
    ] == [attempt.error for attempt in first]
    assert [
        "timed out: the previous send to this URL still hangs",
        "timed out: the previous send to this URL still hangs",
        "timed out after 0.5 s waiting for a free sender",
        "timed out after 0.5 s waiting for a free sender",
        "timed out after 0.5 s waiting for a free sender",
    ] == [attempt.error for attempt in second]
    assert 2 == tarpit.accepted
