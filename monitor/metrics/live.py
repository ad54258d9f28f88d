"""What only the running daemon knows, kept in memory for the metrics endpoint (thread-safe).

The daemon's jobs feed :class:`LiveMetrics`: each finished probe pass (durations, throttled
answers), each dispatch (notices sent, failed, dead-lettered) and each job run (when, how long,
whether it failed). Counters start at zero with the process, as Prometheus counters do.
Nothing here holds a message, an error text or a secret: only names from the configuration,
outcome classes and numbers.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult

# Probe duration buckets (seconds): a sign-in and a WhoAmI take 0.2-2 s; the default probe
# deadline is 30 s.
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Delivery(Protocol):
    """One message to one channel (:class:`monitor.notify.dispatch.ChannelDelivery`)."""

    @property
    def channel(self) -> str: ...

    @property
    def rows(self) -> int: ...

    @property
    def delivered(self) -> bool: ...


class Dispatched(Protocol):
    """What one dispatch did (:class:`monitor.notify.dispatch.DispatchResult`)."""

    @property
    def dead(self) -> int: ...

    @property
    def deliveries(self) -> tuple[Delivery, ...]: ...


@dataclass(frozen=True)
class Histogram:
    """Counts per bucket (not yet cumulative; the last is above every bound), a sum and a
    count. Immutable: an observation makes a new one, so a scrape's copy costs nothing."""

    buckets: tuple[int, ...] = (0,) * (len(DURATION_BUCKETS) + 1)
    total: float = 0.0
    count: int = 0

    def observed(self, seconds: float) -> Histogram:
        index = bisect.bisect_left(DURATION_BUCKETS, seconds)
        buckets = (*self.buckets[:index], self.buckets[index] + 1, *self.buckets[index + 1 :])
        return Histogram(buckets, self.total + seconds, self.count + 1)

    def cumulative(self) -> list[tuple[str, int]]:
        """Return ``(le, cumulative count)`` pairs, ``+Inf`` last."""
        pairs: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.buckets, strict=True):
            running += count
            pairs.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return pairs


_EMPTY = Histogram()


@dataclass(frozen=True)
class JobRun:
    """The newest run of one job: when it started (wall clock, seconds since the epoch), how
    long it took, and how many runs and failures since start."""

    started: float
    seconds: float
    runs: int
    failures: int


@dataclass(frozen=True)
class LiveSnapshot:
    """A consistent copy of :class:`LiveMetrics` for one scrape."""

    durations: dict[tuple[str, str, str], Histogram]
    throttled: dict[tuple[str, str, str], int]
    sent: dict[str, int]
    failed: dict[str, int]
    dead: int
    jobs: dict[str, JobRun]


class LiveMetrics:
    """In-memory counters the daemon's threads feed and a scrape copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (identity, environment, tenant) -> probe durations / throttled answers
        self._durations: dict[tuple[str, str, str], Histogram] = {}
        self._throttled: dict[tuple[str, str, str], int] = {}
        self._sent: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._dead = 0
        self._jobs: dict[str, JobRun] = {}

    def record_pass(self, results: Iterable[ProbeResult]) -> None:
        """Count the results of one probe pass: attempted ones by duration, throttled answers.

        A held result (no request sent) is neither a duration nor an answer.
        """
        with self._lock:
            for result in results:
                if not result.attempted:
                    continue
                key = (result.identity, result.environment, result.tenant)
                histogram = self._durations.get(key, _EMPTY)
                self._durations[key] = histogram.observed(max(0, result.duration_ms) / 1000)
                if result.outcome is Outcome.THROTTLED:
                    self._throttled[key] = self._throttled.get(key, 0) + 1
                else:
                    self._throttled.setdefault(key, 0)

    def record_dispatch(self, result: Dispatched) -> None:
        """Count what one dispatch delivered, failed to deliver, and dead-lettered."""
        with self._lock:
            for delivery in result.deliveries:
                counts = self._sent if delivery.delivered else self._failed
                counts[delivery.channel] = counts.get(delivery.channel, 0) + delivery.rows
            self._dead += result.dead

    def record_job(self, job: str, started: float, seconds: float, *, failed: bool) -> None:
        """Record one run of *job* (a registry name, never an identity) that started at
        *started* (seconds since the epoch) and took *seconds*."""
        with self._lock:
            before = self._jobs.get(job)
            runs = (before.runs if before else 0) + 1
            failures = (before.failures if before else 0) + int(failed)
            self._jobs[job] = JobRun(started, seconds, runs, failures)

    def forget_identities(self, keep: Iterable[str]) -> None:
        """Drop the series of identities no longer configured (after a reload)."""
        names = set(keep)
        with self._lock:
            for table in (self._durations, self._throttled):
                for key in [key for key in table if key[0] not in names]:
                    del table[key]

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return LiveSnapshot(
                durations=dict(self._durations),
                throttled=dict(self._throttled),
                sent=dict(self._sent),
                failed=dict(self._failed),
                dead=self._dead,
                jobs=dict(self._jobs),
            )
