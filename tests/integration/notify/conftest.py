"""Fixtures for alerting integration tests: real receivers on loopback, trusted by apprise
through ``REQUESTS_CA_BUNDLE`` set for the test only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.notify.receivers import HttpsReceiver, SmtpReceiver


@pytest.fixture
def teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsReceiver]:
    """A Teams Workflows endpoint on loopback whose CA apprise trusts in this test only."""
    receiver = HttpsReceiver(tmp_path / "receiver").start()
    for name, value in receiver.env().items():
        monkeypatch.setenv(name, value)
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def mailbox() -> Iterator[SmtpReceiver]:
    """An SMTP server on loopback that records what it accepts."""
    receiver = SmtpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
