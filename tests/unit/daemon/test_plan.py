"""Intervals, the password floor, and first runs that follow the stored history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from support.daemon import make_config

from monitor.config.model import Config, ScheduleConfig
from monitor.daemon.jobs import JOBS
from monitor.daemon.plan import STARTUP_SPREAD_SECONDS, PlannedJob, first_run, plan_jobs

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def by_id(config: Config, **kwargs: float) -> dict[str, PlannedJob]:
    return {job.job_id: job for job in plan_jobs(config, JOBS, **kwargs)}


def test_defaults_probe_every_15_minutes_and_passwords_hourly() -> None:
    """Per-identity jobs are one per identity; the password identity gets the floor."""
    jobs = by_id(make_config())

    assert 900 == jobs["probe:app"].interval_seconds
    assert 3600 == jobs["probe:user"].interval_seconds
    assert 86400 == jobs["retention"].interval_seconds
    assert "probes" == jobs["probe:app"].executor
    assert "watchdog" == jobs["heartbeat"].executor
    global_jobs = {name for name, spec in JOBS.items() if spec.timing.scope == "global"}
    assert {"probe:app", "probe:user"} | global_jobs == set(jobs)


def test_global_and_per_identity_intervals() -> None:
    """A per-identity interval wins over the global one, which wins over the default."""
    schedule = ScheduleConfig(
        intervals={"probe": 600, "retention": 3600},
        identity_intervals={"app": {"probe": 120}},
    )
    jobs = by_id(make_config(schedule))

    assert 120 == jobs["probe:app"].interval_seconds
    assert 3600 == jobs["probe:user"].interval_seconds
    assert 3600 == jobs["retention"].interval_seconds


def test_password_floor_applies_to_every_source_of_interval() -> None:
    """Even a per-identity interval below the floor is raised to it (the config check refuses
    such a file; this is the second line of defence)."""
    schedule = ScheduleConfig(
        identity_intervals={"user": {"probe": 60}}, password_probe_interval_seconds=7200
    )

    assert 7200 == by_id(make_config(schedule))["probe:user"].interval_seconds


def test_jitter_is_capped_at_a_quarter_interval() -> None:
    """A 60 s jitter on a 20 s interval would make the interval meaningless."""
    schedule = ScheduleConfig(intervals={"probe": 20}, jitters={"probe": 60})

    assert 5 == by_id(make_config(schedule))["probe:app"].jitter_seconds


def test_heartbeat_follows_the_watchdog() -> None:
    """The daemon passes the heartbeat interval derived from WATCHDOG_USEC."""
    heartbeat = by_id(make_config(), heartbeat_seconds=0.5)["heartbeat"]

    assert (0.5, 0.0) == (heartbeat.interval_seconds, heartbeat.jitter_seconds)


def test_first_run_after_a_restart_waits_for_the_interval() -> None:
    """An identity probed 10 minutes ago with a 60-minute interval runs 50 minutes from now."""
    job = by_id(make_config())["probe:user"]

    start = first_run(job, now=NOW, last_run=NOW - timedelta(minutes=10), rng=random.Random(1))

    assert NOW + timedelta(minutes=50) == start


def test_overdue_and_new_jobs_spread_over_the_first_minute() -> None:
    """1,000 never-probed identities do not fire at the same instant."""
    job = by_id(make_config())["probe:app"]
    rng = random.Random(7)

    starts = [first_run(job, now=NOW, last_run=None, rng=rng) for _ in range(1000)]
    overdue = first_run(job, now=NOW, last_run=NOW - timedelta(days=1), rng=rng)

    assert all(NOW <= s <= NOW + timedelta(seconds=STARTUP_SPREAD_SECONDS) for s in starts)
    assert len({s.second for s in starts}) > 50
    assert NOW <= overdue <= NOW + timedelta(seconds=STARTUP_SPREAD_SECONDS)


def test_a_last_run_in_the_future_does_not_postpone_the_first_run() -> None:
    """After the clock was a day ahead and is set right, the stored probe times lie in the
    future: the identity is probed within the start-up spread, not a day (or an interval)
    later."""
    job = by_id(make_config())["probe:app"]

    start = first_run(job, now=NOW, last_run=NOW + timedelta(days=1), rng=random.Random(3))

    assert NOW <= start <= NOW + timedelta(seconds=STARTUP_SPREAD_SECONDS)


def test_heartbeat_runs_at_once() -> None:
    """The watchdog needs a beat from the start."""
    job = by_id(make_config())["heartbeat"]

    assert NOW == first_run(job, now=NOW, last_run=None, rng=random.Random(0))
