"""The alerting commands' argument handling, in process: usage errors and their exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.notify.alerting import AlertingDeployment, write_deployment

from monitor.cli import main
from monitor.commands.silence import parse_time


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AlertingDeployment:
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": ["json://127.0.0.1:9/"]}]
    )
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(deployment.credentials))
    return deployment


def run(deployment: AlertingDeployment, *args: str) -> int:
    return main(["--config", str(deployment.config_path), *args])


def test_parse_time() -> None:
    """Relative amounts, ISO times with a zone, and naive ISO times as local time."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert now + timedelta(minutes=30) == parse_time("30m", now)
    assert now + timedelta(hours=4) == parse_time("+4h", now)
    assert now + timedelta(days=2) == parse_time("2d", now)
    assert now + timedelta(weeks=1) == parse_time("1w", now)
    assert datetime(2026, 12, 2, 18, 0, tzinfo=UTC) == parse_time("2026-12-02T18:00Z", now)
    local = parse_time("2026-12-02T18:00", now)
    assert local.tzinfo is UTC
    assert datetime(2026, 12, 2, 18, 0).astimezone().astimezone(UTC) == local
    with pytest.raises(ValueError, match="not a time: 'soon'"):
        parse_time("soon", now)


def test_silence_usage_errors(
    deployment: AlertingDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown identity, tenant or tag, a bad time and a past time are refused with exit 2;
    removing a silence that does not exist exits 1."""
    base = ("silence", "add", "--reason", "x")
    assert 2 == run(deployment, *base, "--identity", "nobody", "--until", "1h")
    assert "unknown identity 'nobody'" in capsys.readouterr().err
    assert 2 == run(deployment, *base, "--tenant", "nowhere", "--until", "1h")
    assert 2 == run(deployment, *base, "--tag", "no-tag", "--until", "1h")
    assert "no identity has the tag 'no-tag'" in capsys.readouterr().err
    assert 2 == run(deployment, *base, "--tag", "sales", "--until", "soon")
    assert 2 == run(deployment, *base, "--tag", "sales", "--until", "2001-01-01")
    assert 1 == run(deployment, "silence", "remove", "7")
    assert 0 == run(deployment, *base, "--tenant", "contoso", "--until", "1d")
    assert 0 == run(deployment, "silence", "list", "--all")
    assert "tenant contoso" in capsys.readouterr().out


def test_ack_and_notify_usage_errors(
    deployment: AlertingDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """ack: a malformed id exits 2, an unknown one 1; notify test: an unknown channel exits 2;
    an empty outbox lists as empty with exit 0."""
    assert 2 == run(deployment, "ack", "banana")
    assert 1 == run(deployment, "ack", "CM-999")
    assert "no incident CM-999" in capsys.readouterr().err
    assert 2 == run(deployment, "notify", "test", "nope")
    assert "unknown channel: nope (known: ops)" in capsys.readouterr().err
    assert 0 == run(deployment, "notify", "outbox")
    assert "outbox: empty" in capsys.readouterr().out
    assert 0 == run(deployment, "notify", "requeue")


HUGE = "9" * 20  # beyond SQLite's 2**63 - 1


def test_numbers_too_large_for_a_date_or_the_database_are_argument_errors(
    deployment: AlertingDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """A silence ending in 99999999999 days or in the year 9999, a silence id, an incident id or
    an outbox limit beyond SQLite's integers: exit 2 with one message each, never an
    OverflowError."""
    base = ("silence", "add", "--reason", "x", "--tag", "sales")
    assert 2 == run(deployment, *base, "--until", "99999999999d")
    assert "too far: '99999999999d' (at most 3660 days ahead)" in capsys.readouterr().err
    assert 2 == run(deployment, *base, "--until", "9999-12-31T23:59:59Z")
    assert "too far: '9999-12-31T23:59:59Z'" in capsys.readouterr().err
    assert 2 == run(deployment, *base, "--until", "1h", "--from", "0001-01-01T00:00Z")
    assert "too far: '0001-01-01T00:00Z'" in capsys.readouterr().err
    assert 2 == run(deployment, "ack", f"CM-{HUGE}")
    assert f"no incident can have the id 'CM-{HUGE}'" in capsys.readouterr().err
    for arguments in (("silence", "remove", HUGE), ("notify", "outbox", "--limit", HUGE)):
        with pytest.raises(SystemExit) as exited:
            run(deployment, *arguments)
        assert 2 == exited.value.code
        assert f"'{HUGE}' is out of range" in capsys.readouterr().err
