"""The job registry: every entry is schedulable, configurable and documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config.model import JOB_TIMINGS
from monitor.config.schedule import SCHEDULE
from monitor.daemon.jobs import EXECUTORS, JOBS

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


@pytest.mark.parametrize("name", list(JOBS))
def test_every_job_is_well_formed(name: str) -> None:
    """A job has a word for a name, a positive interval, a known pool and a callable."""
    spec = JOBS[name]

    assert re.fullmatch(r"[a-z]+", name)
    assert spec.timing is JOB_TIMINGS[name]
    assert spec.timing.interval_seconds > 0
    assert 0 <= spec.timing.jitter_seconds < spec.timing.interval_seconds
    assert spec.executor in EXECUTORS
    assert spec.timing.scope in ("identity", "global")
    assert callable(spec.run)
    assert spec.timing.description


def test_the_registry_runs_every_job_the_configuration_knows() -> None:
    """[schedule] and the daemon name the same jobs: none configurable but never run, none run
    without configuration keys."""
    assert set(JOB_TIMINGS) == set(JOBS)


@pytest.mark.parametrize("name", list(JOBS))
def test_every_job_has_configuration_keys_and_an_example(name: str) -> None:
    """[schedule] knows NAME_interval_seconds / NAME_jitter_seconds, and the example shows them."""
    text = EXAMPLE.read_text(encoding="utf-8")

    for key in (f"{name}_interval_seconds", f"{name}_jitter_seconds"):
        assert key in SCHEDULE.fields
        assert re.search(rf"^#? ?{key} = ", text, re.MULTILINE), key


def test_probe_is_per_identity_on_the_probe_pool() -> None:
    """Probes are network-bound and per identity; defaults are 15 min with a minute of jitter."""
    probe = JOBS["probe"]

    assert ("identity", "probes", 900, 60) == (
        probe.timing.scope,
        probe.executor,
        probe.timing.interval_seconds,
        probe.timing.jitter_seconds,
    )


def test_heartbeat_has_a_pool_of_its_own() -> None:
    """Nothing else runs on the watchdog pool, so busy probes cannot starve the heartbeat."""
    assert ["heartbeat"] == [name for name, spec in JOBS.items() if spec.executor == "watchdog"]
