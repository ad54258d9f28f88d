"""``[schedule]`` and ``[retention]``: loaded, defaulted, and checked against identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from monitor.config.model import RetentionConfig, ScheduleConfig

BASE = """
[tenants.t]
tenant_id = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"

[environments.e]
tenant = "t"
url = "https://e.crm.dynamics.com"

[identities.app]
kind = "application"
tenant = "t"
client_id = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
secret = "inline-secret-value"
environments = ["e"]

[identities.svc]
kind = "user"
tenant = "t"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc@contoso.example"
password = "inline-password-value"
environments = ["e"]
"""


def load(tmp_path: Path, extra: str):  # type: ignore[no-untyped-def]
    """Write BASE + *extra* as a private config file and load it."""
    path = tmp_path / "monitor.toml"
    path.write_text(BASE + extra)
    path.chmod(0o600)
    return load_config(path, environ={})


def problems(tmp_path: Path, extra: str) -> list[str]:
    """Return the rendered problems of BASE + *extra*."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    return [problem.render() for problem in caught.value.problems]


def test_defaults_without_the_sections(tmp_path: Path) -> None:
    """No [schedule] / [retention]: registry defaults, 1 h password floor, 90 days / 2 years."""
    config = load(tmp_path, "")

    assert ScheduleConfig() == config.schedule
    assert RetentionConfig(probe_results_days=90, daily_stats_days=730, batch_rows=500) == (
        config.retention
    )


def test_intervals_globally_and_per_identity(tmp_path: Path) -> None:
    """Job keys are generated from the registry; per-identity keys land per identity."""
    config = load(
        tmp_path,
        """
[schedule]
probe_interval_seconds = 600
probe_jitter_seconds = 0
retention_interval_seconds = 43200
password_probe_interval_seconds = 7200
stop_timeout_seconds = 15

[schedule.identities.app]
probe_interval_seconds = 120

[schedule.identities.svc]
probe_interval_seconds = 7200

[retention]
probe_results_days = 30
daily_stats_days = 365
batch_rows = 100
""",
    )

    assert {"probe": 600.0, "retention": 43200.0} == config.schedule.intervals
    assert {"probe": 0.0} == config.schedule.jitters
    assert {"app": {"probe": 120.0}, "svc": {"probe": 7200.0}} == (
        config.schedule.identity_intervals
    )
    assert 7200 == config.schedule.password_probe_interval_seconds
    assert 15 == config.schedule.stop_timeout_seconds
    assert RetentionConfig(30, 365, 100) == config.retention


def test_password_identity_below_the_floor_is_refused(tmp_path: Path) -> None:
    """Asking for a password probe every 5 minutes is a lockout risk, said before anything runs."""
    found = problems(tmp_path, "[schedule.identities.svc]\nprobe_interval_seconds = 300\n")

    assert 1 == len(found)
    assert found[0].startswith(
        "schedule.identities.svc.probe_interval_seconds: expected at least 3600 seconds for a "
        "password identity, found 300"
    )


def test_schedule_for_an_unknown_identity_is_refused(tmp_path: Path) -> None:
    """A typo in the identity name would silently schedule nothing."""
    found = problems(tmp_path, "[schedule.identities.ap]\nprobe_interval_seconds = 300\n")

    assert [
        "schedule.identities.ap: expected the name of one of the [identities.NAME] tables "
        "(app, svc), found \"ap\"; hint: did you mean 'app'?"
    ] == found


@pytest.mark.parametrize(
    ("extra", "start"),
    [
        ("[schedule]\nprobe_interval_seconds = 0\n", "schedule.probe_interval_seconds: expected"),
        ("[schedule]\nprobe_jitter_seconds = -1\n", "schedule.probe_jitter_seconds: expected"),
        ("[schedule]\nprobe_every = 5\n", "schedule.probe_every: expected one of the keys"),
        ("[retention]\nprobe_results_days = 1.5\n", "retention.probe_results_days: expected"),
        (
            "[schedule.identities.app]\nretention_interval_seconds = 5\n",
            "schedule.identities.app.retention_interval_seconds: expected one of the keys",
        ),
    ],
)
def test_bad_values_are_problems(tmp_path: Path, extra: str, start: str) -> None:
    """Zero intervals, negative jitter, unknown keys, fractional days and global-only jobs per
    identity are all reported."""
    found = problems(tmp_path, extra)

    assert any(line.startswith(start) for line in found), found
