"""When the daemon's ``evaluate`` job has something to evaluate (:class:`EvaluationGate`).

A full evaluation (probe, posture and usage findings into incident transitions) reads the state
of every identity: about 0.7 s of CPU for 1,000 identities. Run every minute regardless, it
would cost more than all the probes of the default schedule, while most minutes nothing it reads
has changed in a way that matters. The gate says when it does (and the heartbeat URL is pinged
on every tick, run or skipped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from monitor.model.outcomes import Outcome
from monitor.model.probes import IdentityState, ProbeResult

if TYPE_CHECKING:
    from monitor.config.model import Config


class EvaluationGate:
    """Whether a full evaluation is due. It is:

    * after a *notable* result was committed: any outcome other than "ok" (a failure opens or
      escalates an incident at once; "cannot verify" counts failures), or an "ok" within the
      first ``resolve_after_successes`` of its streak (a recovery resolves an incident);
    * after something else the findings depend on was refreshed in this process (:meth:`mark`):
      a directory read, a usage refresh, a configuration reload;
    * at least every ``full_interval_seconds`` (15 minutes by default) in any case: findings
      that follow the clock (expiry ladders, reminders, projections, headroom seen in "ok"
      answers) and what other processes wrote (``monitor usage import``) are never more than
      that late. Acks and silences need no evaluation of their own: every evaluation reads
      them;
    * on the first tick after start.

    Thread-safe: results are observed by the result writer, marks come from job threads, and
    the evaluate job asks :meth:`due` / :meth:`begin` / :meth:`done`.
    """

    def __init__(
        self,
        *,
        resolve_after_successes: int,
        full_interval_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._resolve_after = max(1, resolve_after_successes)
        self._full_interval = full_interval_seconds
        self._monotonic = monotonic
        self._streaks: dict[tuple[str, str], int] = {}
        self._generation = 0  # bumped by every notable event
        self._evaluated_generation = -1  # nothing evaluated yet: the first tick runs
        self._last_full: float | None = None

    def seed(self, states: Iterable[IdentityState]) -> None:
        """Start each pair's "ok" streak from the stored state (call once at start)."""
        with self._lock:
            for state in states:
                self._streaks[(state.identity, state.environment)] = state.consecutive_successes

    def configure(self, *, resolve_after_successes: int, full_interval_seconds: float) -> None:
        """Apply a reloaded configuration."""
        with self._lock:
            self._resolve_after = max(1, resolve_after_successes)
            self._full_interval = full_interval_seconds

    def observe(self, results: Iterable[ProbeResult]) -> None:
        """Note committed results (in start order); a notable one makes the next tick run."""
        notable = False
        with self._lock:
            for result in results:
                key = (result.identity, result.environment)
                if result.outcome is Outcome.OK:
                    streak = self._streaks.get(key, 0) + 1
                    self._streaks[key] = streak
                    if streak <= self._resolve_after:
                        notable = True
                else:
                    self._streaks[key] = 0
                    notable = True
            if notable:
                self._generation += 1

    def mark(self) -> None:
        """Something the findings read was refreshed (directory, usage, reload)."""
        with self._lock:
            self._generation += 1

    def due(self) -> str | None:
        """Return why the next evaluation must run now, or None if it may be skipped."""
        with self._lock:
            if self._last_full is None:
                return "start"
            if self._generation != self._evaluated_generation:
                return "change"
            if self._monotonic() - self._last_full >= self._full_interval:
                return "interval"
            return None

    def begin(self) -> int:
        """Record that an evaluation starts now; return the token for :meth:`done`."""
        with self._lock:
            return self._generation

    def done(self, token: int) -> None:
        """Record that the evaluation begun with *token* committed: what was notable before it
        began is evaluated (a result committed meanwhile keeps the next tick due)."""
        with self._lock:
            self._evaluated_generation = token
            self._last_full = self._monotonic()


def resolve_after(config: Config) -> int:
    """The largest ``resolve_after_successes`` of the global, per-identity and per-tag rules:
    an "ok" within that many of its streak may resolve an incident."""
    values = [config.alerts.rules.resolve_after_successes]
    for overrides in (*config.alerts.identity_rules.values(), *config.alerts.tag_rules.values()):
        value = overrides.get("resolve_after_successes")
        if isinstance(value, int):
            values.append(value)
    return max(values)


def gate_for(config: Config) -> EvaluationGate:
    """Return a gate with the configuration's rules (seed it before the first results)."""
    return EvaluationGate(
        resolve_after_successes=resolve_after(config),
        full_interval_seconds=config.schedule.full_evaluation_interval_seconds,
    )
