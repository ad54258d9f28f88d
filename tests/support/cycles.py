"""The real pipeline at simulated times, against the simulator: as ``monitor check`` runs it
(:meth:`Cycles.check`) and as the daemon's scheduled jobs do (:meth:`Cycles.daemon`).

Only the clock is simulated: probes sign in with the real msal over HTTPS, directory reads go to
the simulated Graph and Dataverse, results and incidents land in a real SQLite file, and notices
are delivered by the real apprise to the receivers the configuration names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.config import Config
from monitor.daemon.evaluation import EvaluationGate
from monitor.daemon.jobs import JOBS, JobContext
from monitor.daemon.status import DaemonStatus
from monitor.model.incidents import IncidentRecord
from monitor.model.outbox import OutboxRecord
from monitor.pipeline import steps
from monitor.pipeline.steps import CycleContext, CycleResult
from monitor.store import Store


class Clock:
    """A wall clock that moves only when told to (starts at the real time: the simulator's
    secrets and certificates end relative to it)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now(UTC)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def monotonic(self) -> float:
        return self.now.timestamp()


@dataclass
class Cycles:
    """One configuration, its store and a simulated clock; every step the real one."""

    config: Config
    store: Store
    clock: Clock = field(default_factory=Clock)
    fingerprint_key: bytes = b"k" * 32
    _context: CycleContext | None = None
    _next_run: dict[str, datetime] = field(default_factory=dict)
    _gate: EvaluationGate | None = None

    @property
    def context(self) -> CycleContext:
        if self._context is None:
            self._context = CycleContext.build(
                self.config, self.store, fingerprint_key=self.fingerprint_key, clock=self.clock
            )
        return self._context

    def check(self, *, directory: bool = True, notify: bool = True) -> CycleResult:
        """One ``monitor check`` at the clock's time: probes, due directory reads, usage,
        evaluation and (with *notify*) delivery."""
        return steps.run_cycle(
            self.context,
            list(self.config.identities.values()),
            notify=notify,
            directory=directory,
        )

    def daemon(self, minutes: int) -> None:
        """Run the daemon for *minutes* of simulated time, a minute per tick: each identity's
        probe job every 15 minutes (a password identity hourly), the directory job every 5
        minutes, usage hourly, then the evaluate job (behind the daemon's evaluation gate) and
        the dispatch job. The clock ends *minutes* later."""
        if self._gate is None:
            self._gate = EvaluationGate(
                resolve_after_successes=self.config.alerts.rules.resolve_after_successes,
                full_interval_seconds=self.config.schedule.full_evaluation_interval_seconds,
                monotonic=self.clock.monotonic,
            )
        status = DaemonStatus(identities=len(self.config.identities))
        job = JobContext(cycle=self.context, status=status, evaluation=self._gate)
        for _ in range(minutes):
            for identity in self.config.identities.values():
                every = 60 if identity.kind == "user" else 15
                if self._due(f"probe:{identity.name}", every):
                    JOBS["probe"].run(JobContext(self.context, status, identity=identity))
                    self._gate.mark()
            if self._due("directory", 5):
                JOBS["directory"].run(job)
            if self._due("usage", 60):
                JOBS["usage"].run(job)
            JOBS["evaluate"].run(job)
            JOBS["dispatch"].run(job)
            self.clock.advance(minutes=1)

    def _due(self, name: str, every_minutes: int) -> bool:
        now = self.clock()
        if self._next_run.get(name, now) > now:
            return False
        self._next_run[name] = now + timedelta(minutes=every_minutes)
        return True

    def incidents(self, *, open_only: bool = True) -> list[IncidentRecord]:
        """Incidents, oldest first."""
        return self.store.alerting.incidents(open_only=open_only)[::-1]

    def notices(self) -> list[OutboxRecord]:
        """Every outbox row (one per notice and channel), oldest first."""
        return self.store.alerting.outbox()
